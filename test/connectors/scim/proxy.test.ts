import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createScimConnector } from '../../../connectors/scim/index.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import type { ScimConfigInput } from '../../../connectors/scim/config.js';
import type { ConnectorContext } from '../../../src/core/connector.js';
import { RemoteError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startFaultServer } from '../../support/fault-server.js';
import type { FaultServer } from '../../support/fault-server.js';
import { startForwardProxy } from '../../support/forward-proxy.js';
import type { ForwardProxy } from '../../support/forward-proxy.js';

/**
 * The connector through a real forward proxy (test/support/forward-proxy.ts): absolute-URI
 * requests for an http target, CONNECT tunnels for an https one (verified against a CA file),
 * from the `proxy` key or from HTTPS_PROXY/HTTP_PROXY, with NO_PROXY and `proxy: false` bypassing it.
 */

const ctx: ConnectorContext = { name: 'app', configDir: '.', statePath: ':memory:', logger: silentLogger, warn: () => {} };
const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const;

let certDir: string;
beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), 'scim-proxy-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
});

const saved: Partial<Record<(typeof PROXY_VARS)[number], string>> = {};
beforeAll(() => {
  for (const v of PROXY_VARS) {
    saved[v] = process.env[v];
    delete process.env[v];
  }
});
afterAll(() => {
  for (const v of PROXY_VARS) {
    if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
  }
});

let server: FaultServer | undefined;
let proxy: ForwardProxy | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const v of PROXY_VARS) delete process.env[v];
  for (const c of closers.splice(0)) await c();
  await proxy?.close();
  await server?.close();
  server = undefined;
  proxy = undefined;
});

function connect(baseUrl: string, extra: Partial<ScimConfigInput> = {}) {
  const config = scimConfigSchema.parse({ baseUrl, auth: { bearer: 'proxy-test-token' }, pageSize: 3, retry: { attempts: 1 }, ...extra });
  const connector = createScimConnector(config, { ...ctx, configDir: certDir }, { sleep: async () => {} });
  closers.push(() => connector.close());
  return connector;
}

async function userNames(connector: ReturnType<typeof connect>): Promise<string[]> {
  const out: string[] = [];
  for await (const u of connector.reader!.listUsers()) out.push(u.userName);
  return out.sort();
}

