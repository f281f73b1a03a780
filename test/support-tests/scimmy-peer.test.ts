import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { request } from 'undici';
import { ENTERPRISE_URN, startScimmyPeer } from '../support/scimmy-peer.js';
import type { ScimmyPeer } from '../support/scimmy-peer.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCHOP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

let peer: ScimmyPeer;

async function call(method: Method, path: string, body?: unknown, auth: string | null = `Bearer ${peer.token}`): Promise<Res> {
  const headers: Record<string, string> = { 'content-type': 'application/scim+json' };
  if (auth !== null) headers.authorization = auth;
  const r = await request(peer.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.body.text();
  const parsed: unknown = text ? JSON.parse(text) : {};
  return { status: r.statusCode, headers: r.headers, body: parsed as Record<string, unknown> };
}

function resources(res: Res): Record<string, unknown>[] {
  return res.body.Resources as Record<string, unknown>[];
}

async function createUser(userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call('POST', '/Users', { schemas: [USER], userName, ...extra });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

beforeEach(async () => {
  peer = await startScimmyPeer({ token: 'secret' });
});
afterEach(async () => {
  await peer.close();
});

describe('scimmy peer', () => {
  test('listens on 127.0.0.1 with an ephemeral port under /scim/v2', () => {
    expect(peer.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/scim\/v2$/);
    expect(peer.token).toBe('secret');
  });

  test('refuses requests without or with a wrong bearer token (401)', async () => {
    expect((await call('GET', '/Users', undefined, null)).status).toBe(401);
    const wrong = await call('GET', '/Users', undefined, 'Bearer nope');
    expect(wrong.status).toBe(401);
    expect(wrong.body.detail).toBe('Authorization failed');
    expect(peer.users.size).toBe(0);
  });

  test('user CRUD with the enterprise extension', async () => {
    const created = await call('POST', '/Users', {
      schemas: [USER, ENTERPRISE_URN],
      userName: 'alice',
      externalId: 'e-1',
      name: { givenName: 'Alice', familyName: 'Liddell' },
      emails: [{ value: 'alice@example.org', type: 'work', primary: true }],
      active: true,
      [ENTERPRISE_URN]: { employeeNumber: '42', department: 'R&D' },
    });
    expect(created.status).toBe(201);
    // Documented deviation: no Location header on 201 (meta.location is in the body).
    expect(created.headers.location).toBeUndefined();
    const id = created.body.id as string;
    expect((created.body.meta as Record<string, unknown>).location).toBe(`${peer.baseUrl}/Users/${id}`);
    expect(created.body[ENTERPRISE_URN]).toEqual({ employeeNumber: '42', department: 'R&D' });
    expect(peer.users.get(id)?.userName).toBe('alice');

    const read = await call('GET', `/Users/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.externalId).toBe('e-1');

    const dup = await call('POST', '/Users', { schemas: [USER], userName: 'alice' });
    expect(dup.status).toBe(409);
    expect(dup.body.scimType).toBe('uniqueness');

    const put = await call('PUT', `/Users/${id}`, { schemas: [USER], userName: 'alice', displayName: 'A. L.', active: false });
    expect(put.status).toBe(200);
    expect(put.body.displayName).toBe('A. L.');
    // PUT is a full replace: attributes not sent are gone.
    expect(put.body[ENTERPRISE_URN]).toBeUndefined();
    expect(put.body.externalId).toBeUndefined();

    const patched = await call('PATCH', `/Users/${id}`, { schemas: [PATCHOP], Operations: [{ op: 'replace', path: 'active', value: true }] });
    expect(patched.status).toBe(200);
    expect(patched.body.active).toBe(true);

    expect((await call('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await call('GET', `/Users/${id}`)).status).toBe(404);
    expect((await call('DELETE', `/Users/${id}`)).status).toBe(404);
    expect(peer.users.size).toBe(0);
  });

  test('filter userName eq is exact and case-sensitive (deviation)', async () => {
    await createUser('Bob');
    await createUser('carol');
    const hit = await call('GET', `/Users?filter=${encodeURIComponent('userName eq "Bob"')}`);
    expect(resources(hit).map((u) => u.userName)).toEqual(['Bob']);
    expect(hit.body.totalResults).toBe(1);
    const miss = await call('GET', `/Users?filter=${encodeURIComponent('userName eq "bob"')}`);
    expect(miss.body.totalResults).toBe(0);
    expect(resources(miss)).toEqual([]);
  });

  test('list paging: startIndex/count honoured, itemsPerPage echoes count, past-the-end restarts (deviations)', async () => {
    for (let i = 0; i < 5; i++) await createUser(`u${i}`);
    const p2 = await call('GET', '/Users?startIndex=2&count=2');
    expect(resources(p2).map((u) => u.userName)).toEqual(['u1', 'u2']);
    expect(p2.body).toMatchObject({ startIndex: 2, itemsPerPage: 2, totalResults: 5 });

    const last = await call('GET', '/Users?startIndex=5&count=10');
    expect(resources(last).map((u) => u.userName)).toEqual(['u4']);
    // Deviation: itemsPerPage is the requested count, not the number of Resources.
    expect(last.body.itemsPerPage).toBe(10);

    // Deviation: a startIndex beyond the end is not sliced at all: page 1 comes back again.
    const past = await call('GET', '/Users?startIndex=6&count=2');
    expect(resources(past).map((u) => u.userName)).toEqual(['u0', 'u1']);
    expect(past.body).toMatchObject({ startIndex: 6, totalResults: 5 });

    // Without count the page size is 20 whatever ServiceProviderConfig.filter.maxResults says.
    const all = await call('GET', '/Users');
    expect(all.body).toMatchObject({ startIndex: 1, itemsPerPage: 20, totalResults: 5 });

    // filter.maxResults (200) is advertised but not applied: count=300 returns 255 items.
    for (let i = 0; i < 250; i++) {
      const id = `seed-${i}`;
      peer.users.set(id, { id, userName: `s${i}`, meta: { resourceType: 'User', created: '2020-01-01T00:00:00Z', lastModified: '2020-01-01T00:00:00Z' } });
    }
    const big = await call('GET', '/Users?count=300');
    expect(resources(big)).toHaveLength(255);
    expect(big.body).toMatchObject({ itemsPerPage: 300, totalResults: 255 });
  });

  test('groups: PATCH add/remove member, nested group with $ref/type, excludedAttributes=members', async () => {
    const alice = await createUser('alice');
    const bob = await createUser('bob');
    const inner = await call('POST', '/Groups', { schemas: [GROUP], displayName: 'inner', members: [{ value: alice, type: 'User' }] });
    expect(inner.status).toBe(201);
    const innerId = inner.body.id as string;

    const add = await call('PATCH', `/Groups/${innerId}`, {
      schemas: [PATCHOP],
      Operations: [{ op: 'add', path: 'members', value: [{ value: bob, type: 'User', $ref: `${peer.baseUrl}/Users/${bob}` }] }],
    });
    expect(add.status).toBe(200);
    expect((add.body.members as Record<string, unknown>[]).map((m) => m.value)).toEqual([alice, bob]);

    const outerRef = `${peer.baseUrl}/Groups/${innerId}`;
    const outer = await call('POST', '/Groups', { schemas: [GROUP], displayName: 'outer', members: [{ value: innerId, type: 'Group', $ref: outerRef }] });
    expect(outer.status).toBe(201);
    const got = await call('GET', `/Groups/${outer.body.id as string}`);
    expect(got.body.members).toEqual([{ value: innerId, type: 'Group', $ref: outerRef }]);

    const rm = await call('PATCH', `/Groups/${innerId}`, { schemas: [PATCHOP], Operations: [{ op: 'remove', path: `members[value eq "${alice}"]` }] });
    expect((rm.body.members as Record<string, unknown>[]).map((m) => m.value)).toEqual([bob]);

    const slim = await call('GET', '/Groups?excludedAttributes=members');
    expect(resources(slim)).toHaveLength(2);
    for (const g of resources(slim)) expect(g.members).toBeUndefined();

    // The backend keeps referential integrity: deleting a user removes it from groups.
    expect((await call('DELETE', `/Users/${bob}`)).status).toBe(204);
    expect(peer.groups.get(innerId)?.members).toEqual([]);
  });

  test('PATCH deviations: no-op answers 204 without body, add of an existing member duplicates it, schemas required', async () => {
    const alice = await createUser('alice');
    const g = await call('POST', '/Groups', { schemas: [GROUP], displayName: 'g', members: [{ value: alice }] });
    const gid = g.body.id as string;

    const noop = await call('PATCH', `/Groups/${gid}`, { schemas: [PATCHOP], Operations: [{ op: 'remove', path: 'members[value eq "nobody"]' }] });
    expect(noop.status).toBe(204);
    expect(noop.body).toEqual({});

    const again = await call('PATCH', `/Groups/${gid}`, { schemas: [PATCHOP], Operations: [{ op: 'add', path: 'members', value: [{ value: alice }] }] });
    expect(again.status).toBe(200);
    expect(again.body.members).toEqual([{ value: alice }, { value: alice }]);

    const bare = await call('PATCH', `/Groups/${gid}`, { Operations: [{ op: 'replace', path: 'displayName', value: 'h' }] });
    expect(bare.status).toBe(400);
    expect(bare.body.scimType).toBe('invalidSyntax');
  });

  test('input handling: unknown attributes and nulls dropped silently, wrong types refused, filter on members.value', async () => {
    const r = await call('POST', '/Users', { userName: 'z', foo: 1, displayName: null });
    expect(r.status).toBe(201);
    expect(r.body).not.toHaveProperty('foo');
    expect(r.body).not.toHaveProperty('displayName');
    const bad = await call('POST', '/Users', { userName: 'y', active: 'true' });
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe('invalidValue');
    const id = r.body.id as string;
    await call('POST', '/Groups', { schemas: [GROUP], displayName: 'has-z', members: [{ value: id }] });
    const filter = `/Groups?filter=${encodeURIComponent(`members.value eq "${id}"`)}&attributes=displayName`;
    const byMember = await call('GET', filter);
    // attributes= trims the resource to id + the asked attributes (no schemas, no meta).
    expect(resources(byMember)).toEqual([{ id: expect.any(String), displayName: 'has-z' }]);
    // Deviation (scimmy Filter.match): once any group lacks `members` entirely, a filter on a
    // sub-attribute of members fails the whole request with 400 invalidValue.
    await call('POST', '/Groups', { schemas: [GROUP], displayName: 'empty' });
    const broken = await call('GET', filter);
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ scimType: 'invalidValue', detail: 'Cannot convert undefined or null to object' });
    expect((await call('GET', `/Users?filter=${encodeURIComponent('bogus (((')}`)).body.scimType).toBe('invalidFilter');
  });

  test('delta filter on meta.lastModified gt works', async () => {
    await createUser('old');
    const cut = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await createUser('new');
    const delta = await call('GET', `/Users?filter=${encodeURIComponent(`meta.lastModified gt "${cut}"`)}`);
    expect(resources(delta).map((u) => u.userName)).toEqual(['new']);
  });

  test('records every request with method, path and query', async () => {
    await createUser('x');
    await call('GET', '/Users?startIndex=1&count=5');
    await call('GET', '/ServiceProviderConfig');
    expect(peer.requests).toEqual([
      { method: 'POST', path: '/scim/v2/Users' },
      { method: 'GET', path: '/scim/v2/Users?startIndex=1&count=5' },
      { method: 'GET', path: '/scim/v2/ServiceProviderConfig' },
    ]);
  });

  test('ServiceProviderConfig advertises patch, filter, bulk and bearer auth', async () => {
    const spc = await call('GET', '/ServiceProviderConfig');
    expect(spc.body).toMatchObject({ patch: { supported: true }, filter: { supported: true, maxResults: 200 }, etag: { supported: false } });
    expect((spc.body.authenticationSchemes as Record<string, unknown>[])[0]?.type).toBe('oauthbearertoken');
  });

  test('two peers in one process keep separate data', async () => {
    const other = await startScimmyPeer();
    try {
      await createUser('only-here');
      const r = await request(`${other.baseUrl}/Users`, { headers: { authorization: `Bearer ${other.token}` } });
      const body = (await r.body.json()) as Record<string, unknown>;
      expect(body.totalResults).toBe(0);
    } finally {
      await other.close();
    }
  });

  test('close() ends keep-alive connections and frees the port', async () => {
    const other = await startScimmyPeer();
    const r = await request(`${other.baseUrl}/Users`, { headers: { authorization: `Bearer ${other.token}` } });
    await r.body.text();
    await other.close();
    await expect(request(`${other.baseUrl}/Users`)).rejects.toThrow();
  });
});
