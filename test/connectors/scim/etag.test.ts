import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createScimConnector } from '../../../connectors/scim/index.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import type { ScimConfigInput } from '../../../connectors/scim/config.js';
import type { Connector } from '../../../src/core/connector.js';
import { RemoteError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startFaultServer } from '../../support/fault-server.js';
import type { FaultServer, FaultServerOptions, RawHandler } from '../../support/fault-server.js';

/**
 * ETags (RFC 7644 §3.14) on the PUT path: with `etag.supported` advertised, a PUT carries the
 * version its GET read as `If-Match`; a 412 (someone changed the resource in between) re-reads
 * and re-applies once, so the other writer's change survives; a second 412 fails the object.
 */

let server: FaultServer | undefined;
let connector: Connector | undefined;
afterEach(async () => {
  await connector?.close();
  await server?.close();
  connector = server = undefined;
});

const puts: { ifMatch: string | undefined; title?: unknown }[] = [];
/** Records each PUT's If-Match; `meddle` lets a test change the stored user first, like a concurrent writer. */
function recorder(meddle: (n: number) => void): RawHandler {
  return (req: IncomingMessage) => {
    if (req.method === 'PUT') {
      puts.push({ ifMatch: req.headers['if-match'] as string | undefined });
      meddle(puts.length);
    }
    return false;
  };
}

async function setup(opts: FaultServerOptions, extra: Partial<ScimConfigInput> = {}): Promise<{ c: Connector; id: string }> {
  puts.length = 0;
  server = await startFaultServer(opts);
  const [id] = server.seedUsers(1, () => ({ userName: 'ada@example.com', active: true, title: 'Engineer', nickName: 'ada' }));
  const config = scimConfigSchema.parse({ baseUrl: server.baseUrl, auth: { bearer: 'x' }, updateMethod: 'put', retry: { attempts: 1 }, ...extra });
  connector = createScimConnector(config, { name: 'app', configDir: '.', statePath: '', logger: silentLogger, warn: () => {} }, { sleep: async () => {} });
  return { c: connector, id: id! };
}

/** A concurrent writer: changes nickName and bumps the version, as the server would. */
function concurrentChange(id: string, nick: string): void {
  const u = server!.users.get(id)!;
  u.nickName = nick;
  (u.meta as Record<string, unknown>).version = `W/"other-${nick}"`;
}

describe('scim ETags', () => {
  it('PUT carries If-Match with the version the GET returned', async () => {
    const { c, id } = await setup({ etag: true, handler: recorder(() => {}) });
    const version = (server!.users.get(id)!.meta as Record<string, unknown>).version;
    await c.writer!.updateUser(id, { userName: 'ada@example.com', active: true, title: 'Lead' }, ['title']);
    expect(puts).toEqual([{ ifMatch: version }]);
    expect(server!.users.get(id)!.title).toBe('Lead');
  });

  it('a 412 re-reads and re-applies once: both our change and the concurrent one survive', async () => {
    const { c, id } = await setup({ etag: true, handler: recorder((n) => n === 1 && concurrentChange(id, 'countess')) });
    await c.writer!.updateUser(id, { userName: 'ada@example.com', active: true, title: 'Lead' }, ['title']);
    expect(puts).toHaveLength(2);
    expect(puts[1]!.ifMatch).toBe('W/"other-countess"');
    expect(server!.users.get(id)).toMatchObject({ title: 'Lead', nickName: 'countess' });
  });

  it('a second 412 fails the object, naming it and the server answer', async () => {
    const { c, id } = await setup({ etag: true, handler: recorder((n) => concurrentChange(id, `n${n}`)) });
    const err = await c.writer!.updateUser(id, { userName: 'ada@example.com', active: true, title: 'Lead' }, ['title']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).status).toBe(412);
    expect(String(err)).toContain(`update user ${id}`);
    expect(String(err)).toContain('changed again after it was re-read');
    expect(server!.users.get(id)!.title).toBe('Engineer');
  });

  it('member changes by PUT are versioned too', async () => {
    const { c, id } = await setup({ etag: true, handler: recorder((n) => n === 1 && server!.groups.forEach((g) => ((g.meta as Record<string, unknown>).version = 'W/"moved"'))) });
    const gid = (await c.writer!.createGroup({ displayName: 'Eng' })).id;
    await c.writer!.addMembers(gid, [{ type: 'User', value: id }]);
    expect(puts).toHaveLength(2);
    expect(puts[1]!.ifMatch).toBe('W/"moved"');
    expect(server!.groups.get(gid)!.members).toEqual([expect.objectContaining({ value: id })]);
  });

  it('no If-Match when the server does not advertise ETags', async () => {
    const { c, id } = await setup({ handler: recorder(() => {}) });
    await c.writer!.updateUser(id, { userName: 'ada@example.com', active: true, title: 'Lead' }, ['title']);
    expect(puts).toEqual([{ ifMatch: undefined }]);
    const check = await c.check();
    expect(check.details.join('\n')).toContain('updates sent as PUT\n');
  });

  it('check() says PUTs carry If-Match when advertised', async () => {
    const { c } = await setup({ etag: true });
    expect((await c.check()).details.join('\n')).toContain('updates sent as PUT with If-Match (ETags)');
  });
});
