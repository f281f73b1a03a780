import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../../src/core/errors.js';
import { REDACTED } from '../../../src/core/secrets.js';
import { ldifEntry, startSlapd } from '../../support/slapd.js';
import type { Slapd } from '../../support/slapd.js';
import { collect, makeConnector, person } from './openldap-fixtures.js';

/**
 * A TCP proxy in front of slapd that can cut a connection after it has passed `cutAfter` bytes
 * from the server: a dropped connection mid-stream, which a real slapd cannot be asked to do.
 */
interface Proxy {
  url: string;
  /** How many of the next connections to cut (Infinity: all). */
  cut(times: number, afterBytes: number): void;
  /** Deliver the server's bytes in small pieces (1–97 bytes), so messages straddle reads. */
  fragment(on: boolean): void;
  connections: number;
  close(): Promise<void>;
}

async function startProxy(targetPort: number): Promise<Proxy> {
  let cutsLeft = 0;
  let cutAfter = 0;
  let fragmenting = false;
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server: Server = createServer((client) => {
    state.connections++;
    const cutThis = cutsLeft > 0;
    if (cutThis) cutsLeft--;
    const upstream = createConnection(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let passed = 0;
    upstream.on('data', (chunk: Buffer) => {
      if (cutThis && passed + chunk.length > cutAfter) {
        client.write(chunk.subarray(0, Math.max(0, cutAfter - passed)));
        client.destroy();
        upstream.destroy();
        return;
      }
      passed += chunk.length;
      if (!fragmenting) {
        client.write(chunk);
        return;
      }
      // Pieces written on later turns of the event loop arrive as separate reads.
      upstream.pause();
      let at = 0;
      const next = () => {
        if (at >= chunk.length || client.destroyed) {
          upstream.resume();
          return;
        }
        const size = 1 + ((at * 7919) % 97);
        client.write(chunk.subarray(at, at + size));
        at += size;
        setImmediate(next);
      };
      next();
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ldap://127.0.0.1:${port}`,
    cut(times, afterBytes) {
      cutsLeft = times;
      cutAfter = afterBytes;
    },
    fragment(on) {
      fragmenting = on;
    },
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('ldap connector (openldap): connections', () => {
  let s: Slapd;
  let proxy: Proxy;
  const USERS = 300;

  beforeAll(async () => {
    s = await startSlapd();
    await s.add(Array.from({ length: USERS }, (_, i) => person(s, `u${String(i).padStart(3, '0')}`)).join('\n'));
    await s.add(ldifEntry(`cn=all,ou=groups,${s.suffix}`, { objectClass: 'groupOfNames', cn: 'all', member: `uid=u000,ou=people,${s.suffix}` }));
    proxy = await startProxy(s.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await s?.cleanup();
  });

  it('reconnects once when the connection drops mid-read and returns the complete listing', async () => {
    const { connector, logs } = makeConnector(s, { url: proxy.url, pageSize: 50 });
    // Cut the first connection after the bind and a couple of pages (~40 KB of entries).
    proxy.cut(1, 30_000);
    const users = await collect(connector.reader!.listUsers());
    await connector.close();
    expect(users).toHaveLength(USERS);
    expect(new Set(users.map((u) => u.id)).size).toBe(USERS);
    expect(logs.some((l) => /connection lost while listing users/.test(l))).toBe(true);
  });

  it('decodes responses that arrive in small pieces, messages straddling reads', async () => {
    const direct = makeConnector(s);
    const expected = await collect(direct.connector.reader!.listUsers());
    await direct.connector.close();
    proxy.fragment(true);
    const { connector } = makeConnector(s, { url: proxy.url, pageSize: 40 });
    try {
      const users = await collect(connector.reader!.listUsers());
      const groups = await collect(connector.reader!.listGroups());
      expect(users).toEqual(expected);
      expect(groups.map((g) => g.displayName)).toEqual(['all']);
    } finally {
      proxy.fragment(false);
      await connector.close();
    }
  });

  it('fails the read with a clear error when the connection drops again, never returning a partial listing', async () => {
    const { connector } = makeConnector(s, { url: proxy.url, pageSize: 50 });
    proxy.cut(Infinity, 30_000);
    let count = 0;
    let caught: unknown;
    try {
      for await (const _ of connector.reader!.listUsers()) count++;
    } catch (err) {
      caught = err;
    }
    proxy.cut(0, 0);
    await connector.close();
    expect(caught).toBeInstanceOf(ConnectorError);
    expect((caught as Error).message).toMatch(/listing users under ou=people,dc=example,dc=org .* failed after reconnecting once: .*listing is incomplete/);
    expect(count).toBeLessThan(USERS);
  });

  it('fails cleanly when slapd dies mid-read', async () => {
    const { connector } = makeConnector(s, { pageSize: 20 });
    let caught: unknown;
    let count = 0;
    try {
      for await (const _ of connector.reader!.listUsers()) {
        if (++count === 1) await s.stop('SIGKILL');
      }
    } catch (err) {
      caught = err;
    }
    await s.start();
    await connector.close();
    expect(caught).toBeInstanceOf(ConnectorError);
    expect((caught as Error).message).toMatch(/failed after reconnecting once: cannot connect to ldap:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('a page that fails while the caller is still busy with the previous one is a clean read error, not an unhandled rejection', async () => {
    const { connector } = makeConnector(s, { pageSize: 20 });
    let caught: unknown;
    let count = 0;
    try {
      for await (const _ of connector.reader!.listUsers()) {
        if (++count === 1) {
          await s.stop('SIGKILL');
          // The next page was already asked for: it fails now, while nobody is awaiting it.
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    } catch (err) {
      caught = err;
    }
    await s.start();
    await connector.close();
    expect(caught).toBeInstanceOf(ConnectorError);
  });

  it('speaks ldaps:// with a CA file', async () => {
    const { connector } = makeConnector(s, { url: s.ldapsUrl, tls: { caFile: s.caFile } });
    expect(await collect(connector.reader!.listUsers())).toHaveLength(USERS);
    await connector.close();
  });

  it('upgrades ldap:// with StartTLS and a CA file', async () => {
    const { connector } = makeConnector(s, { startTLS: true, tls: { caFile: s.caFile } });
    const checked = await connector.check();
    expect(checked.ok).toBe(true);
    expect(await collect(connector.reader!.listGroups())).toHaveLength(1);
    await connector.close();
  });

  it('refuses a certificate it cannot verify', async () => {
    const { connector } = makeConnector(s, { url: s.ldapsUrl });
    await expect(collect(connector.reader!.listUsers())).rejects.toThrow(/cannot connect to ldaps:\/\/127\.0\.0\.1:\d+: .*(self-signed|self signed)/);
    await connector.close();
  });

  it('says StartTLS failed when the upgraded connection cannot be verified', async () => {
    const { connector } = makeConnector(s, { startTLS: true });
    await expect(collect(connector.reader!.listUsers())).rejects.toThrow(/StartTLS with ldap:\/\/127\.0\.0\.1:\d+ failed: .*self.signed/);
    const check = await connector.check();
    expect(check.ok).toBe(false);
    expect(check.details.join('\n')).toMatch(/StartTLS with .* failed/);
    await connector.close();
  });

  it('names the bind DN but never the password when the bind fails', async () => {
    const password = 'wrong-but-secret-pw';
    const { connector } = makeConnector(s, { bindPassword: password });
    const err = await collect(connector.reader!.listUsers()).catch((e: unknown) => e);
    await connector.close();
    expect(err).toBeInstanceOf(ConnectorError);
    const message = (err as Error).message;
    expect(message).toContain(`as ${s.rootDN} failed: invalid credentials (LDAP 49)`);
    expect(message).not.toContain(password);
    const check = await makeConnector(s, { bindPassword: password }).connector.check();
    expect(check.ok).toBe(false);
    expect(check.details.join('\n')).not.toContain(password);
    expect(REDACTED).toBe('[REDACTED]');
  });
});
