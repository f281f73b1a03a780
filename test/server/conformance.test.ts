/**
 * RFC 7644 conformance of `scim-sync serve`, over real HTTP against the embedded directory in a
 * real SQLite file. Section numbers refer to RFC 7644 unless marked 7643.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCIM_TYPES } from '../../src/server/errors.js';
import { call, ENTERPRISE, group, q, resources, startTestServer, user, type Reply, type TestServer } from './helpers.js';

const ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST_URN = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** §3.12: an error body with the Error schema, status as a string, and a scimType matching the status. */
function expectError(r: Reply, status: number, scimType?: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/scim\+json/);
  expect(r.json.schemas).toEqual([ERROR_URN]);
  expect(r.json.status).toBe(String(status));
  expect(typeof r.json.detail).toBe('string');
  if (scimType === undefined) expect(r.json.scimType).toBeUndefined();
  else {
    expect(r.json.scimType).toBe(scimType);
    expect(SCIM_TYPES[scimType as keyof typeof SCIM_TYPES]).toBe(status);
  }
}

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ maxResults: 50, bulk: { maxOperations: 5, maxPayloadSize: 4096 } });
});
afterAll(async () => {
  await srv.close();
});

describe('Users: create, read, replace, delete (§3.3, §3.4.1, §3.5.1, §3.6)', () => {
  it('POST answers 201 with Location, ETag, meta and application/scim+json', async () => {
    const r = await call(srv, 'POST', '/Users', {
      body: user('create.one@example.com', { externalId: 'E1', name: { givenName: 'Ann', familyName: 'One' }, emails: [{ value: 'create.one@example.com', type: 'work', primary: true }] }),
    });
    expect(r.status).toBe(201);
    expect(r.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    const meta = r.json.meta as Record<string, string>;
    expect(r.headers.location).toBe(meta.location);
    expect(meta.location).toBe(`${srv.url}/Users/${String(r.json.id)}`);
    expect(r.headers.etag).toBe(meta.version);
    expect(meta.version).toMatch(/^W\/".+"$/);
    expect(meta.resourceType).toBe('User');
    expect(Date.parse(String(meta.created))).not.toBeNaN();
    expect(meta.lastModified).toBe(meta.created);
    expect(r.json).toMatchObject({ userName: 'create.one@example.com', externalId: 'E1', active: true, name: { givenName: 'Ann', familyName: 'One' }, groups: [] });
    expect(r.json.schemas).toContain('urn:ietf:params:scim:schemas:core:2.0:User');
  });

  it('GET by id returns the same resource; unknown id is 404 with the Error schema', async () => {
    const created = await call(srv, 'POST', '/Users', { body: user('get.me@example.com') });
    const got = await call(srv, 'GET', `/Users/${String(created.json.id)}`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual(created.json);
    expect(got.headers.etag).toBe(created.headers.etag);
    expectError(await call(srv, 'GET', '/Users/does-not-exist'), 404);
  });

  it('PUT replaces: attributes left out are cleared, read-only ones in the body are ignored, version changes', async () => {
    const created = await call(srv, 'POST', '/Users', { body: user('put.me@example.com', { title: 'Old', nickName: 'Nick' }) });
    const id = String(created.json.id);
    const r = await call(srv, 'PUT', `/Users/${id}`, {
      body: user('put.me@example.com', { id: 'forged-id', title: 'New', meta: { version: 'W/"999"' }, groups: [{ value: 'x' }] }),
    });
    expect(r.status).toBe(200);
    expect(r.json.id).toBe(id);
    expect(r.json.title).toBe('New');
    expect(r.json.nickName).toBeUndefined();
    expect(r.json.groups).toEqual([]);
    expect(r.headers.etag).not.toBe(created.headers.etag);
    expect((r.json.meta as Record<string, string>).created).toBe((created.json.meta as Record<string, string>).created);
  });

  it('DELETE answers 204 and the user is gone', async () => {
    const created = await call(srv, 'POST', '/Users', { body: user('delete.me@example.com') });
    const r = await call(srv, 'DELETE', `/Users/${String(created.json.id)}`);
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expectError(await call(srv, 'GET', `/Users/${String(created.json.id)}`), 404);
    expectError(await call(srv, 'DELETE', `/Users/${String(created.json.id)}`), 404);
  });

  it('a duplicate userName, in any case, is 409 uniqueness (§3.3)', async () => {
    await call(srv, 'POST', '/Users', { body: user('Dup.User@example.com') });
    expectError(await call(srv, 'POST', '/Users', { body: user('dup.user@EXAMPLE.com') }), 409, 'uniqueness');
    const other = await call(srv, 'POST', '/Users', { body: user('other.dup@example.com') });
    expectError(await call(srv, 'PUT', `/Users/${String(other.json.id)}`, { body: user('DUP.USER@example.com') }), 409, 'uniqueness');
  });

  it('a body without userName or with a wrongly typed attribute is 400 invalidValue', async () => {
    expectError(await call(srv, 'POST', '/Users', { body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] } }), 400, 'invalidValue');
    expectError(await call(srv, 'POST', '/Users', { body: user('typed@example.com', { active: 'maybe' }) }), 400, 'invalidValue');
    expectError(await call(srv, 'POST', '/Users', { body: [1, 2] }), 400, 'invalidSyntax');
  });

  it('the enterprise extension is stored and returned under its URN; the manager may be a bare id', async () => {
    const boss = await call(srv, 'POST', '/Users', { body: user('boss@example.com') });
    const r = await call(srv, 'POST', '/Users', {
      body: user('ext.user@example.com', { [ENTERPRISE]: { department: 'Sales', employeeNumber: '42', manager: String(boss.json.id) } }),
    });
    expect(r.status).toBe(201);
    expect(r.json[ENTERPRISE]).toEqual({ department: 'Sales', employeeNumber: '42', manager: { value: boss.json.id } });
    expect(r.json.schemas).toContain(ENTERPRISE);
  });
});

