import { afterEach, describe, expect, it } from 'vitest';
import { createScimConnector } from '../../../connectors/scim/index.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import type { ScimConfigInput } from '../../../connectors/scim/config.js';
import type { Connector, ConnectorContext, ReadWarning } from '../../../src/core/connector.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startFaultServer } from '../../support/fault-server.js';
import type { FaultServer, FaultServerOptions } from '../../support/fault-server.js';
import { startScimmyPeer } from '../../support/scimmy-peer.js';
import type { ScimmyPeer } from '../../support/scimmy-peer.js';

/**
 * Delta reads (connector side): the watermark comes from the server's Date header minus
 * `deltaSkew`; changed objects are listed with `meta.lastModified gt`, paged like full listings;
 * a server that cannot filter on it gets no delta, says so in check(), and a delta listing
 * asked anyway returns everything (a superset: still correct).
 */

const OLD = '2020-01-01T00:00:00.000Z';
let fault: FaultServer | undefined;
let peer: ScimmyPeer | undefined;
let connector: Connector | undefined;
afterEach(async () => {
  await connector?.close();
  await fault?.close();
  await peer?.close();
  connector = fault = peer = undefined;
});

function connect(baseUrl: string, token: string, extra: Partial<ScimConfigInput> = {}, warnings: ReadWarning[] = []): Connector {
  const ctx: ConnectorContext = { name: 'app', configDir: '.', statePath: ':memory:', logger: silentLogger, warn: (w) => warnings.push(w) };
  const config = scimConfigSchema.parse({ baseUrl, auth: { bearer: token }, pageSize: 2, retry: { attempts: 1 }, ...extra });
  connector = createScimConnector(config, ctx, { sleep: async () => {} });
  return connector;
}

async function names<T extends { userName?: string; displayName?: string }>(it: AsyncIterable<T>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x.userName ?? x.displayName ?? '?');
  return out.sort();
}

async function faultServer(opts: FaultServerOptions = {}): Promise<FaultServer> {
  fault = await startFaultServer({ token: 'delta-token', ...opts });
  // Five users last changed long ago.
  fault.seedUsers(5, (i) => ({ userName: `old${i}@example.com`, active: true }));
  for (const u of fault.users.values()) (u.meta as Record<string, unknown>).lastModified = OLD;
  return fault;
}

describe('scim delta reads', () => {
  it('lists only what changed after the watermark, over several pages, by meta.lastModified gt', async () => {
    const server = await faultServer();
    const c = connect(server.baseUrl, 'delta-token', { deltaSkew: 5_000 });
    expect(c.delta).toBeDefined();
    const watermark = await c.delta!.watermark();
    // The server's clock (second resolution) minus the skew: never after the server's "now".
    expect(Date.parse(watermark)).toBeLessThanOrEqual(Date.now() - 5_000 + 1_000);
    expect(Date.parse(watermark)).toBeGreaterThan(Date.parse(OLD));

    for (const n of ['new1', 'new2', 'new3']) await c.writer!.createUser({ userName: `${n}@example.com`, active: true });
    const old = [...server.users.values()].find((u) => u.userName === 'old0@example.com')!;
    await c.writer!.updateUser(String(old.id), { userName: 'old0@example.com', active: true, title: 'Changed' }, ['title']);
    await c.writer!.createGroup({ displayName: 'Fresh' });

    expect(await names(c.delta!.changedUsers(watermark))).toEqual(['new1@example.com', 'new2@example.com', 'new3@example.com', 'old0@example.com']);
    expect(await names(c.delta!.changedGroups(watermark))).toEqual(['Fresh']);
    const filtered = server.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/scim/v2/Users?') && r.path.includes('filter='));
    // The probe (count=1) plus three pages of two for four changed users (the last one empty-or-short).
    expect(filtered.length).toBeGreaterThanOrEqual(3);
    expect(decodeURIComponent(filtered.at(-1)!.path.replace(/\+/g, ' '))).toContain(`filter=meta.lastModified gt "${watermark}"`);
    // A full read is still complete.
    expect(await names(c.reader!.listUsers())).toHaveLength(8);
  });

  it('check() says delta reads are available', async () => {
    const server = await faultServer();
    const c = connect(server.baseUrl, 'delta-token');
    const check = await c.check();
    expect(check.ok).toBe(true);
    expect(check.details.join('\n')).toContain('delta reads (as a source): yes, by meta.lastModified gt');
  });

  it('a server refusing the filter (400 invalidFilter): no delta exposed, check() says so, a delta asked anyway lists all', async () => {
    const server = await faultServer({ lastModifiedFilter: false });
    const warnings: ReadWarning[] = [];
    const c = connect(server.baseUrl, 'delta-token', {}, warnings);
    const delta = c.delta!;
    expect(delta).toBeDefined(); // not known before the server was asked
    const watermark = await delta.watermark();
    expect(Number.isNaN(Date.parse(watermark))).toBe(false);
    expect(c.delta).toBeUndefined();
    expect(await names(delta.changedUsers(watermark))).toHaveLength(5);
    expect(warnings.map((w) => w.code)).toEqual(['scim-no-delta']);
    expect(warnings[0]!.message).toContain('invalidFilter');

    const check = await connect(server.baseUrl, 'delta-token').check();
    expect(check.details.join('\n')).toMatch(/delta reads \(as a source\): no — the server refuses filter meta.lastModified gt: .*unsupported filter.*; every read is a full read/);
  });

  it('a server whose ServiceProviderConfig says filter unsupported is not even probed', async () => {
    const server = await faultServer({ filterSupported: false });
    const c = connect(server.baseUrl, 'delta-token');
    await c.delta!.watermark();
    expect(c.delta).toBeUndefined();
    expect(server.requests.some((r) => r.path.includes('filter='))).toBe(false);
  });

  it('a failed page fails the delta listing (complete or throw)', async () => {
    const server = await faultServer();
    const c = connect(server.baseUrl, 'delta-token', { deltaSkew: 0 });
    for (const n of ['a', 'b', 'c', 'd', 'e']) await c.writer!.createUser({ userName: `${n}@example.com`, active: true });
    await c.delta!.watermark(); // the probe, answered normally
    server.inject({ kind: 'delay', ms: 0 }, { method: 'GET', path: '/Users', times: 1 }); // page 1: fine
    server.inject({ kind: 'status', status: 500, detail: 'page 2 broke' }, { method: 'GET', path: '/Users', times: 1 });
    await expect(names(c.delta!.changedUsers(OLD))).rejects.toThrow(/startIndex=3: 500.*page 2 broke/);
  });

  it('against scimmy (a third-party server): meta.lastModified gt works end to end', async () => {
    peer = await startScimmyPeer();
    const c = connect(peer.baseUrl, peer.token, { deltaSkew: 60_000 });
    await c.writer!.createUser({ userName: 'before@example.com', active: true });
    for (const u of peer.users.values()) (u.meta as Record<string, unknown>).lastModified = OLD;
    const watermark = await c.delta!.watermark();
    expect(c.delta).toBeDefined();
    const id = (await c.writer!.createUser({ userName: 'after@example.com', active: true })).id;
    await c.writer!.createGroup({ displayName: 'Later' });
    expect(await names(c.delta!.changedUsers(watermark))).toEqual(['after@example.com']);
    expect(await names(c.delta!.changedGroups(watermark))).toEqual(['Later']);
    // A far-future watermark sees nothing: the server really filters.
    expect(await names(c.delta!.changedUsers('2099-01-01T00:00:00.000Z'))).toEqual([]);
    expect(id).toBeTruthy();
  });
});
