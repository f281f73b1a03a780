/** `serve` over HTTPS with cert and key files from the config, through the real CLI. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { workspace } from '../e2e/helpers.js';
import { serveCli, type Serving } from './cli.js';

const TOKEN = 'tls-token-0123456789abcdef';
let server: Serving | undefined;
afterEach(async () => {
  if (server && server.child.exitCode === null) await server.stop();
  server = undefined;
});

describe('serve with TLS', () => {
  it('answers over HTTPS with the configured certificate; plain HTTP gets no SCIM answer', async () => {
    const dir = await workspace();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    await writeFile(join(dir, 'scim-sync.config.yaml'), 'state: ./s.db\nserver:\n  tls: { cert: ./cert.pem, key: ./key.pem }\n');
    server = await serveCli(dir, { SCIM_SYNC_TOKEN: TOKEN });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/scim\/v2$/);
    const dispatcher = new Agent({ connect: { ca: readFileSync(join(dir, 'cert.pem')) } });
    try {
      const res = await request(`${server.url}/ServiceProviderConfig`, { headers: { authorization: `Bearer ${TOKEN}` }, dispatcher });
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { etag: { supported: boolean } }).etag.supported).toBe(true);
      const plain = await request(`${server.url.replace('https:', 'http:')}/ServiceProviderConfig`, { headers: { authorization: `Bearer ${TOKEN}` } }).then(
        async (r) => r.statusCode,
        () => 'refused',
      );
      expect(plain).not.toBe(200);
    } finally {
      await dispatcher.close();
    }
    expect((await server.stop()).code).toBe(0);
  });

  it('an unreadable certificate file is an error naming its config path', async () => {
    const dir = await workspace();
    await writeFile(join(dir, 'scim-sync.config.yaml'), 'state: ./s.db\nserver:\n  tls: { cert: ./missing.pem, key: ./missing-key.pem }\n');
    const { runCli } = await import('../e2e/helpers.js');
    const r = await runCli(['serve'], { cwd: dir, env: { SCIM_SYNC_TOKEN: TOKEN } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/server\.tls\.cert: cannot read .*missing\.pem/);
  });
});