describe('Groups (§3.3–3.6, RFC 7643 §4.2)', () => {
  it('POST with members, GET shows them with $ref and type; 409 on a duplicate displayName', async () => {
    const a = await call(srv, 'POST', '/Users', { body: user('member.a@example.com') });
    const inner = await call(srv, 'POST', '/Groups', { body: group('Inner') });
    const r = await call(srv, 'POST', '/Groups', {
      body: group('Outer', { externalId: 'G1', members: [{ value: a.json.id }, { value: inner.json.id, type: 'Group' }] }),
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe(`${srv.url}/Groups/${String(r.json.id)}`);
    // Members are a set (RFC 7643 §2.4): compared without order.
    expect(r.json.members).toHaveLength(2);
    expect(r.json.members).toEqual(
      expect.arrayContaining([
        { value: a.json.id, $ref: `${srv.url}/Users/${String(a.json.id)}`, type: 'User' },
        { value: inner.json.id, $ref: `${srv.url}/Groups/${String(inner.json.id)}`, type: 'Group' },
      ]),
    );
    const u = await call(srv, 'GET', `/Users/${String(a.json.id)}`);
    expect(u.json.groups).toEqual([{ value: r.json.id, $ref: `${srv.url}/Groups/${String(r.json.id)}`, display: 'Outer', type: 'direct' }]);
    expectError(await call(srv, 'POST', '/Groups', { body: group('OUTER') }), 409, 'uniqueness');
  });

  it('a member that does not exist is 400 invalidValue and nothing is created', async () => {
    expectError(await call(srv, 'POST', '/Groups', { body: group('Ghosts', { members: [{ value: 'no-such-user' }] }) }), 400, 'invalidValue');
    const list = await call(srv, 'GET', `/Groups?filter=${q('displayName eq "Ghosts"')}`);
    expect(list.json.totalResults).toBe(0);
  });

  it('PUT replaces displayName and the whole member list (how Okta updates groups)', async () => {
    const a = await call(srv, 'POST', '/Users', { body: user('okta.a@example.com') });
    const b = await call(srv, 'POST', '/Users', { body: user('okta.b@example.com') });
    const g = await call(srv, 'POST', '/Groups', { body: group('Okta Group', { members: [{ value: a.json.id }] }) });
    const r = await call(srv, 'PUT', `/Groups/${String(g.json.id)}`, {
      body: group('Okta Group Renamed', { id: g.json.id, members: [{ value: b.json.id, display: 'okta.b' }] }),
    });
    expect(r.status).toBe(200);
    expect(r.json.displayName).toBe('Okta Group Renamed');
    expect((r.json.members as { value: string }[]).map((m) => m.value)).toEqual([b.json.id]);
    const cleared = await call(srv, 'PUT', `/Groups/${String(g.json.id)}`, { body: group('Okta Group Renamed') });
    expect(cleared.json.members).toEqual([]);
  });

  it('excludedAttributes=members leaves members out of lists and single reads', async () => {
    const a = await call(srv, 'POST', '/Users', { body: user('excl.a@example.com') });
    const g = await call(srv, 'POST', '/Groups', { body: group('Big Group', { members: [{ value: a.json.id }] }) });
    const one = await call(srv, 'GET', `/Groups/${String(g.json.id)}?excludedAttributes=members`);
    expect(one.json).not.toHaveProperty('members');
    expect(one.json.displayName).toBe('Big Group');
    const list = await call(srv, 'GET', `/Groups?excludedAttributes=members&filter=${q('displayName eq "big group"')}`);
    expect(resources(list)).toHaveLength(1);
    expect(resources(list)[0]).not.toHaveProperty('members');
  });

  it('deleting a user removes it from its groups', async () => {
    const a = await call(srv, 'POST', '/Users', { body: user('leaver@example.com') });
    const g = await call(srv, 'POST', '/Groups', { body: group('Leavers', { members: [{ value: a.json.id }] }) });
    expect((await call(srv, 'DELETE', `/Users/${String(a.json.id)}`)).status).toBe(204);
    expect((await call(srv, 'GET', `/Groups/${String(g.json.id)}`)).json.members).toEqual([]);
  });
});

describe('listing: filters (§3.4.2.2)', () => {
  let list: TestServer;
  const names: string[] = [];
  beforeAll(async () => {
    list = await startTestServer();
    const rows = [
      { userName: 'alice@example.com', title: 'Engineer', externalId: 'ext-A', displayName: 'Alice Smith', emails: [{ value: 'alice@work.example', type: 'work' }, { value: 'alice@home.example', type: 'home' }], active: true, dept: 'Eng' },
      { userName: 'Bob@Example.com', title: 'Manager', externalId: 'ext-b', displayName: 'Bob Jones', emails: [{ value: 'bob@work.example', type: 'work' }], active: false, dept: 'Sales' },
      { userName: 'carol@example.org', title: 'engineer', externalId: 'EXT-C', displayName: 'Carol King', emails: [{ value: 'carol@home.example', type: 'home' }], active: true, dept: 'Eng' },
      { userName: 'dave@example.org', externalId: 'ext-d', displayName: 'Dave (100%) _x_', active: true, dept: undefined },
    ];
    for (const r of rows) {
      const { dept, ...rest } = r;
      const res = await call(list, 'POST', '/Users', { body: user(r.userName, { ...rest, ...(dept ? { [ENTERPRISE]: { department: dept } } : {}) }) });
      expect(res.status).toBe(201);
      names.push(r.userName);
    }
  });
  afterAll(async () => {
    await list.close();
  });

  const found = async (filter: string, type = 'Users'): Promise<string[]> => {
    const r = await call(list, 'GET', `/${type}?filter=${q(filter)}`);
    expect(r.status, `${filter}: ${r.text}`).toBe(200);
    expect(r.json.schemas).toEqual([LIST_URN]);
    return resources(r)
      .map((u) => String(u.userName ?? u.displayName))
      .sort();
  };

  it('every comparison operator', async () => {
    expect(await found('userName eq "alice@example.com"')).toEqual(['alice@example.com']);
    expect(await found('userName ne "alice@example.com"')).toEqual(['Bob@Example.com', 'carol@example.org', 'dave@example.org']);
    expect(await found('userName co "example.org"')).toEqual(['carol@example.org', 'dave@example.org']);
    expect(await found('userName sw "b"')).toEqual(['Bob@Example.com']);
    expect(await found('userName ew ".ORG"')).toEqual(['carol@example.org', 'dave@example.org']);
    expect(await found('userName gt "bob@example.com"')).toEqual(['carol@example.org', 'dave@example.org']);
    expect(await found('userName ge "bob@example.com"')).toEqual(['Bob@Example.com', 'carol@example.org', 'dave@example.org']);
    expect(await found('userName lt "bob@example.com"')).toEqual(['alice@example.com']);
    expect(await found('userName le "bob@example.com"')).toEqual(['Bob@Example.com', 'alice@example.com']);
    expect(await found('title pr')).toEqual(['Bob@Example.com', 'alice@example.com', 'carol@example.org']);
    expect(await found('active eq false')).toEqual(['Bob@Example.com']);
    expect(await found('meta.created gt "2000-01-01T00:00:00Z"')).toHaveLength(4);
  });

  it('and, or, not and grouping', async () => {
    expect(await found('title eq "engineer" and active eq true')).toEqual(['alice@example.com', 'carol@example.org']);
    expect(await found('userName sw "a" or userName sw "d"')).toEqual(['alice@example.com', 'dave@example.org']);
    expect(await found('not (title pr)')).toEqual(['dave@example.org']);
    expect(await found('(userName sw "a" or userName sw "b") and not (active eq false)')).toEqual(['alice@example.com']);
    expect(await found('title eq "manager" or (title eq "engineer" and userName ew ".org")')).toEqual(['Bob@Example.com', 'carol@example.org']);
  });

  it('complex attribute filters and multi-valued attributes', async () => {
    expect(await found('emails[type eq "work" and value co "@"]')).toEqual(['Bob@Example.com', 'alice@example.com']);
    expect(await found('emails[type eq "home"]')).toEqual(['alice@example.com', 'carol@example.org']);
    expect(await found('emails.value eq "BOB@work.example"')).toEqual(['Bob@Example.com']);
    expect(await found('emails co "home"')).toEqual(['alice@example.com', 'carol@example.org']);
    expect(await found('emails pr')).toEqual(['Bob@Example.com', 'alice@example.com', 'carol@example.org']);
  });

  it('URN-qualified and case-insensitive attribute names, enterprise attributes', async () => {
    expect(await found('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "carol@example.org"')).toEqual(['carol@example.org']);
    expect(await found('USERNAME EQ "carol@example.org"')).toEqual(['carol@example.org']);
    expect(await found(`${ENTERPRISE}:department eq "eng"`)).toEqual(['alice@example.com', 'carol@example.org']);
    expect(await found('department eq "Sales"')).toEqual(['Bob@Example.com']);
    expect(await found('name.givenName pr')).toEqual([]);
  });

  it('caseExact per attribute: userName and title ignore case, externalId and id do not (RFC 7643 §4.1)', async () => {
    expect(await found('userName eq "ALICE@EXAMPLE.COM"')).toEqual(['alice@example.com']);
    expect(await found('title eq "ENGINEER"')).toEqual(['alice@example.com', 'carol@example.org']);
    expect(await found('externalId eq "ext-A"')).toEqual(['alice@example.com']);
    expect(await found('externalId eq "EXT-A"')).toEqual([]);
    expect(await found('externalId sw "ext-"')).toEqual(['Bob@Example.com', 'alice@example.com', 'dave@example.org']);
  });

  it('LIKE wildcards in values are literal', async () => {
    expect(await found('displayName co "100%"')).toEqual(['dave@example.org']);
    expect(await found('displayName co "_x_"')).toEqual(['dave@example.org']);
    expect(await found('displayName co "%"')).toEqual(['dave@example.org']);
    expect(await found('displayName sw "Dave (1"')).toEqual(['dave@example.org']);
  });

  it('invalid filters are 400 invalidFilter', async () => {
    for (const f of ['userName eq', 'userName xx "a"', '(userName eq "a"', 'nosuchattr eq "a"', 'active gt true', 'userName eq true', 'meta.created eq "yesterday"', 'name eq "x"', 'emails[type eq "work"', '']) {
      const r = await call(list, 'GET', `/Users?filter=${q(f)}`);
      if (f === '') expect(r.status).toBe(200);
      else expectError(r, 400, 'invalidFilter');
    }
  });

  it('group filters: displayName, members.value, members[type eq …]', async () => {
    const alice = resources(await call(list, 'GET', `/Users?filter=${q('userName eq "alice@example.com"')}`))[0]!;
    const g1 = await call(list, 'POST', '/Groups', { body: group('Engineers', { members: [{ value: alice.id }] }) });
    await call(list, 'POST', '/Groups', { body: group('Empty') });
    await call(list, 'POST', '/Groups', { body: group('Nested', { members: [{ value: g1.json.id, type: 'Group' }] }) });
    expect(await found('displayName eq "engineers"', 'Groups')).toEqual(['Engineers']);
    expect(await found(`members.value eq "${String(alice.id)}"`, 'Groups')).toEqual(['Engineers']);
    expect(await found('members[type eq "Group"]', 'Groups')).toEqual(['Nested']);
    expect(await found('not (members pr)', 'Groups')).toEqual(['Empty']);
    expect(await found(`groups.value eq "${String(g1.json.id)}"`)).toEqual(['alice@example.com']);
  });
});

describe('listing: sorting and paging (§3.4.2.3, §3.4.2.4)', () => {
  let pages: TestServer;
  beforeAll(async () => {
    pages = await startTestServer({ maxResults: 10 });
    for (let i = 1; i <= 25; i++) {
      const n = String(i).padStart(2, '0');
      await call(pages, 'POST', '/Users', { body: user(`user${n}@example.com`, { name: { familyName: `F${String(26 - i).padStart(2, '0')}` } }) });
    }
  });
  afterAll(async () => {
    await pages.close();
  });

  it('startIndex and count with correct totalResults and itemsPerPage; all pages together list everyone once', async () => {
    const seen: string[] = [];
    for (let start = 1; start <= 25; start += 7) {
      const r = await call(pages, 'GET', `/Users?startIndex=${start}&count=7`);
      expect(r.json).toMatchObject({ schemas: [LIST_URN], totalResults: 25, startIndex: start, itemsPerPage: Math.min(7, 26 - start) });
      seen.push(...resources(r).map((u) => String(u.userName)));
    }
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
  });

  it('count=0 gives only totalResults; count over maxResults is capped; startIndex<1 means 1; past the end is empty', async () => {
    const zero = await call(pages, 'GET', '/Users?count=0');
    expect(zero.json).toMatchObject({ totalResults: 25, itemsPerPage: 0, Resources: [] });
    const capped = await call(pages, 'GET', '/Users?count=500');
    expect(capped.json.itemsPerPage).toBe(10);
    const low = await call(pages, 'GET', '/Users?startIndex=-4&count=2');
    expect(low.json.startIndex).toBe(1);
    const past = await call(pages, 'GET', '/Users?startIndex=100');
    expect(past.json).toMatchObject({ totalResults: 25, itemsPerPage: 0 });
    expectError(await call(pages, 'GET', '/Users?count=abc'), 400, 'invalidValue');
  });

  it('sortBy and sortOrder', async () => {
    const asc = await call(pages, 'GET', '/Users?sortBy=userName&count=3');
    expect(resources(asc).map((u) => u.userName)).toEqual(['user01@example.com', 'user02@example.com', 'user03@example.com']);
    const desc = await call(pages, 'GET', '/Users?sortBy=userName&sortOrder=descending&count=2');
    expect(resources(desc).map((u) => u.userName)).toEqual(['user25@example.com', 'user24@example.com']);
    const byFamily = await call(pages, 'GET', '/Users?sortBy=name.familyName&count=2&startIndex=2');
    expect(resources(byFamily).map((u) => u.userName)).toEqual(['user24@example.com', 'user23@example.com']);
    expectError(await call(pages, 'GET', '/Users?sortBy=userName&sortOrder=sideways'), 400, 'invalidValue');
    expectError(await call(pages, 'GET', '/Users?sortBy=nosuch'), 400, 'invalidValue');
  });
});

describe('attributes and excludedAttributes (§3.4.2.5, §3.9)', () => {
  it('attributes returns id, schemas and the named attributes only; sub-attributes and URNs work', async () => {
    const c = await call(srv, 'POST', '/Users', {
      body: user('proj@example.com', { title: 'T', name: { givenName: 'G', familyName: 'F' }, [ENTERPRISE]: { department: 'D', costCenter: 'C' } }),
    });
    const id = String(c.json.id);
    const r = await call(srv, 'GET', `/Users/${id}?attributes=userName,name.givenName,${q(`${ENTERPRISE}:department`)}`);
    expect(r.json).toEqual({ schemas: c.json.schemas, id, userName: 'proj@example.com', name: { givenName: 'G' }, [ENTERPRISE]: { department: 'D' } });
    const ex = await call(srv, 'GET', `/Users/${id}?excludedAttributes=title,name,groups,meta`);
    expect(ex.json).not.toHaveProperty('title');
    expect(ex.json).not.toHaveProperty('name');
    expect(ex.json).not.toHaveProperty('groups');
    expect(ex.json.userName).toBe('proj@example.com');
    const noId = await call(srv, 'GET', `/Users/${id}?excludedAttributes=id`);
    expect(noId.json.id).toBe(id);
    const list = await call(srv, 'GET', `/Users?filter=${q('userName eq "proj@example.com"')}&attributes=userName`);
    expect(resources(list)).toEqual([{ schemas: c.json.schemas, id, userName: 'proj@example.com' }]);
  });
});

describe('meta and ETags (§3.14)', () => {
  it('If-Match with a stale version is 412 for PUT, PATCH and DELETE; the current one succeeds', async () => {
    const c = await call(srv, 'POST', '/Users', { body: user('etag@example.com') });
    const id = String(c.json.id);
    const v1 = String(c.headers.etag);
    const put = await call(srv, 'PUT', `/Users/${id}`, { body: user('etag@example.com', { title: 'A' }), headers: { 'if-match': v1 } });
    expect(put.status).toBe(200);
    const v2 = String(put.headers.etag);
    expect(v2).not.toBe(v1);
    expectError(await call(srv, 'PUT', `/Users/${id}`, { body: user('etag@example.com'), headers: { 'if-match': v1 } }), 412);
    expectError(
      await call(srv, 'PATCH', `/Users/${id}`, { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'B' }] }, headers: { 'if-match': v1 } }),
      412,
    );
    expectError(await call(srv, 'DELETE', `/Users/${id}`, { headers: { 'if-match': v1 } }), 412);
    expect((await call(srv, 'GET', `/Users/${id}`)).json.title).toBe('A');
    expect((await call(srv, 'PUT', `/Users/${id}`, { body: user('etag@example.com'), headers: { 'if-match': '*' } })).status).toBe(200);
  });

  it('If-None-Match with the current version is 304 without a body; an old one gets the resource', async () => {
    const c = await call(srv, 'POST', '/Groups', { body: group('ETag Group') });
    const id = String(c.json.id);
    const same = await call(srv, 'GET', `/Groups/${id}`, { headers: { 'if-none-match': String(c.headers.etag) } });
    expect(same.status).toBe(304);
    expect(same.text).toBe('');
    await call(srv, 'PUT', `/Groups/${id}`, { body: group('ETag Group 2') });
    const changed = await call(srv, 'GET', `/Groups/${id}`, { headers: { 'if-none-match': String(c.headers.etag) } });
    expect(changed.status).toBe(200);
    expect(changed.json.displayName).toBe('ETag Group 2');
  });
});

