/**
 * Security of `serve`: authentication on every route, read-only tokens, bounded bodies, hostile
 * filters and malformed input. Every refusal must be the right 4xx: never a 500, never a crash.
 */
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenChecker } from '../../src/server/auth.js';
import { ADMIN, call, group, patch, q, READER, resources, startTestServer, user, type TestServer } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ maxBodyBytes: 64 * 1024, bulk: { maxOperations: 10, maxPayloadSize: 64 * 1024 } });
  const r = await call(srv, 'POST', '/Users', { body: user('victim@example.com') });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  // No request of any test made the server fail internally.
  expect(srv.logs.filter((l) => l.includes('internal error'))).toEqual([]);
  await srv.close();
});

const ROUTES: [string, string][] = [
  ['GET', '/Users'],
  ['GET', '/Users/some-id'],
  ['POST', '/Users'],
  ['PUT', '/Users/some-id'],
  ['PATCH', '/Users/some-id'],
  ['DELETE', '/Users/some-id'],
  ['GET', '/Groups'],
  ['POST', '/Groups/.search'],
  ['POST', '/.search'],
  ['POST', '/Bulk'],
  ['GET', '/Me'],
  ['GET', '/ServiceProviderConfig'],
  ['GET', '/ResourceTypes'],
  ['GET', '/Schemas'],
  ['GET', '/no/such/route'],
];

describe('authentication', () => {
  it('every route without a token is 401 with WWW-Authenticate', async () => {
    for (const [method, path] of ROUTES) {
      const r = await call(srv, method, path, { token: null, ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }) });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="scim-sync"');
      expect(r.json.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    }
    // Outside the SCIM base path too: nothing is answered without a token.
    const outside = await call({ url: srv.url.replace('/scim/v2', '') }, 'GET', '/anything', { token: null });
    expect(outside.status).toBe(401);
  });

  it('a wrong token, a prefix of a real one, another scheme or an empty bearer are 401 invalid_token', async () => {
    for (const authorization of [`Bearer ${ADMIN}x`, `Bearer ${ADMIN.slice(0, -1)}`, `Basic ${Buffer.from(`u:${ADMIN}`).toString('base64')}`, 'Bearer ', `Bearer  ${READER} extra`]) {
      const r = await call(srv, 'GET', '/Users', { token: null, headers: { authorization } });
      expect(r.status, authorization).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="scim-sync", error="invalid_token"');
    }
    expect((await call(srv, 'GET', '/Users', { token: null, headers: { authorization: `bearer ${ADMIN}` } })).status).toBe(200);
  });

  it('TokenChecker finds each token and nothing else', () => {
    const checker = new TokenChecker([
      { name: 'a', value: 'token-aaaaaaaaaaaaaaaa', readOnly: false },
      { name: 'b', value: 'token-bbbbbbbbbbbbbbbb', readOnly: true },
    ]);
    expect(checker.check('Bearer token-aaaaaaaaaaaaaaaa')).toEqual({ name: 'a', readOnly: false });
    expect(checker.check('Bearer token-bbbbbbbbbbbbbbbb')).toEqual({ name: 'b', readOnly: true });
    expect(checker.check('Bearer token-aaaaaaaaaaaaaaa')).toBeUndefined();
    expect(checker.check(undefined)).toBeUndefined();
    expect(() => new TokenChecker([])).toThrow();
  });

  it('a read-only token reads and searches but every write is 403', async () => {
    expect((await call(srv, 'GET', '/Users', { token: READER })).status).toBe(200);
    expect((await call(srv, 'POST', '/Users/.search', { token: READER, body: { filter: 'userName pr' } })).status).toBe(200);
    const id = String(resources(await call(srv, 'GET', `/Users?filter=${q('userName eq "victim@example.com"')}`))[0]!.id);
    const writes: [string, string, unknown][] = [
      ['POST', '/Users', user('intruder@example.com')],
      ['PUT', `/Users/${id}`, user('victim@example.com', { title: 'owned' })],
      ['PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'owned' })],
      ['DELETE', `/Users/${id}`, undefined],
      ['POST', '/Groups', group('Intruders')],
      ['POST', '/Bulk', { Operations: [{ method: 'POST', path: '/Users', bulkId: 'x', data: user('bulk.intruder@example.com') }] }],
    ];
    for (const [method, path, body] of writes) {
      const r = await call(srv, method, path, { token: READER, ...(body !== undefined ? { body } : {}) });
      expect(r.status, `${method} ${path}`).toBe(403);
    }
    const victim = await call(srv, 'GET', `/Users/${id}`);
    expect(victim.status).toBe(200);
    expect(victim.json.title).toBeUndefined();
    expect((await call(srv, 'GET', `/Users?filter=${q('userName co "intruder"')}`)).json.totalResults).toBe(0);
  });

  it('the access log has one line per request, names the token and never contains a token', async () => {
    const before = srv.logs.length;
    await call(srv, 'GET', '/ServiceProviderConfig');
    await call(srv, 'GET', '/Users?count=1', { token: READER });
    await call(srv, 'GET', '/Users', { token: null, headers: { authorization: 'Bearer guessed-token-value' } });
    const lines = srv.logs.slice(before);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^127\.0\.0\.1 GET \/scim\/v2\/ServiceProviderConfig 200 \d+ [\d.]+ms admin$/);
    expect(lines[1]).toMatch(/ GET \/scim\/v2\/Users\?count=1 200 .* reader$/);
    expect(lines[2]).toMatch(/ 401 .* -$/);
    const all = srv.logs.join('\n');
    expect(all).not.toContain(ADMIN);
    expect(all).not.toContain(READER);
    expect(all).not.toContain('guessed-token-value');
  });
});

