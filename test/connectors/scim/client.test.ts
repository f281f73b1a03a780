import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { clearSecrets } from '../../../src/core/secrets.js';
import { ScimClient, parseRetryAfter } from '../../../connectors/scim/client.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import type { ScimConfigInput } from '../../../connectors/scim/config.js';
import { sendJson, startServer } from './http-server.js';
import type { TestServer } from './http-server.js';

let server: TestServer;
const clients: ScimClient[] = [];
let sleeps: number[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  sleeps = [];
  clearSecrets();
});

function client(overrides: Partial<ScimConfigInput> = {}, baseUrl = `${server.url}/scim/v2`): ScimClient {
  const config = scimConfigSchema.parse({ baseUrl, auth: { bearer: 'sekret-token-123' }, retry: { attempts: 4, baseDelay: 100, maxDelay: 5_000 }, ...overrides });
  const c = new ScimClient(config, {
    logger: silentLogger,
    configDir: '.',
    connections: 4,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
  });
  clients.push(c);
  return c;
}

async function caught(p: Promise<unknown>): Promise<RemoteError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RemoteError);
    return err as RemoteError;
  }
  throw new Error('expected a RemoteError');
}

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP-dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('ScimClient', () => {
  it('sends JSON with the auth header under the base path', async () => {
    server.handle((req, res) => sendJson(res, 201, { id: 'u1', echo: req.body }));
    const res = await client().request('POST', '/Users', { object: 'create user a', body: { userName: 'a' }, query: { x: 1, y: undefined } });
    expect(res).toMatchObject({ status: 201, body: { id: 'u1', echo: { userName: 'a' } } });
    expect(server.seen[0]).toMatchObject({ method: 'POST', url: '/scim/v2/Users?x=1' });
    expect(server.seen[0]!.headers.authorization).toBe('Bearer sekret-token-123');
    expect(server.seen[0]!.headers['content-type']).toBe('application/scim+json');
  });

  it('honours Retry-After on 429 (seconds, capped HTTP-date) then succeeds', async () => {
    server.handle((_req, res, n) => {
      if (n === 1) return sendJson(res, 429, { detail: 'slow down' }, { 'retry-after': '2' });
      if (n === 2) return sendJson(res, 429, { detail: 'slow down' }, { 'retry-after': new Date(Date.now() + 3_600_000).toUTCString() });
      sendJson(res, 200, { ok: true });
    });
    const res = await client().request('POST', '/Users', { object: 'create user a', body: {} });
    expect(res.body).toEqual({ ok: true });
    expect(sleeps).toEqual([2_000, 5_000]);
    expect(server.seen).toHaveLength(3);
  });

  it('retries 503 with exponential backoff, and gives up after the configured attempts', async () => {
    server.handle((_req, res) => sendJson(res, 503, { status: '503', detail: 'maintenance' }));
    const err = await caught(client().request('GET', '/Users', { object: 'list users' }));
    expect(server.seen).toHaveLength(4);
    expect(sleeps).toEqual([100, 200, 400]);
    expect(err).toMatchObject({ status: 503, transient: true });
    expect(err.message).toBe('list users: 503: maintenance');
  });

  it('retries a 500 for GET but not for POST', async () => {
    server.handle((_req, res, n) => (n === 1 ? sendJson(res, 500, { detail: 'oops' }) : sendJson(res, 200, {})));
    await client().request('GET', '/Users/u1', { object: 'read user u1' });
    expect(server.seen).toHaveLength(2);
    server.handle((_req, res) => sendJson(res, 500, { detail: 'oops' }));
    const err = await caught(client().request('POST', '/Users', { object: 'create user a', body: {} }));
    expect(server.seen).toHaveLength(1);
    expect(err.status).toBe(500);
  });

  it('retries a GET whose connection is reset mid-body', async () => {
    server.handle((_req, res, n) => {
      if (n === 1) {
        res.writeHead(200, { 'content-type': 'application/scim+json', 'content-length': '1000' });
        res.write('{"Resources":[');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      sendJson(res, 200, { totalResults: 0 });
    });
    const res = await client().request('GET', '/Users', { object: 'list users' });
    expect(res.body).toEqual({ totalResults: 0 });
    expect(server.seen).toHaveLength(2);
  });

  it('does not retry a POST once the request was sent', async () => {
    server.handle((_req, res) => {
      res.socket?.destroy();
    });
    const err = await caught(client().request('POST', '/Users', { object: 'create user a', body: { userName: 'a' } }));
    expect(server.seen).toHaveLength(1);
    expect(err.object).toBe('create user a');
    expect(err.transient).toBe(true);
  });

  it('retries a POST that never reached the server (connection refused)', async () => {
    const dead = await startServer();
    const url = dead.url;
    await dead.close();
    const err = await caught(client({}, `${url}/scim/v2`).request('POST', '/Users', { object: 'create user a', body: {} }));
    expect(err.detail).toContain('ECONNREFUSED');
    expect(err.detail).toContain('after 4 attempts');
  });

  it('retries a GET whose response is slower than the headers timeout, but not a POST', async () => {
    server.handle((_req, res, n) => {
      if (n === 1) {
        // undici's timers tick at ~0.5 s, so "too late" must be well past that.
        setTimeout(() => sendJson(res, 200, { late: true }), 2_000);
        return;
      }
      sendJson(res, 200, { late: false });
    });
    const fast = client({ timeouts: { headers: 100 } });
    expect((await fast.request('GET', '/Users', { object: 'list users' })).body).toEqual({ late: false });
    server.handle((_req, res) => {
      setTimeout(() => sendJson(res, 201, { id: 'late' }), 2_000);
    });
    const err = await caught(fast.request('POST', '/Users', { object: 'create user a', body: {} }));
    expect(err.detail).toContain('UND_ERR_HEADERS_TIMEOUT');
    expect(server.seen).toHaveLength(1);
  });

  it('warns once when TLS verification is turned off', async () => {
    const warnings: string[] = [];
    const config = scimConfigSchema.parse({ baseUrl: server.url, auth: { bearer: 'tls-token' }, tls: { insecure: true } });
    const c = new ScimClient(config, { logger: { ...silentLogger, warn: (m) => warnings.push(m) }, configDir: '.', connections: 1 });
    clients.push(c);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('TLS certificate verification is OFF');
  });

  it('hands back accepted statuses instead of throwing', async () => {
    server.handle((_req, res) => sendJson(res, 404, { status: '404', detail: 'gone' }));
    const res = await client().request('DELETE', '/Users/x', { object: 'delete user x', accept: [404] });
    expect(res.status).toBe(404);
  });

  it('describes non-JSON error pages', async () => {
    server.handle((_req, res) => {
      res.writeHead(400, { 'content-type': 'text/html' });
      res.end('<h1>Bad request</h1>');
    });
    const err = await caught(client().request('GET', '/Users', { object: 'list users' }));
    expect(err.detail).toBe('400: <h1>Bad request</h1>');
  });

  it('never puts the bearer token (or basic credentials) in an error message', async () => {
    server.handle((req, res) => sendJson(res, 400, { detail: `bad request with Authorization: ${String(req.headers.authorization)}` }));
    const err = await caught(client().request('GET', '/Users', { object: 'list users' }));
    expect(err.message).not.toContain('sekret-token-123');
    expect(err.message).toContain('[REDACTED]');
    const basic = client({ auth: { basic: { username: 'svc', password: 'pa55word!' } } });
    const err2 = await caught(basic.request('GET', '/Users', { object: 'list users' }));
    expect(err2.message).not.toContain(Buffer.from('svc:pa55word!').toString('base64'));
    expect(server.seen.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from('svc:pa55word!').toString('base64')}`);
  });

  it('sends a custom auth header', async () => {
    server.handle((_req, res) => sendJson(res, 200, {}));
    await client({ auth: { header: { name: 'X-Api-Key', value: 'key-abcdef' } } }).request('GET', '/Users', { object: 'list users' });
    expect(server.seen[0]!.headers['x-api-key']).toBe('key-abcdef');
    expect(server.seen[0]!.headers.authorization).toBeUndefined();
  });

  describe('OAuth2 client credentials', () => {
    const oauth = () => ({
      auth: { oauth2: { tokenUrl: `${server.url}/token`, clientId: 'cid', clientSecret: 'client-secret-xyz', scope: 'scim' } },
    });

    it('fetches a token once, caches it, and refreshes once on 401', async () => {
      let issued = 0;
      server.handle((req, res) => {
        if (req.url === '/token') {
          issued++;
          return sendJson(res, 200, { access_token: `tok-${issued}-abcdef`, token_type: 'Bearer', expires_in: 3600 });
        }
        // The first token is "revoked" after two uses.
        if (req.headers.authorization === 'Bearer tok-1-abcdef' && server.seen.filter((r) => r.url !== '/token').length > 2) {
          return sendJson(res, 401, { detail: 'token revoked' });
        }
        sendJson(res, 200, { auth: req.headers.authorization });
      });
      const c = client(oauth());
      await c.request('GET', '/Users', { object: 'list users' });
      await c.request('GET', '/Users', { object: 'list users' });
      expect(issued).toBe(1);
      const tokenReq = server.seen[0]!;
      expect(tokenReq.body).toBe('grant_type=client_credentials&scope=scim');
      expect(tokenReq.headers.authorization).toBe(`Basic ${Buffer.from('cid:client-secret-xyz').toString('base64')}`);
      const res = await c.request('GET', '/Users', { object: 'list users' });
      expect(res.body).toEqual({ auth: 'Bearer tok-2-abcdef' });
      expect(issued).toBe(2);
      expect(sleeps).toEqual([]);
    });

    it('refreshes only once when the server keeps answering 401, and hides the token', async () => {
      let issued = 0;
      server.handle((req, res) => {
        if (req.url === '/token') {
          issued++;
          return sendJson(res, 200, { access_token: `tok-${issued}-ghijkl`, expires_in: 3600 });
        }
        sendJson(res, 401, { detail: `invalid token ${String(req.headers.authorization)}` });
      });
      const err = await caught(client(oauth()).request('GET', '/Users', { object: 'list users' }));
      expect(issued).toBe(2);
      expect(err.status).toBe(401);
      expect(err.message).not.toMatch(/tok-\d-ghijkl/);
    });

    it('reports a failing token endpoint without the client secret', async () => {
      server.handle((req, res) => sendJson(res, 401, { error: 'invalid_client', error_description: `bad secret ${String(req.body)} client-secret-xyz` }));
      const err = await caught(client(oauth()).request('GET', '/Users', { object: 'list users' }));
      expect(err.object).toBe(`obtain OAuth2 token from ${server.url}/token`);
      expect(err.message).not.toContain('client-secret-xyz');
      expect(err.status).toBe(401);
    });

    it('refreshes a token before it expires', async () => {
      let issued = 0;
      server.handle((req, res) => {
        if (req.url === '/token') return sendJson(res, 200, { access_token: `tok-${++issued}-mnopqr`, expires_in: 1 });
        sendJson(res, 200, {});
      });
      const c = client(oauth());
      await c.request('GET', '/Users', { object: 'list users' });
      await new Promise((r) => setTimeout(r, 600));
      await c.request('GET', '/Users', { object: 'list users' });
      expect(issued).toBe(2);
    });
  });
});