describe('discovery (§4, RFC 7643 §5–7)', () => {
  it('ServiceProviderConfig says what is supported', async () => {
    const r = await call(srv, 'GET', '/ServiceProviderConfig');
    expect(r.json).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 5, maxPayloadSize: 4096 },
      filter: { supported: true, maxResults: 50 },
      changePassword: { supported: false },
      sort: { supported: true },
      etag: { supported: true },
    });
    expect((r.json.authenticationSchemes as { type: string }[])[0]!.type).toBe('oauthbearertoken');
  });

  it('ResourceTypes lists User (with the enterprise extension) and Group, each by name too', async () => {
    const r = await call(srv, 'GET', '/ResourceTypes');
    expect(resources(r).map((t) => [t.name, t.endpoint, t.schema])).toEqual([
      ['User', '/Users', 'urn:ietf:params:scim:schemas:core:2.0:User'],
      ['Group', '/Groups', 'urn:ietf:params:scim:schemas:core:2.0:Group'],
    ]);
    expect(resources(r)[0]!.schemaExtensions).toEqual([{ schema: ENTERPRISE, required: false }]);
    expect((await call(srv, 'GET', '/ResourceTypes/User')).json.name).toBe('User');
    expectError(await call(srv, 'GET', '/ResourceTypes/Device'), 404);
  });

  it('Schemas describe exactly the stored attributes, with caseExact and mutability', async () => {
    const r = await call(srv, 'GET', '/Schemas');
    expect(resources(r).map((s) => s.id)).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE, 'urn:ietf:params:scim:schemas:core:2.0:Group']);
    const userSchema = (await call(srv, 'GET', `/Schemas/${q('urn:ietf:params:scim:schemas:core:2.0:User')}`)).json;
    const attrs = userSchema.attributes as { name: string; caseExact: boolean; mutability: string; uniqueness: string }[];
    expect(attrs.map((a) => a.name)).toEqual(['userName', 'name', 'displayName', 'nickName', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'active', 'emails', 'phoneNumbers', 'groups']);
    expect(attrs.find((a) => a.name === 'userName')).toMatchObject({ caseExact: false, uniqueness: 'server' });
    expect(attrs.find((a) => a.name === 'groups')!.mutability).toBe('readOnly');
    // An attribute that is not stored is not advertised, and sending it changes nothing.
    expect(attrs.find((a) => a.name === 'addresses')).toBeUndefined();
    const c = await call(srv, 'POST', '/Users', { body: user('addr@example.com', { addresses: [{ locality: 'X' }] }) });
    expect(c.json).not.toHaveProperty('addresses');
  });
});

