import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorContext } from '../../../src/core/connector.js';
import { RemoteError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createScimConnector, scimConnector } from '../../../connectors/scim/index.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import type { ScimConfigInput } from '../../../connectors/scim/config.js';
import { describeReaderContract, describeWriterContract } from '../../contract/contract.js';
import { fakeScim } from './fake-scim.js';
import type { FakeScim } from './fake-scim.js';
import { startServer } from './http-server.js';
import type { TestServer } from './http-server.js';

const ctx: ConnectorContext = { name: 'app', configDir: '.', statePath: ':memory:', logger: silentLogger, warn: () => {} };

async function setup(fake: FakeScim, overrides: Partial<ScimConfigInput> = {}) {
  const server = await startServer();
  server.handle(fake.handler);
  const config = scimConfigSchema.parse({ baseUrl: `${server.url}/scim/v2`, auth: { bearer: 'writer-token' }, pageSize: 2, ...overrides });
  const connector = createScimConnector(config, ctx, { sleep: async () => {} });
  return { server, connector, cleanup: () => server.close() };
}

const seed = () =>
  fakeScim({
    users: [
      { id: 'a', userName: 'a@example.com', active: true },
      { id: 'b', userName: 'b@example.com', active: false, name: { givenName: null } },
      { id: 'c', userName: 'c@example.com' },
    ],
    groups: [
      { id: 'g1', displayName: 'One', members: [{ value: 'a', type: 'User' }, { value: 'g2', $ref: '/Groups/g2' }] },
      { id: 'g2', displayName: 'Two', members: null },
    ],
  });

describeReaderContract('scim (fake server)', async () => ({ ...(await setup(seed())), expected: { users: 3, groups: 2 } }));
describeWriterContract('scim (fake server, PATCH)', async () => setup(fakeScim()));
describeWriterContract('scim (fake server, PUT only)', async () => {
  const fake = fakeScim();
  fake.patchSupported = false;
  return setup(fake);
});

describe('scim writer requests', () => {
  let fake: FakeScim;
  let server: TestServer;
  let connector: ReturnType<typeof createScimConnector>;
  beforeAll(async () => {
    fake = fakeScim();
    ({ server, connector } = await setup(fake, { memberBatchSize: 2 }));
  });
  afterAll(async () => {
    await connector.close();
    await server.close();
  });
  const writer = () => connector.writer!;
  const sent = (method: string) => server.seen.filter((r) => r.method === method);

  it('names the existing user when a create answers 409', async () => {
    const { id } = await writer().createUser({ userName: 'dup@example.com', active: true });
    let err: unknown;
    try {
      await writer().createUser({ userName: 'DUP@example.com', active: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).status).toBe(409);
    expect((err as RemoteError).message).toBe(
      `create user DUP@example.com: 409 uniqueness: userName DUP@example.com is taken; existing user ${id} has userName "DUP@example.com"`,
    );
    expect(server.seen.at(-1)!.url).toBe('/scim/v2/Users?filter=userName+eq+%22DUP%40example.com%22&count=2');
  });

  it('sends PATCH replace/remove by path and deactivation as active=false', async () => {
    const { id } = await writer().createUser({ userName: 'p@example.com', active: true, nickName: 'n', enterprise: { department: 'X' } });
    server.handle(fake.handler);
    await writer().updateUser(id, { userName: 'p@example.com', active: true, name: { givenName: 'G' }, enterprise: { department: 'Y' } }, [
      'name.givenName',
      'nickName',
      'enterprise.department',
    ]);
    await writer().deactivateUser(id);
    const patches = sent('PATCH');
    expect(patches.map((r) => r.body)).toEqual([
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [
          { op: 'replace', path: 'name.givenName', value: 'G' },
          { op: 'remove', path: 'nickName' },
          { op: 'replace', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'Y' },
        ],
      },
      { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] },
    ]);
    expect(fake.users.get(id)).toMatchObject({ active: false, name: { givenName: 'G' }, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Y' } });
    // The discovery document is read once per connector, on the first update, not per update.
    expect(server.seen.filter((r) => r.url.endsWith('/ServiceProviderConfig'))).toHaveLength(1);
  });

  it('splits member changes into batches of memberBatchSize', async () => {
    const { id: g } = await writer().createGroup({ displayName: 'Batch' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await writer().createUser({ userName: `m${i}@example.com`, active: true })).id);
    server.handle(fake.handler);
    await writer().addMembers(g, ids.map((value) => ({ type: 'User', value })));
    expect(sent('PATCH').map((r) => (r.body as { Operations: { value: unknown[] }[] }).Operations[0]!.value.length)).toEqual([2, 2, 1]);
    server.handle(fake.handler);
    await writer().removeMembers(g, ids.slice(0, 3).map((value) => ({ type: 'User', value })));
    expect(sent('PATCH').map((r) => (r.body as { Operations: unknown[] }).Operations.length)).toEqual([2, 1]);
    expect((fake.groups.get(g)!.members as { value: string }[]).map((m) => m.value)).toEqual(ids.slice(3));
  });

  it('keeps attributes it does not manage when updating by PUT', async () => {
    fake.patchSupported = false;
    const { connector: putConnector, server: putServer } = await setup(fake);
    try {
      const { id } = await putConnector.writer!.createUser({ userName: 'put@example.com', active: true, title: 'T' });
      fake.users.get(id)!.addresses = [{ locality: 'Oslo' }];
      await putConnector.writer!.updateUser(id, { userName: 'put@example.com', active: true }, ['title']);
      expect(fake.users.get(id)).toMatchObject({ userName: 'put@example.com', addresses: [{ locality: 'Oslo' }] });
      expect(fake.users.get(id)!.title).toBeUndefined();
      expect(putServer.seen.map((r) => r.method)).toEqual(['POST', 'GET', 'GET', 'PUT']);
      expect(putServer.seen.find((r) => r.method === 'PUT')!.body).not.toHaveProperty('meta');
    } finally {
      fake.patchSupported = true;
      await putConnector.close();
      await putServer.close();
    }
  });

  it('check() reports the discovery document and counts', async () => {
    const result = await connector.check();
    expect(result.ok).toBe(true);
    expect(result.details).toContain('  PATCH: yes');
    expect(result.details.some((d) => /\/Users: \d+ resources/.test(d))).toBe(true);
  });

  it('declares itself as the scim connector', () => {
    expect(scimConnector.type).toBe('scim');
    expect(scimConnector.defaultConcurrency).toBe(8);
    expect(scimConnector.secretKeys).toContain('clientSecret');
  });
});
