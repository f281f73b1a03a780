import { afterEach, describe, expect, it } from 'vitest';
import { createScimConnector } from '../../../connectors/scim/index.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import type { ScimConfigInput } from '../../../connectors/scim/config.js';
import type { Connector } from '../../../src/core/connector.js';
import { AlreadyExistsError, RemoteError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startFaultServer } from '../../support/fault-server.js';
import type { FaultServer } from '../../support/fault-server.js';
import { startScimmyPeer } from '../../support/scimmy-peer.js';
import type { ScimmyPeer } from '../../support/scimmy-peer.js';

/**
 * The writer's half of adoption: after a 409 (or before a POST with lookupBeforeCreate) it looks
 * the object up by externalId, then userName / displayName, and reports what it found as an
 * AlreadyExistsError; whether to adopt is the applier's decision (test/apply/applier-scim.test.ts).
 */

let server: FaultServer | undefined;
let peer: ScimmyPeer | undefined;
let connector: Connector | undefined;
afterEach(async () => {
  await connector?.close();
  await server?.close();
  await peer?.close();
  connector = server = peer = undefined;
});

function connect(baseUrl: string, token: string, extra: Partial<ScimConfigInput> = {}): Connector {
  const config = scimConfigSchema.parse({ baseUrl, auth: { bearer: token }, retry: { attempts: 1 }, ...extra });
  connector = createScimConnector(config, { name: 'app', configDir: '.', statePath: '', logger: silentLogger, warn: () => {} }, { sleep: async () => {} });
  return connector;
}

const fail = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('scim writer: what a create collides with', () => {
  it('409, one user by userName: AlreadyExistsError naming it, with its externalId', async () => {
    server = await startFaultServer();
    const [id] = server.seedUsers(1, () => ({ userName: 'ada@example.com', externalId: 'X9', active: true }));
    const err = await fail(connect(server.baseUrl, 'x').writer!.createUser({ userName: 'ada@example.com', externalId: 'E1', active: true }));
    expect(err).toBeInstanceOf(AlreadyExistsError);
    expect((err as AlreadyExistsError).existing).toEqual({ id, by: 'userName', externalId: 'X9' });
    expect((err as AlreadyExistsError).status).toBe(409);
    expect(String(err)).toContain(`existing user ${id} has userName "ada@example.com"`);
  });

  it('409 with two candidates: a plain RemoteError naming both (never adoptable)', async () => {
    server = await startFaultServer();
    const ids = server.seedUsers(2, () => ({ userName: 'dup@example.com', active: true }));
    const err = await fail(connect(server.baseUrl, 'x').writer!.createUser({ userName: 'dup@example.com', active: true }));
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).not.toBeInstanceOf(AlreadyExistsError);
    for (const id of ids) expect(String(err)).toContain(id);
    expect(String(err)).toContain('not adopted');
  });

  it('409 on a server that cannot filter: AlreadyExistsError with nothing to adopt, the server answer kept', async () => {
    server = await startFaultServer();
    server.seedUsers(1, () => ({ userName: 'ada@example.com', active: true }));
    server.inject({ kind: 'status', status: 400, detail: 'filtering is not supported' }, { method: 'GET', path: '/Users', times: 5 });
    const err = await fail(connect(server.baseUrl, 'x').writer!.createUser({ userName: 'ada@example.com', externalId: 'E1', active: true }));
    expect(err).toBeInstanceOf(AlreadyExistsError);
    expect((err as AlreadyExistsError).existing).toBeUndefined();
    expect(String(err)).toContain('userName already exists');
  });

  it('lookupBeforeCreate: the anchor wins over the name, and no POST is sent', async () => {
    server = await startFaultServer();
    const [anchored] = server.seedUsers(1, () => ({ userName: 'renamed@example.com', externalId: 'E1', active: true }));
    const err = await fail(connect(server.baseUrl, 'x', { lookupBeforeCreate: true }).writer!.createUser({ userName: 'ada@example.com', externalId: 'E1', active: true }));
    expect((err as AlreadyExistsError).existing).toEqual({ id: anchored, by: 'externalId', externalId: 'E1' });
    expect(String(err)).toContain('found before creating');
    expect(server.counts.POST).toBeUndefined();
  });

  it('lookupBeforeCreate on a server refusing the filter (400) still creates; other lookup errors fail the create', async () => {
    server = await startFaultServer();
    server.inject({ kind: 'status', status: 400, detail: 'no filter' }, { method: 'GET', path: '/Users', times: 2 });
    const c = connect(server.baseUrl, 'x', { lookupBeforeCreate: true });
    const { id } = await c.writer!.createUser({ userName: 'ada@example.com', externalId: 'E1', active: true });
    expect(server.users.get(id)!.userName).toBe('ada@example.com');

    server.inject({ kind: 'status', status: 500, detail: 'search down' }, { method: 'GET', path: '/Users', times: 1 });
    const err = await fail(c.writer!.createUser({ userName: 'bob@example.com', active: true }));
    expect(String(err)).toContain('search down');
    expect(server.counts.POST).toBe(1);
  });

  it('scimmy: a 409 for a group is looked up by displayName and reported adoptable', async () => {
    peer = await startScimmyPeer();
    const c = connect(peer.baseUrl, peer.token);
    const { id } = await c.writer!.createGroup({ displayName: 'Engineering' });
    const err = await fail(c.writer!.createGroup({ displayName: 'Engineering', externalId: 'G1' }));
    expect(err).toBeInstanceOf(AlreadyExistsError);
    expect((err as AlreadyExistsError).existing).toEqual({ id, by: 'displayName' });
  });
});