describe('/.search (§3.4.3)', () => {
  it('per resource type and at the root (Users and Groups together)', async () => {
    await call(srv, 'POST', '/Users', { body: user('search.me@example.com', { displayName: 'Searchable' }) });
    await call(srv, 'POST', '/Groups', { body: group('Searchable') });
    const body = { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'displayName eq "searchable"', attributes: ['displayName'], startIndex: 1, count: 10 };
    const users = await call(srv, 'POST', '/Users/.search', { body });
    expect(users.status).toBe(200);
    expect(resources(users)).toHaveLength(1);
    expect(resources(users)[0]).toEqual({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: resources(users)[0]!.id, displayName: 'Searchable' });
    const root = await call(srv, 'POST', '/.search', { body });
    expect(root.json.totalResults).toBe(2);
    expect(resources(root).map((r) => (r.schemas as string[])[0])).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:core:2.0:Group']);
    // userName exists only on Users: the root search still answers, with users only.
    const onlyUsers = await call(srv, 'POST', '/.search', { body: { ...body, filter: 'userName eq "search.me@example.com"' } });
    expect(onlyUsers.json.totalResults).toBe(1);
    expectError(await call(srv, 'POST', '/.search', { body: { ...body, filter: 'nosuch eq 1' } }), 400, 'invalidFilter');
    expectError(await call(srv, 'POST', '/Users/.search', { body: { schemas: ['wrong'] } }), 400, 'invalidSyntax');
    expectError(await call(srv, 'GET', '/Users/.search'), 405);
  });
});