describe('scim connector behind a forward proxy', () => {
  it('http target, `proxy` key with credentials: absolute-URI requests carrying Proxy-Authorization', async () => {
    server = await startFaultServer({ token: 'proxy-test-token' });
    server.seedUsers(7);
    proxy = await startForwardProxy({ auth: { username: 'svc', password: 'pr0xy-pw' } });
    const connector = connect(server.baseUrl, { proxy: proxy.urlWithAuth });

    expect(await userNames(connector)).toHaveLength(7);
    const created = await connector.writer!.createUser({ userName: 'via-proxy@example.com', active: true });
    expect(server.users.get(created.id)?.userName).toBe('via-proxy@example.com');

    expect(proxy.seen.length).toBeGreaterThanOrEqual(4); // 3 pages + the POST
    expect(proxy.seen.every((r) => r.method !== 'CONNECT' && r.target.startsWith(`${server!.baseUrl}/Users`))).toBe(true);
    expect(proxy.seen.some((r) => r.method === 'POST')).toBe(true);
    const basic = `Basic ${Buffer.from('svc:pr0xy-pw').toString('base64')}`;
    expect(proxy.seen.every((r) => r.proxyAuthorization === basic)).toBe(true);
    // The server got exactly what went through the proxy: nothing went around it.
    expect(server.requests.length).toBe(proxy.seen.length);
  });

  it('https target: one CONNECT tunnel per pooled connection, server verified with tls.caFile, concurrency kept', async () => {
    server = await startFaultServer({ token: 'proxy-test-token', tls: { key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) } });
    server.seedUsers(5);
    proxy = await startForwardProxy();
    const connector = connect(server.baseUrl, { proxy: proxy.url, tls: { caFile: 'cert.pem' }, concurrency: 2 });

    // Twelve reads at once through a pool of two connections.
    const lists = await Promise.all(Array.from({ length: 12 }, () => userNames(connector)));
    for (const l of lists) expect(l).toHaveLength(5);
    const port = new URL(server.baseUrl).port;
    expect(proxy.seen.map((r) => r.method)).toEqual(proxy.seen.map(() => 'CONNECT'));
    expect(proxy.seen.every((r) => r.target === `127.0.0.1:${port}`)).toBe(true);
    expect(proxy.seen.length).toBeGreaterThanOrEqual(1);
    expect(proxy.seen.length).toBeLessThanOrEqual(2);
    expect(server.requests.length).toBe(12 * 2); // 5 users at 3 a page: 2 pages each
  });

  it('https target without the CA file fails verification through the tunnel (TLS options reach the target, not the proxy)', async () => {
    server = await startFaultServer({ tls: { key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) } });
    proxy = await startForwardProxy();
    const connector = connect(server.baseUrl, { proxy: proxy.url });
    const err = await userNames(connector).catch((e: unknown) => e);
    expect(String(err)).toMatch(/certificate/i);
    expect(proxy.seen.map((r) => r.method)).toContain('CONNECT');
    expect(server.requests).toEqual([]);
  });

  it('wrong proxy credentials: a clear error naming the proxy refusal, with no credential in it', async () => {
    server = await startFaultServer();
    proxy = await startForwardProxy({ auth: { username: 'svc', password: 'right-one' } });
    const wrong = proxy.url.replace('http://', 'http://svc:wr0ng-pass@');
    const connector = connect(server.baseUrl, { proxy: wrong });
    const err = await connector.writer!.createUser({ userName: 'x@example.com', active: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(String(err)).toMatch(/407/);
    expect(String(err)).not.toContain('wr0ng-pass');
    expect(server.requests).toEqual([]);
  });

  it('the headers timeout still applies through the proxy', async () => {
    server = await startFaultServer();
    server.inject({ kind: 'delay', ms: 5_000 }, { method: 'GET', path: '/Users' });
    proxy = await startForwardProxy();
    const connector = connect(server.baseUrl, { proxy: proxy.url, timeouts: { headers: 200 } });
    const err = await userNames(connector).catch((e: unknown) => e);
    expect(String(err)).toMatch(/UND_ERR_HEADERS_TIMEOUT|timeout/i);
  });

  it('the OAuth token request goes through the proxy too', async () => {
    server = await startFaultServer((req, res) => {
      if (!req.url?.startsWith('/oauth/token')) return false;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'tok-from-idp', expires_in: 3600 }));
      return true;
    });
    server.seedUsers(1);
    proxy = await startForwardProxy();
    const tokenUrl = `${new URL(server.baseUrl).origin}/oauth/token`;
    const connector = connect(server.baseUrl, { proxy: proxy.url, auth: { oauth2: { tokenUrl, clientId: 'c', clientSecret: 'client-secret-1' } } });
    expect(await userNames(connector)).toHaveLength(1);
    expect(proxy.seen.map((r) => `${r.method} ${r.target}`)).toEqual([`POST ${tokenUrl}`, `GET ${server.baseUrl}/Users?startIndex=1&count=3`]);
  });

  it('HTTP_PROXY from the environment is used when the key is absent; NO_PROXY and `proxy: false` bypass it', async () => {
    server = await startFaultServer();
    server.seedUsers(2);
    proxy = await startForwardProxy();
    process.env.HTTP_PROXY = proxy.url;

    expect(await userNames(connect(server.baseUrl))).toHaveLength(2);
    const viaProxy = proxy.seen.length;
    expect(viaProxy).toBe(1);
    expect(proxy.seen[0]!.target).toBe(`${server.baseUrl}/Users?startIndex=1&count=3`);

    process.env.NO_PROXY = 'localhost,127.0.0.1';
    expect(await userNames(connect(server.baseUrl))).toHaveLength(2);
    expect(proxy.seen.length).toBe(viaProxy);

    delete process.env.NO_PROXY;
    expect(await userNames(connect(server.baseUrl, { proxy: false }))).toHaveLength(2);
    expect(proxy.seen.length).toBe(viaProxy);
    expect(server.requests.length).toBe(3);
  });

  it('HTTPS_PROXY from the environment tunnels an https target; check() names the proxy without credentials', async () => {
    server = await startFaultServer({ tls: { key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) } });
    server.seedUsers(1);
    proxy = await startForwardProxy({ auth: { username: 'envuser', password: 'env-pr0xy-pw' } });
    process.env.HTTPS_PROXY = proxy.urlWithAuth;
    const connector = connect(server.baseUrl, { tls: { caFile: 'cert.pem' } });
    expect(await userNames(connector)).toHaveLength(1);
    expect(proxy.seen[0]!.method).toBe('CONNECT');
    const check = await connector.check();
    const text = check.details.join('\n');
    expect(text).toContain(`through proxy http://***@127.0.0.1:${new URL(proxy.url).port} (from the environment; NO_PROXY applies)`);
    expect(text).not.toContain('env-pr0xy-pw');
  });
});