describe('bodies', () => {
  it('an oversized body is 413, declared or streamed, and the server keeps serving', async () => {
    const big = JSON.stringify(user('big@example.com', { title: 'x'.repeat(100 * 1024) }));
    const declared = await call(srv, 'POST', '/Users', { rawBody: big });
    expect(declared.status).toBe(413);
    expect(declared.json.status).toBe('413');
    // Chunked, without Content-Length: counted while it arrives.
    const chunks = Readable.from((function* () {
      for (let i = 0; i < 20; i++) yield Buffer.from('x'.repeat(8 * 1024));
    })());
    const streamed = await request(`${srv.url}/Users`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/scim+json' }, body: chunks }).then(
      async (res) => ({ status: res.statusCode, text: await res.body.text() }),
      (err: unknown) => ({ status: 0, text: String(err) }),
    );
    expect(streamed.status, streamed.text).toBe(413);
    expect((await call(srv, 'GET', '/ServiceProviderConfig')).status).toBe(200);
    expect((await call(srv, 'GET', `/Users?filter=${q('userName eq "big@example.com"')}`)).json.totalResults).toBe(0);
  });

  it('malformed JSON, empty bodies, non-objects and wrong content types are 4xx', async () => {
    const cases: [string, Record<string, string>, number, string?][] = [
      ['{"userName": ', {}, 400, 'invalidSyntax'],
      ['', {}, 400, 'invalidSyntax'],
      ['null', {}, 400, 'invalidSyntax'],
      ['"text"', {}, 400, 'invalidSyntax'],
      ['[' .repeat(50_000), {}, 400, 'invalidSyntax'],
      ['userName=x', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
      ['{"userName":"x"}', { 'content-type': 'text/plain' }, 415],
    ];
    for (const [rawBody, headers, status, scimType] of cases) {
      const r = await call(srv, 'POST', '/Users', { rawBody, headers });
      expect(r.status, rawBody.slice(0, 30)).toBe(status);
      expect(r.json.scimType).toBe(scimType);
    }
    const bad = await call(srv, 'PATCH', '/Users/x', { rawBody: '{"Operations": [' });
    expect(bad.status).toBe(400);
  });

  it('__proto__ and constructor keys in bodies change nothing but the data', async () => {
    const r = await call(srv, 'POST', '/Users', {
      rawBody: '{"userName":"proto@example.com","__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"name":{"__proto__":{"givenName":"Evil"}}}',
    });
    expect(r.status).toBe(201);
    expect(r.json.name).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    const p = await call(srv, 'PATCH', `/Users/${String(r.json.id)}`, { body: patch({ op: 'add', value: { __proto__: { polluted: true }, 'constructor.prototype': 'x' } }) });
    expect(p.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('garbage in the URL or the HTTP framing is a 4xx', async () => {
    expect((await call(srv, 'GET', '/Users/%E0%A4%A')).status).toBe(404);
    expect((await call(srv, 'GET', `/Users?startIndex=${'9'.repeat(40)}`)).status).toBe(400);
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(srv.url);
      const socket = connect(Number(url.port), url.hostname, () => socket.write('GARBAGE / HTTP/9.9\r\n\r\n'));
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
  });
});

describe('hostile filters', () => {
  const list = (filter: string) => call(srv, 'GET', `/Users?filter=${q(filter)}`);

  it('injection attempts are values, never SQL', async () => {
    for (const f of [
      'userName eq "x\\" or 1=1"',
      'userName eq "x\' OR \'1\'=\'1"',
      'userName eq "x\\"); DROP TABLE dir_users; --"',
      'userName co "%"',
      'userName sw "_"',
      'userName eq "victim@example.com\\u0000"',
      'title eq "\') OR 1=1 --"',
    ]) {
      const r = await list(f);
      expect(r.status, `${f}: ${r.text}`).toBe(200);
      expect(resources(r).map((u) => u.userName), f).toEqual([]);
    }
    expect((await list('userName eq "victim@example.com"')).json.totalResults).toBe(1);
  });

  it('injection through attribute names, sortBy and attributes is refused', async () => {
    expect((await list('userName) or (1 eq 1')).json.scimType).toBe('invalidFilter');
    expect((await list('userName;DROP eq "x"')).json.scimType).toBe('invalidFilter');
    expect((await list('"userName" eq "x"')).json.scimType).toBe('invalidFilter');
    expect((await call(srv, 'GET', `/Users?sortBy=${q('userName; DROP TABLE dir_users')}`)).json.scimType).toBe('invalidValue');
    expect((await call(srv, 'GET', `/Users?attributes=${q('userName,x) --')}`)).json.scimType).toBe('invalidValue');
    expect((await list('userName eq "victim@example.com"')).json.totalResults).toBe(1);
  });

  it('deep nesting, huge filters and too many terms are 400 invalidFilter', async () => {
    const deep = `${'('.repeat(5000)}userName eq "a"${')'.repeat(5000)}`;
    const notDeep = `${'not ('.repeat(40)}userName eq "a"${')'.repeat(40)}`;
    const manyTerms = Array.from({ length: 300 }, (_, i) => `userName eq "u${i}"`).join(' or ');
    const long = `userName eq "${'a'.repeat(20_000)}"`;
    for (const f of [deep, notDeep, manyTerms]) {
      const r = await list(f);
      expect(r.status).toBe(400);
      expect(r.json.scimType).toBe('invalidFilter');
    }
    // Too long for the server's limit, or for the HTTP request line: either way a 4xx.
    const r = await list(long);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    // A reasonable filter of moderate size still runs.
    const ok = await list(Array.from({ length: 100 }, (_, i) => `userName eq "u${i}"`).join(' or '));
    expect(ok.status).toBe(200);
  });

  it('hostile PATCH paths are refused or ignored, never a crash', async () => {
    const id = String(resources(await list('userName eq "victim@example.com"'))[0]!.id);
    for (const path of [`emails[${'('.repeat(3000)}type eq "x"${')'.repeat(3000)}].value`, 'emails[type eq "x"]]', '__proto__.polluted', 'constructor.prototype.x']) {
      const r = await call(srv, 'PATCH', `/Users/${id}`, { body: patch({ op: 'add', path, value: 'x' }) });
      expect(r.status, path.slice(0, 40)).toBeGreaterThanOrEqual(200);
      expect(r.status).toBeLessThan(500);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
