/** PATCH (RFC 7644 §3.5.2) and the habits of real clients (Entra ID, Okta), over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ENTERPRISE, group, patch, startTestServer, user, type Reply, type TestServer } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.close();
});

let n = 0;
async function newUser(extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(srv, 'POST', '/Users', { body: user(`patch${++n}@example.com`, extra) });
  expect(r.status, r.text).toBe(201);
  return String(r.json.id);
}

async function patchUser(id: string, ...ops: Record<string, unknown>[]): Promise<Reply> {
  return call(srv, 'PATCH', `/Users/${id}`, { body: patch(...ops) });
}

/** What is stored, read back with a fresh GET (not the PATCH response). */
async function stored(id: string, type = 'Users'): Promise<Record<string, unknown>> {
  return (await call(srv, 'GET', `/${type}/${id}`)).json;
}

function expectScimError(r: Reply, status: number, scimType?: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.json.scimType).toBe(scimType);
}

describe('PATCH with a path', () => {
  it('add, replace and remove simple and sub-attributes; the response is the patched resource', async () => {
    const id = await newUser({ title: 'Old', name: { givenName: 'Ann', familyName: 'Lee' } });
    const r = await patchUser(id, { op: 'replace', path: 'title', value: 'New' }, { op: 'add', path: 'nickName', value: 'Annie' }, { op: 'replace', path: 'name.givenName', value: 'Anna' }, { op: 'remove', path: 'name.familyName' });
    expect(r.status).toBe(200);
    const s = await stored(id);
    expect(r.json).toEqual(s);
    expect(s).toMatchObject({ title: 'New', nickName: 'Annie', name: { givenName: 'Anna' } });
    expect((s.name as Record<string, unknown>).familyName).toBeUndefined();
    expect((await patchUser(id, { op: 'remove', path: 'title' })).json.title).toBeUndefined();
  });

  it('a complex attribute replaced with an object keeps the sub-attributes not given', async () => {
    const id = await newUser({ name: { givenName: 'A', familyName: 'B' } });
    await patchUser(id, { op: 'replace', path: 'name', value: { givenName: 'C' } });
    expect((await stored(id)).name).toEqual({ givenName: 'C', familyName: 'B' });
  });

  it('value-filter paths: replace a sub-attribute of the matching value, add one that does not exist yet, remove by filter', async () => {
    const id = await newUser({ emails: [{ value: 'w@example.com', type: 'work', primary: true }, { value: 'h@example.com', type: 'home' }] });
    await patchUser(id, { op: 'replace', path: 'emails[type eq "work"].value', value: 'w2@example.com' });
    expect((await stored(id)).emails).toEqual([{ value: 'w2@example.com', type: 'work', primary: true }, { value: 'h@example.com', type: 'home' }]);
    await patchUser(id, { op: 'add', path: 'emails[type eq "other"].value', value: 'o@example.com' });
    expect((await stored(id)).emails).toContainEqual({ value: 'o@example.com', type: 'other' });
    await patchUser(id, { op: 'remove', path: 'emails[type eq "home"]' });
    expect(((await stored(id)).emails as { type: string }[]).map((e) => e.type)).toEqual(['work', 'other']);
    // Removing what is not there is fine; replacing through a filter that matches nothing is noTarget.
    expect((await patchUser(id, { op: 'remove', path: 'emails[type eq "home"]' })).status).toBe(200);
    expectScimError(await patchUser(id, { op: 'replace', path: 'emails[type eq "pager"].value', value: 'p@example.com' }), 400, 'noTarget');
  });

  it('multi-valued add merges without duplicates and keeps one primary', async () => {
    const id = await newUser({ emails: [{ value: 'a@example.com', type: 'work', primary: true }] });
    await patchUser(id, { op: 'add', path: 'emails', value: [{ value: 'A@example.com', type: 'work' }, { value: 'b@example.com', type: 'home', primary: true }] });
    // The same address (emails are case-insensitive) merges into the existing entry; the client's spelling wins.
    expect((await stored(id)).emails).toEqual([{ value: 'A@example.com', type: 'work' }, { value: 'b@example.com', type: 'home', primary: true }]);
    await patchUser(id, { op: 'replace', path: 'emails', value: [{ value: 'c@example.com' }] });
    expect((await stored(id)).emails).toEqual([{ value: 'c@example.com' }]);
  });

  it('enterprise extension paths, and the manager as a bare id (Entra)', async () => {
    const boss = await newUser();
    const id = await newUser();
    await patchUser(id, { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Sales' }, { op: 'Add', path: `${ENTERPRISE}:manager`, value: boss });
    let s = await stored(id);
    expect(s[ENTERPRISE]).toEqual({ department: 'Sales', manager: { value: boss } });
    expect(s.schemas).toContain(ENTERPRISE);
    await patchUser(id, { op: 'replace', path: `${ENTERPRISE}:manager.value`, value: id }, { op: 'remove', path: `${ENTERPRISE}:department` });
    s = await stored(id);
    expect(s[ENTERPRISE]).toEqual({ manager: { value: id } });
    await patchUser(id, { op: 'Remove', path: `${ENTERPRISE}:manager` });
    expect((await stored(id))[ENTERPRISE]).toBeUndefined();
  });
});

describe('PATCH without a path (§3.5.2.1, §3.5.2.3)', () => {
  it('an object of attributes, with dotted and URN-qualified keys as Entra sends them', async () => {
    const id = await newUser({ title: 'T' });
    const r = await patchUser(id, {
      op: 'replace',
      value: { title: 'T2', 'name.givenName': 'G', [`${ENTERPRISE}:department`]: 'D', [ENTERPRISE]: { costCenter: 'CC' }, active: false },
    });
    expect(r.status, r.text).toBe(200);
    expect(await stored(id)).toMatchObject({ title: 'T2', name: { givenName: 'G' }, active: false, [ENTERPRISE]: { department: 'D', costCenter: 'CC' } });
  });

  it('remove without a path is 400 noTarget', async () => {
    const id = await newUser();
    expectScimError(await patchUser(id, { op: 'remove' }), 400, 'noTarget');
  });
});

describe('real clients', () => {
  it('Entra ID: capitalised ops and "True"/"False" strings', async () => {
    const id = await newUser();
    const r = await patchUser(id, { op: 'Replace', path: 'active', value: 'False' });
    expect(r.status, r.text).toBe(200);
    expect((await stored(id)).active).toBe(false);
    await patchUser(id, { op: 'Replace', value: { active: 'True' } });
    expect((await stored(id)).active).toBe(true);
    expectScimError(await patchUser(id, { op: 'Replace', path: 'active', value: 'Maybe' }), 400, 'invalidValue');
  });

  it('Entra ID: members added as a list and removed with path "members" and a value list', async () => {
    const a = await newUser();
    const b = await newUser();
    const g = await call(srv, 'POST', '/Groups', { body: group('Entra Group') });
    const gid = String(g.json.id);
    const add = await call(srv, 'PATCH', `/Groups/${gid}`, { body: patch({ op: 'Add', path: 'members', value: [{ value: a }, { value: b }] }) });
    expect(add.status, add.text).toBe(200);
    // Adding again changes nothing: no duplicate members.
    await call(srv, 'PATCH', `/Groups/${gid}`, { body: patch({ op: 'Add', path: 'members', value: [{ value: a }] }) });
    expect(((await stored(gid, 'Groups')).members as unknown[]).length).toBe(2);
    await call(srv, 'PATCH', `/Groups/${gid}`, { body: patch({ op: 'Remove', path: 'members', value: [{ value: a }] }) });
    expect(((await stored(gid, 'Groups')).members as { value: string }[]).map((m) => m.value)).toEqual([b]);
  });

  it('Okta: rename with the id repeated in a path-less value; remove a member by filter path', async () => {
    const a = await newUser();
    const g = await call(srv, 'POST', '/Groups', { body: group('Okta Before', { members: [{ value: a }] }) });
    const gid = String(g.json.id);
    const r = await call(srv, 'PATCH', `/Groups/${gid}`, { body: patch({ op: 'replace', value: { id: gid, displayName: 'Okta After' } }) });
    expect(r.status, r.text).toBe(200);
    expect((await stored(gid, 'Groups')).displayName).toBe('Okta After');
    await call(srv, 'PATCH', `/Groups/${gid}`, { body: patch({ op: 'remove', path: `members[value eq "${a}"]` }) });
    expect((await stored(gid, 'Groups')).members).toEqual([]);
    expectScimError(await call(srv, 'PATCH', `/Groups/${gid}`, { body: patch({ op: 'replace', value: { id: 'another-id' } }) }), 400, 'mutability');
  });

  it('a group PATCH adding an unknown member is 400 invalidValue and changes nothing', async () => {
    const g = await call(srv, 'POST', '/Groups', { body: group('Strict Members') });
    const gid = String(g.json.id);
    const before = await call(srv, 'GET', `/Groups/${gid}`);
    const r = await call(srv, 'PATCH', `/Groups/${gid}`, { body: patch({ op: 'add', path: 'members', value: [{ value: 'nobody' }] }) });
    expectScimError(r, 400, 'invalidValue');
    expect((await call(srv, 'GET', `/Groups/${gid}`)).headers.etag).toBe(before.headers.etag);
  });
});

describe('refusals', () => {
  it('read-only attributes are refused with 400 mutability (§3.5.2)', async () => {
    const id = await newUser();
    expectScimError(await patchUser(id, { op: 'replace', path: 'id', value: 'x' }), 400, 'mutability');
    expectScimError(await patchUser(id, { op: 'add', path: 'groups', value: [{ value: 'x' }] }), 400, 'mutability');
    expectScimError(await patchUser(id, { op: 'replace', path: 'meta', value: {} }), 400, 'mutability');
  });

  it('malformed bodies: invalidSyntax; malformed paths: invalidPath; a failed operation applies none of the others', async () => {
    const id = await newUser({ title: 'Keep' });
    expectScimError(await patchUser(id, { op: 'frobnicate', path: 'title', value: 'x' }), 400, 'invalidSyntax');
    expectScimError(await call(srv, 'PATCH', `/Users/${id}`, { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'] } }), 400, 'invalidSyntax');
    expectScimError(await call(srv, 'PATCH', `/Users/${id}`, { body: { schemas: ['wrong'], Operations: [{ op: 'add', path: 'title', value: 'x' }] } }), 400, 'invalidSyntax');
    expectScimError(await patchUser(id, { op: 'replace', path: 'emails[type eq', value: 'x' }), 400, 'invalidPath');
    expectScimError(await patchUser(id, { op: 'replace', path: 'urn:example:unknown:title', value: 'x' }), 400, 'invalidPath');
    expectScimError(await patchUser(id, { op: 'replace', path: 'title', value: 'Changed' }, { op: 'remove', path: 'userName' }), 400, 'invalidValue');
    expect((await stored(id)).title).toBe('Keep');
  });

  it('attributes the server does not store are ignored, like in a POST', async () => {
    const id = await newUser();
    const r = await patchUser(id, { op: 'add', path: 'addresses', value: [{ locality: 'X' }] });
    expect(r.status).toBe(200);
    expect(r.json).not.toHaveProperty('addresses');
  });

  it('PATCH of a missing resource is 404', async () => {
    expectScimError(await patchUser('missing', { op: 'replace', path: 'title', value: 'x' }), 404);
  });
});