describe('/Bulk (§3.7)', () => {
  const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

  it('resolves bulkId references in any order and reports each operation', async () => {
    const r = await call(srv, 'POST', '/Bulk', {
      body: {
        schemas: [BULK],
        Operations: [
          { method: 'POST', path: '/Groups', bulkId: 'g1', data: group('Bulk Group', { members: [{ value: 'bulkId:u1', type: 'User' }] }) },
          { method: 'POST', path: '/Users', bulkId: 'u1', data: user('bulk.one@example.com') },
          { method: 'PATCH', path: '/Users/bulkId:u1', data: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Bulked' }] } },
        ],
      },
    });
    expect(r.status).toBe(200);
    expect(r.json.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:BulkResponse']);
    const ops = r.json.Operations as Record<string, string>[];
    expect(ops.map((o) => [o.method, o.bulkId, o.status])).toEqual([
      ['POST', 'g1', '201'],
      ['POST', 'u1', '201'],
      ['PATCH', undefined, '200'],
    ]);
    const userId = ops[1]!.location!.split('/').pop()!;
    expect(ops[1]!.version).toMatch(/^W\//);
    const g = await call(srv, 'GET', `/Groups/${ops[0]!.location!.split('/').pop()!}`);
    expect((g.json.members as { value: string }[]).map((m) => m.value)).toEqual([userId]);
    expect((await call(srv, 'GET', `/Users/${userId}`)).json.title).toBe('Bulked');
  });

  it('failOnErrors stops after that many errors; an unresolvable bulkId is 409', async () => {
    const r = await call(srv, 'POST', '/Bulk', {
      body: {
        schemas: [BULK],
        failOnErrors: 1,
        Operations: [
          { method: 'POST', path: '/Users', bulkId: 'a', data: user('bulk.dup@example.com') },
          { method: 'POST', path: '/Users', bulkId: 'b', data: user('bulk.dup@example.com') },
          { method: 'POST', path: '/Users', bulkId: 'c', data: user('bulk.never@example.com') },
        ],
      },
    });
    const ops = r.json.Operations as Record<string, unknown>[];
    expect(ops.map((o) => o.status)).toEqual(['201', '409']);
    expect((ops[1]!.response as Record<string, unknown>).scimType).toBe('uniqueness');
    const unresolved = await call(srv, 'POST', '/Bulk', {
      body: { schemas: [BULK], Operations: [{ method: 'POST', path: '/Groups', bulkId: 'x', data: group('Bulk Broken', { members: [{ value: 'bulkId:nobody' }] }) }] },
    });
    expect((unresolved.json.Operations as Record<string, unknown>[])[0]!.status).toBe('409');
    const circular = await call(srv, 'POST', '/Bulk', {
      body: {
        schemas: [BULK],
        Operations: [
          { method: 'POST', path: '/Groups', bulkId: 'p', data: group('Circ P', { members: [{ value: 'bulkId:q', type: 'Group' }] }) },
          { method: 'POST', path: '/Groups', bulkId: 'q', data: group('Circ Q', { members: [{ value: 'bulkId:p', type: 'Group' }] }) },
        ],
      },
    });
    expect((circular.json.Operations as Record<string, unknown>[]).map((o) => o.status)).toEqual(['409', '409']);
  });

  it('maxOperations and maxPayloadSize are enforced with 413', async () => {
    const many = Array.from({ length: 6 }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `m${i}`, data: user(`many${i}@example.com`) }));
    expectError(await call(srv, 'POST', '/Bulk', { body: { schemas: [BULK], Operations: many } }), 413);
    const big = [{ method: 'POST', path: '/Users', bulkId: 'big', data: user('big@example.com', { title: 'x'.repeat(5000) }) }];
    expectError(await call(srv, 'POST', '/Bulk', { body: { schemas: [BULK], Operations: big } }), 413);
    expect((await call(srv, 'GET', `/Users?filter=${q('userName sw "many"')}`)).json.totalResults).toBe(0);
  });
});

describe('other endpoints and methods', () => {
  it('/Me answers 501; unknown endpoints 404; wrong methods 405 with Allow', async () => {
    expectError(await call(srv, 'GET', '/Me'), 501);
    expectError(await call(srv, 'POST', '/Me', { body: user('me@example.com') }), 501);
    expectError(await call(srv, 'GET', '/Devices'), 404);
    expectError(await call(srv, 'GET', '/Users/a/b'), 404);
    const r = await call(srv, 'DELETE', '/Users');
    expectError(r, 405);
    expect(r.headers.allow).toBe('GET, POST');
    expectError(await call(srv, 'PUT', '/ServiceProviderConfig', { body: {} }), 405);
  });
});
