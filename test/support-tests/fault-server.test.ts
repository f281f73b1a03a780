import { afterEach, describe, expect, test } from 'vitest';
import { Agent, request } from 'undici';
import { startFaultServer } from '../support/fault-server.js';
import type { FaultServer } from '../support/fault-server.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

let srv: FaultServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

async function call(s: FaultServer, method: Method, path: string, body?: unknown, extra: { headersTimeout?: number } = {}) {
  const r = await request(s.baseUrl + path, {
    method,
    headers: { 'content-type': 'application/scim+json', authorization: 'Bearer tok' },
    body: body === undefined ? undefined : JSON.stringify(body),
    ...(extra.headersTimeout !== undefined ? { headersTimeout: extra.headersTimeout } : {}),
  });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

function names(body: Record<string, unknown>): unknown[] {
  return (body.Resources as Record<string, unknown>[]).map((u) => u.userName);
}

describe('fault server: minimal SCIM API', () => {
  test('CRUD, filter, PATCH members, ServiceProviderConfig, auth, counters', async () => {
    srv = await startFaultServer({ token: 'tok' });
    const noAuth = await request(`${srv.baseUrl}/Users`);
    expect(noAuth.statusCode).toBe(401);
    await noAuth.body.text();

    const created = await call(srv, 'POST', '/Users', { userName: 'Alice', active: true });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.headers.location).toBe(`${srv.baseUrl}/Users/${id}`);
    expect((await call(srv, 'POST', '/Users', { userName: 'alice' })).status).toBe(409);

    // userName is caseExact=false here, as RFC 7643 says (unlike scimmy).
    const f = await call(srv, 'GET', `/Users?filter=${encodeURIComponent('userName eq "alice"')}`);
    expect(f.body.totalResults).toBe(1);

    const g = await call(srv, 'POST', '/Groups', { displayName: 'G', members: [] });
    const gid = g.body.id as string;
    const add = await call(srv, 'PATCH', `/Groups/${gid}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
    });
    expect(add.body.members).toEqual([{ value: id }]);
    const rm = await call(srv, 'PATCH', `/Groups/${gid}`, { Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }] });
    expect(rm.body.members).toEqual([]);

    const put = await call(srv, 'PUT', `/Users/${id}`, { userName: 'Alice', active: false });
    expect(put.body.active).toBe(false);
    expect((await call(srv, 'DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await call(srv, 'GET', `/Users/${id}`)).status).toBe(404);
    expect((await call(srv, 'GET', '/ServiceProviderConfig')).body.patch).toEqual({ supported: true });

    expect(srv.counts).toEqual({ GET: 4, POST: 3, PATCH: 2, PUT: 1, DELETE: 1 });
    expect(srv.requests[0]).toEqual({ method: 'GET', path: '/scim/v2/Users' });
  });

  test('honest paging by startIndex and count', async () => {
    srv = await startFaultServer();
    srv.seedUsers(5);
    const p = await call(srv, 'GET', '/Users?startIndex=2&count=2');
    expect(names(p.body)).toEqual(['user000001', 'user000002']);
    expect(p.body).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
    const end = await call(srv, 'GET', '/Users?startIndex=6&count=2');
    expect(end.body.Resources).toEqual([]);
  });
});

describe('fault server: injected faults', () => {
  test('429 with Retry-After in seconds for the next K matching requests, then normal', async () => {
    srv = await startFaultServer({ script: [{ method: 'GET', path: '/Users', times: 2, fault: { kind: 'status', status: 429, retryAfter: 3 } }] });
    const a = await call(srv, 'GET', '/Users');
    const b = await call(srv, 'GET', '/Users');
    const c = await call(srv, 'GET', '/Users');
    expect([a.status, b.status, c.status]).toEqual([429, 429, 200]);
    expect(a.headers['retry-after']).toBe('3');
    expect(a.body.status).toBe('429');
    expect(srv.applied).toHaveLength(2);
  });

  test('429 with an HTTP-date Retry-After, and 503 without one', async () => {
    srv = await startFaultServer();
    const when = new Date(Date.now() + 2000);
    srv.inject({ kind: 'status', status: 429, retryAfter: when });
    srv.inject({ kind: 'status', status: 503 });
    const a = await call(srv, 'GET', '/Users');
    expect(a.status).toBe(429);
    expect(a.headers['retry-after']).toBe(when.toUTCString());
    const b = await call(srv, 'POST', '/Users', { userName: 'x' });
    expect(b.status).toBe(503);
    expect(b.headers['retry-after']).toBeUndefined();
    // The faulted POST had no effect.
    expect(srv.users.size).toBe(0);
  });

  test('reset mid-body: the client gets an error, yet the write happened', async () => {
    srv = await startFaultServer();
    srv.inject({ kind: 'reset-mid-body' }, { method: 'POST' });
    const r = await request(`${srv.baseUrl}/Users`, { method: 'POST', body: JSON.stringify({ userName: 'ghost' }) });
    expect(r.statusCode).toBe(201);
    await expect(r.body.text()).rejects.toThrow();
    expect([...srv.users.values()].map((u) => u.userName)).toEqual(['ghost']);
  });

  test('reset before response: the request itself rejects and nothing is written', async () => {
    srv = await startFaultServer();
    srv.inject({ kind: 'reset-before-response' });
    await expect(request(`${srv.baseUrl}/Users`, { method: 'POST', body: JSON.stringify({ userName: 'n' }) })).rejects.toThrow();
    expect(srv.users.size).toBe(0);
    expect(srv.counts.POST).toBe(1);
  });

  test('delay past the client timeout gives a timeout error; close() does not wait for it', async () => {
    srv = await startFaultServer();
    srv.inject({ kind: 'delay', ms: 10_000 });
    const agent = new Agent({ headersTimeout: 200 });
    try {
      const t0 = Date.now();
      await expect(request(`${srv.baseUrl}/Users`, { dispatcher: agent })).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await agent.close();
    }
    const t1 = Date.now();
    await srv.close();
    srv = undefined;
    expect(Date.now() - t1).toBeLessThan(1000);
  });

  test('a raw handler can answer instead of the built-in API', async () => {
    srv = await startFaultServer((req, res) => {
      if (req.url?.endsWith('/Weird') !== true) return false;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('not json');
      return true;
    });
    const r = await request(`${srv.baseUrl}/Weird`);
    expect(await r.body.text()).toBe('not json');
    expect((await call(srv, 'GET', '/Users')).status).toBe(200);
  });
});

describe('fault server: lying list responses', () => {
  test('wrong totalResults', async () => {
    srv = await startFaultServer({ listLies: { totalResults: 1000 } });
    srv.seedUsers(3);
    const r = await call(srv, 'GET', '/Users?startIndex=1&count=10');
    expect(r.body.totalResults).toBe(1000);
    expect(names(r.body)).toHaveLength(3);
  });

  test('omitted totalResults', async () => {
    srv = await startFaultServer({ listLies: { totalResults: 'omit' } });
    srv.seedUsers(3);
    const r = await call(srv, 'GET', '/Users?count=2');
    expect('totalResults' in r.body).toBe(false);
    expect(names(r.body)).toHaveLength(2);
  });

  test('ignores count and returns everything from startIndex', async () => {
    srv = await startFaultServer({ listLies: { ignoreCount: true } });
    srv.seedUsers(7);
    const r = await call(srv, 'GET', '/Users?startIndex=3&count=2');
    expect(names(r.body)).toHaveLength(5);
    expect(r.body.itemsPerPage).toBe(5);
  });

  test('fewer items than asked although more remain (pageCap)', async () => {
    srv = await startFaultServer({ listLies: { pageCap: 2 } });
    srv.seedUsers(5);
    const r = await call(srv, 'GET', '/Users?startIndex=1&count=4');
    expect(names(r.body)).toEqual(['user000000', 'user000001']);
    expect(r.body).toMatchObject({ totalResults: 5, itemsPerPage: 2 });
    const next = await call(srv, 'GET', '/Users?startIndex=3&count=4');
    expect(names(next.body)).toEqual(['user000002', 'user000003']);
  });

  test('repeats a page', async () => {
    srv = await startFaultServer({ listLies: { repeatPage: { whenStartIndex: 3, serveStartIndex: 1 } } });
    srv.seedUsers(6);
    const p1 = await call(srv, 'GET', '/Users?startIndex=1&count=2');
    const p2 = await call(srv, 'GET', '/Users?startIndex=3&count=2');
    expect(names(p2.body)).toEqual(names(p1.body));
    expect(p2.body.startIndex).toBe(3);
  });

  test('echoes a wrong itemsPerPage; lies can be changed or cleared at runtime', async () => {
    srv = await startFaultServer();
    srv.seedUsers(3);
    srv.setListLies({ itemsPerPage: 50 });
    const lie = await call(srv, 'GET', '/Users?count=2');
    expect(lie.body.itemsPerPage).toBe(50);
    expect(names(lie.body)).toHaveLength(2);
    srv.setListLies(undefined);
    expect((await call(srv, 'GET', '/Users?count=2')).body.itemsPerPage).toBe(2);
  });

  test('excludedAttributes=members drops members from group pages', async () => {
    srv = await startFaultServer();
    srv.groups.set('g1', { id: 'g1', displayName: 'g1', members: [{ value: 'u' }] });
    const r = await call(srv, 'GET', '/Groups?excludedAttributes=members');
    expect((r.body.Resources as Record<string, unknown>[])[0]).toEqual({ id: 'g1', displayName: 'g1' });
  });
});
