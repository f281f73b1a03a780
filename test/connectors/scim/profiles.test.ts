import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorContext, SourceGroup, SourceUser } from '../../../src/core/connector.js';
import { ConnectorError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { clearSecrets } from '../../../src/core/secrets.js';
import { createScimConnector } from '../../../connectors/scim/index.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import type { ScimConfigInput } from '../../../connectors/scim/config.js';
import { fakeScim } from './fake-scim.js';
import { sendJson, startServer } from './http-server.js';
import type { Handler, TestServer } from './http-server.js';

const ctx: ConnectorContext = { name: 'app', configDir: '.', statePath: ':memory:', logger: silentLogger, warn: () => {} };

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
  clearSecrets();
});

function connector(handler: Handler, overrides: Partial<ScimConfigInput> = {}) {
  server.handle(handler);
  const config = scimConfigSchema.parse({ baseUrl: `${server.url}/scim/v2`, auth: { bearer: 'profile-token' }, retry: { attempts: 2 }, ...overrides });
  return createScimConnector(config, ctx, { sleep: async () => {} });
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const list = (resources: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: resources.length, Resources: resources });

describe('check(): discovery', () => {
  it('reports /ResourceTypes and /Schemas when present', async () => {
    const c = connector((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path.endsWith('/ServiceProviderConfig')) return sendJson(res, 200, { patch: { supported: true } });
      if (path.endsWith('/ResourceTypes')) {
        return sendJson(
          res,
          200,
          list([
            { name: 'User', endpoint: '/Users', schema: 'urn:ietf:params:scim:schemas:core:2.0:User', schemaExtensions: [{ schema: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', required: false }] },
            { name: 'Group', endpoint: '/Groups' },
          ]),
        );
      }
      if (path.endsWith('/Schemas')) return sendJson(res, 200, [{ id: 'urn:ietf:params:scim:schemas:core:2.0:User', attributes: [{}, {}, {}] }]);
      return sendJson(res, 200, list([]));
    });
    const result = await c.check!();
    await c.close?.();
    expect(result.ok).toBe(true);
    const text = result.details.join('\n');
    expect(text).toContain('/ResourceTypes: User at /Users with urn:ietf:params:scim:schemas:extension:enterprise:2.0:User; Group at /Groups');
    expect(text).toContain('/Schemas: urn:ietf:params:scim:schemas:core:2.0:User (3 attributes)');
    expect(server.seen.map((r) => new URL(r.url, 'http://x').pathname)).toEqual(expect.arrayContaining(['/scim/v2/ResourceTypes', '/scim/v2/Schemas']));
  });

  it('tolerates 404 on /ResourceTypes and /Schemas', async () => {
    const c = connector((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path.endsWith('/ServiceProviderConfig')) return sendJson(res, 200, { patch: { supported: false } });
      if (path.endsWith('/ResourceTypes') || path.endsWith('/Schemas')) return sendJson(res, 404, { detail: 'no such endpoint' });
      return sendJson(res, 200, list([]));
    });
    const result = await c.check!();
    await c.close?.();
    expect(result.ok).toBe(true);
    expect(result.details).toContain('  /ResourceTypes: not provided (404)');
    expect(result.details).toContain('  /Schemas: not provided (404)');
    expect(result.details).toContain('  updates sent as PUT');
  });

  it('is not ok when /ServiceProviderConfig cannot be read, and gives the server answer', async () => {
    const c = connector((req, res) => {
      if (req.url.endsWith('/ServiceProviderConfig')) return sendJson(res, 403, { status: '403', detail: 'token lacks scope scim:config' });
      return sendJson(res, 200, list([]));
    });
    const result = await c.check!();
    await c.close?.();
    expect(result.ok).toBe(false);
    expect(result.details.join('\n')).toContain('/ServiceProviderConfig unreadable: read /ServiceProviderConfig: 403: token lacks scope scim:config');
  });
});

describe('profile arkid', () => {
  it('sends `Authorization: jwt`, reads enterprise_extension, `ref`, nulls and child groups', async () => {
    const c = connector(
      (req, res) => {
        const path = new URL(req.url, 'http://x').pathname;
        if (req.headers.authorization !== 'jwt profile-token') return sendJson(res, 401, { detail: 'bad scheme' });
        if (path.endsWith('/Users')) {
          return sendJson(
            res,
            200,
            list([{ id: 'u1', userName: 'ada', name: { givenName: 'Ada', familyName: null }, title: null, enterprise_extension: { department: 'R&D', employeeNumber: null } }]),
          );
        }
        return sendJson(
          res,
          200,
          list([
            { id: 'g1', displayName: 'Parent', externalId: null, members: [{ value: 'g2', ref: `${server.url}/scim/v2/Groups/g2` }, { value: 'u1', ref: `${server.url}/scim/v2/Users/u1` }] },
            { id: 'g2', displayName: 'Child', members: null },
          ]),
        );
      },
      { profile: 'arkid' },
    );
    const users = await collect<SourceUser>(c.reader!.listUsers());
    const groups = await collect<SourceGroup>(c.reader!.listGroups());
    await c.close?.();
    expect(users).toEqual([{ id: 'u1', userName: 'ada', active: true, name: { givenName: 'Ada' }, enterprise: { department: 'R&D' } }]);
    expect(groups).toEqual([
      { id: 'g1', displayName: 'Parent', members: [{ type: 'Group', value: 'g2' }, { type: 'User', value: 'u1' }] },
      { id: 'g2', displayName: 'Child', members: [] },
    ]);
  });

  it('generic keeps the Bearer scheme and ignores enterprise_extension', async () => {
    const c = connector((req, res) => {
      if (req.headers.authorization !== 'Bearer profile-token') return sendJson(res, 401, { detail: 'bad scheme' });
      return sendJson(res, 200, list([{ id: 'u1', userName: 'ada', enterprise_extension: { department: 'R&D' } }]));
    });
    const users = await collect<SourceUser>(c.reader!.listUsers());
    await c.close?.();
    expect(users).toEqual([{ id: 'u1', userName: 'ada', active: true }]);
  });
});

describe('profile arkid writes', () => {
  const URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
  const ada = { userName: 'ada', active: true, enterprise: { department: 'R&D', employeeNumber: '7' } };

  it('creates and PATCHes under enterprise_extension, and reads its own writes back', async () => {
    const fake = fakeScim();
    const c = connector(fake.handler, { profile: 'arkid' });
    const { id } = await c.writer!.createUser(ada);
    expect(fake.users.get(id)).toMatchObject({ enterprise_extension: { department: 'R&D', employeeNumber: '7' } });
    expect(fake.users.get(id)![URN]).toBeUndefined();
    await c.writer!.updateUser(id, { ...ada, enterprise: { department: 'Ops', employeeNumber: '7' } }, ['enterprise.department']);
    const patch = server.seen.find((r) => r.method === 'PATCH')!.body as { Operations: { path: string }[] };
    expect(patch.Operations.map((o) => o.path)).toEqual(['enterprise_extension.department']);
    expect(fake.users.get(id)).toMatchObject({ enterprise_extension: { department: 'Ops', employeeNumber: '7' } });
    const users = await collect<SourceUser>(c.reader!.listUsers());
    await c.close();
    expect(users[0]!.enterprise).toEqual({ department: 'Ops', employeeNumber: '7' });
  });

  it('the PUT fallback keeps enterprise_extension (no URN key appears beside it)', async () => {
    const fake = fakeScim();
    fake.patchSupported = false;
    const c = connector(fake.handler, { profile: 'arkid', updateMethod: 'put' });
    const { id } = await c.writer!.createUser(ada);
    await c.writer!.updateUser(id, { ...ada, enterprise: { department: 'Ops', employeeNumber: '7' } }, ['enterprise.department']);
    await c.close();
    const put = server.seen.find((r) => r.method === 'PUT')!.body as Record<string, unknown>;
    expect(put.enterprise_extension).toEqual({ department: 'Ops', employeeNumber: '7' });
    expect(put[URN]).toBeUndefined();
  });

  it('generic still writes the URN key', async () => {
    const fake = fakeScim();
    const c = connector(fake.handler);
    const { id } = await c.writer!.createUser(ada);
    await c.close();
    expect(fake.users.get(id)![URN]).toEqual({ department: 'R&D', employeeNumber: '7' });
    expect(fake.users.get(id)!.enterprise_extension).toBeUndefined();
  });
});

describe('profile-driven writes', () => {
  it('aws-identity-center removes members as a value list, PATCH without asking', async () => {
    const fake = fakeScim({ users: [{ id: 'a', userName: 'a' }], groups: [{ id: 'g', displayName: 'G', members: [{ value: 'a', type: 'User' }] }] });
    const c = connector(fake.handler, { profile: 'aws-identity-center' });
    await c.writer!.removeMembers('g', [{ type: 'User', value: 'a' }]);
    await c.close?.();
    const patch = server.seen.find((r) => r.method === 'PATCH');
    expect(patch?.body).toMatchObject({ Operations: [{ op: 'remove', path: 'members', value: [{ value: 'a' }] }] });
    expect(server.seen.some((r) => r.url.endsWith('/ServiceProviderConfig'))).toBe(false);
    expect(fake.groups.get('g')!.members).toEqual([]);
  });

  it('an explicit key wins over the profile', async () => {
    const fake = fakeScim({ users: [{ id: 'a', userName: 'a' }], groups: [{ id: 'g', displayName: 'G', members: [{ value: 'a', type: 'User' }] }] });
    const c = connector(fake.handler, { profile: 'aws-identity-center', memberRemoveStyle: 'filter' });
    await c.writer!.removeMembers('g', [{ type: 'User', value: 'a' }]);
    await c.close?.();
    expect(server.seen.find((r) => r.method === 'PATCH')?.body).toMatchObject({ Operations: [{ op: 'remove', path: 'members[value eq "a"]' }] });
  });
});

describe('largeGroups', () => {
  const seed = () =>
    fakeScim({
      users: [
        { id: 'a', userName: 'a' },
        { id: 'b', userName: 'b' },
      ],
      groups: [
        { id: 'g1', displayName: 'One', members: [{ value: 'a', type: 'User' }, { value: 'g2', type: 'Group' }] },
        { id: 'g2', displayName: 'Two', members: [{ value: 'b', type: 'User' }] },
        { id: 'g3', displayName: 'Three', members: [] },
      ],
    });

  it('lists groups without members, then reads each group’s members', async () => {
    const c = connector(seed().handler, { largeGroups: true, pageSize: 2 });
    const groups = await collect<SourceGroup>(c.reader!.listGroups());
    await c.close?.();
    expect(groups).toEqual([
      { id: 'g1', displayName: 'One', members: [{ type: 'User', value: 'a' }, { type: 'Group', value: 'g2' }] },
      { id: 'g2', displayName: 'Two', members: [{ type: 'User', value: 'b' }] },
      { id: 'g3', displayName: 'Three', members: [] },
    ]);
    const urls = server.seen.map((r) => r.url);
    expect(urls.filter((u) => u.startsWith('/scim/v2/Groups?'))).toEqual([
      '/scim/v2/Groups?excludedAttributes=members&startIndex=1&count=2',
      '/scim/v2/Groups?excludedAttributes=members&startIndex=3&count=2',
    ]);
    expect(urls.filter((u) => u.includes('attributes=members') && !u.includes('excluded')).sort()).toEqual([
      '/scim/v2/Groups/g1?attributes=members',
      '/scim/v2/Groups/g2?attributes=members',
      '/scim/v2/Groups/g3?attributes=members',
    ]);
  });

  it('fails the listing when one group’s members cannot be read', async () => {
    const fake = seed();
    const c = connector(
      (req, res, n) => (req.url.startsWith('/scim/v2/Groups/g2?') ? sendJson(res, 500, { detail: 'members unavailable' }) : fake.handler(req, res, n)),
      { largeGroups: true },
    );
    const err = await collect(c.reader!.listGroups()).then(
      () => undefined,
      (e: unknown) => e,
    );
    await c.close?.();
    expect(err).toBeInstanceOf(ConnectorError);
    expect(String((err as Error).message)).toContain('members of group g2: 500: members unavailable');
  });

  it('without largeGroups, members come with the listing', async () => {
    const c = connector(seed().handler);
    const groups = await collect<SourceGroup>(c.reader!.listGroups());
    await c.close?.();
    expect(groups).toHaveLength(3);
    expect(server.seen.every((r) => !r.url.includes('attributes'))).toBe(true);
  });
});
