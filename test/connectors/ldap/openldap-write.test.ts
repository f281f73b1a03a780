import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/core/errors.js';
import type { UserInput } from '../../../src/core/model.js';
import { startSlapd } from '../../support/slapd.js';
import type { Slapd } from '../../support/slapd.js';
import { makeConnector, readAll } from './openldap-fixtures.js';
import type { Made } from './openldap-fixtures.js';

const user = (userName: string, over: Partial<UserInput> = {}): UserInput => ({
  userName,
  active: true,
  name: { givenName: 'Given', familyName: 'Family' },
  emails: [{ value: `${userName}@example.org`, type: 'work', primary: true }],
  ...over,
});

/** The DN slapd has for an anchor. */
async function dnOf(s: Slapd, anchor: string): Promise<string> {
  const out = await s.search(s.suffix, `(entryUUID=${anchor})`, ['1.1']);
  const m = /^dn(::?) (.*)$/m.exec(out);
  if (!m) return '';
  return m[1] === '::' ? Buffer.from(m[2]!, 'base64').toString('utf8') : m[2]!;
}

describe('ldap connector (openldap): writing', () => {
  let s: Slapd;
  let made: Made;
  beforeAll(async () => {
    s = await startSlapd();
    made = makeConnector(s, {
      users: {
        baseDNs: [`ou=people,${s.suffix}`],
        placement: { ou: `ou={{department}},ou=people,${s.suffix}`, fallback: `ou=people,${s.suffix}`, createMissing: true },
      },
      deactivate: { moveTo: `ou=disabled,ou=people,${s.suffix}`, createMissing: true },
      memberChunkSize: 3,
      allowDelete: true,
    });
  });
  afterAll(async () => {
    await made?.connector.close();
    await s?.cleanup();
  });
  const w = () => made.connector.writer!;

  it('creates in the OU chosen from the department, creating the OU, with objectClasses and RDN', async () => {
    const { id } = await w().createUser(user('ann', { enterprise: { department: 'R&D, Europe' } }));
    expect(await dnOf(s, id)).toBe(`uid=ann,ou=R&D\\2C Europe,ou=people,${s.suffix}`);
    const entry = await s.search(`ou=people,${s.suffix}`, '(uid=ann)', ['objectClass', 'cn', 'sn', 'departmentNumber']);
    expect(entry).toContain('objectClass: inetOrgPerson');
    expect(entry).toContain('cn: Given Family');
    expect(entry).toContain('departmentNumber: R&D, Europe');
    // No department: the fallback container.
    const { id: bob } = await w().createUser(user('bob'));
    expect(await dnOf(s, bob)).toBe(`uid=bob,ou=people,${s.suffix}`);
  });

  it('renames (modifyDN) when userName changes and moves when the department changes, keeping the anchor', async () => {
    const { id } = await w().createUser(user('carl', { enterprise: { department: 'Sales' } }));
    await w().updateUser(id, user('carl.new', { enterprise: { department: 'Sales' } }), ['userName']);
    expect(await dnOf(s, id)).toBe(`uid=carl.new,ou=Sales,ou=people,${s.suffix}`);
    await w().updateUser(id, user('carl.new', { enterprise: { department: 'Support' } }), ['enterprise.department']);
    expect(await dnOf(s, id)).toBe(`uid=carl.new,ou=Support,ou=people,${s.suffix}`);
    const again = await readAll(made.connector);
    const carl = again.users.find((u) => u.id === id)!;
    expect(carl).toMatchObject({ userName: 'carl.new', enterprise: { department: 'Support' } });
    // Rename and move in one update.
    await w().updateUser(id, user('carl', { enterprise: { department: 'Sales' } }), ['userName', 'enterprise.department']);
    expect(await dnOf(s, id)).toBe(`uid=carl,ou=Sales,ou=people,${s.suffix}`);
  });

  it('writes only the changed attributes and keeps required ones', async () => {
    const { id } = await w().createUser(user('dora', { title: 'Dev', phoneNumbers: [{ value: '+1 555', type: 'work' }, { value: '+1 666', type: 'mobile' }] }));
    await s.modify(`dn: ${await dnOf(s, id)}\nchangetype: modify\nreplace: description\ndescription: set by hand\n`);
    await w().updateUser(id, user('dora', { name: { givenName: 'Given' } }), ['name.familyName', 'title', 'phoneNumbers']);
    const entry = await s.search(await dnOf(s, id), '(objectClass=*)', ['*'], 'base');
    expect(entry).toContain('description: set by hand');
    // sn is required by person: a cleared familyName falls back to the userName.
    expect(entry).toContain('sn: dora');
    expect(entry).not.toContain('title:');
    expect(entry).not.toContain('telephoneNumber:');
    expect(entry).not.toContain('mobile:');
  });

  it('resolves the manager anchor to a DN and back', async () => {
    const { id: boss } = await w().createUser(user('boss'));
    const { id } = await w().createUser(user('eve', { enterprise: { manager: { value: boss } } }));
    const entry = await s.search(await dnOf(s, id), '(objectClass=*)', ['manager'], 'base');
    expect(entry).toContain(`manager: uid=boss,ou=people,${s.suffix}`);
    const eve = (await readAll(made.connector)).users.find((u) => u.id === id)!;
    expect(eve.enterprise?.manager?.value).toBe(boss);
  });

  it('deactivates by moving to the disabled OU, and reactivates back into placement', async () => {
    const { id } = await w().createUser(user('finn', { enterprise: { department: 'Sales' } }));
    await w().deactivateUser(id);
    expect(await dnOf(s, id)).toBe(`uid=finn,ou=disabled,ou=people,${s.suffix}`);
    expect((await readAll(made.connector)).users.find((u) => u.id === id)?.active).toBe(false);
    await w().updateUser(id, user('finn', { enterprise: { department: 'Sales' } }), ['active']);
    expect(await dnOf(s, id)).toBe(`uid=finn,ou=Sales,ou=people,${s.suffix}`);
  });

  it('handles special characters in DNs: , + " \\ # leading space and non-ASCII', async () => {
    const names = ['a,b', 'c+d', 'e"f', 'g\\h', '#hash', ' lead', 'trail ', 'Zoë Ünïcødé', 'x<y>;z='];
    const ids: string[] = [];
    // mail is IA5 (ASCII) in the schema: the addresses stay plain.
    const special = (n: string, i: number) => user(n, { emails: [{ value: `special${i}@example.org`, type: 'work', primary: true }] });
    for (const [i, n] of names.entries()) ids.push((await w().createUser(special(n, i))).id);
    const listed = await readAll(made.connector);
    for (let i = 0; i < names.length; i++) expect(listed.users.find((u) => u.id === ids[i])?.userName).toBe(names[i]);
    // Group with such members, then rename a user and the group: members follow (refint) and stay resolvable.
    const { id: group } = await w().createGroup({ displayName: 'Spe,cial + "group" \\ #1' });
    await w().addMembers(group, ids.map((value) => ({ type: 'User' as const, value })));
    await w().updateUser(ids[0]!, special('a,b,renamed', 0), ['userName']);
    await w().updateGroup(group, { displayName: 'Spe,cial renamed' }, ['displayName']);
    const after = await readAll(made.connector);
    const g = after.groups.find((x) => x.id === group)!;
    expect(g.displayName).toBe('Spe,cial renamed');
    expect(g.members.map((m) => m.value).sort()).toEqual([...ids].sort());
    expect(after.users.find((u) => u.id === ids[0])?.userName).toBe('a,b,renamed');
    await w().removeMembers(group, ids.slice(0, 4).map((value) => ({ type: 'User' as const, value })));
    expect((await readAll(made.connector)).groups.find((x) => x.id === group)!.members).toHaveLength(names.length - 4);
  });

  it('adds and removes members in chunks, with nested groups, and keeps a placeholder in empty groups', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await w().createUser(user(`m${i}`))).id);
    const { id: child } = await w().createGroup({ displayName: 'child' });
    const { id: parent } = await w().createGroup({ displayName: 'parent' });
    const refs = [...ids.map((value) => ({ type: 'User' as const, value })), { type: 'Group' as const, value: child }];
    await w().addMembers(parent, refs);
    const members = async () => (await readAll(made.connector)).groups.find((g) => g.id === parent)!.members;
    expect((await members()).length).toBe(8);
    const raw = await s.search(await dnOf(s, parent), '(objectClass=*)', ['member'], 'base');
    expect(raw).not.toContain('cn=nobody');
    await w().removeMembers(parent, refs);
    expect(await members()).toEqual([]);
    expect(await s.search(await dnOf(s, parent), '(objectClass=*)', ['member'], 'base')).toContain('member: cn=nobody');
  });

  it('reports remote failures as RemoteErrors naming the object and the server answer', async () => {
    const err = await w()
      .createGroup({ displayName: 'parent' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).message).toBe(`create group parent at cn=parent,ou=groups,${s.suffix}: LDAP 68 (AlreadyExistsError)`);
    const del = await makeConnector(s).connector.writer!.deleteUser('00000000-0000-0000-0000-000000000000').catch((e: unknown) => e);
    expect((del as RemoteError).message).toContain('allowDelete');
  });
});

describe('ldap connector (openldap): users named by cn (rdnAttribute: cn)', () => {
  let s: Slapd;
  let made: Made;
  beforeAll(async () => {
    s = await startSlapd();
    made = makeConnector(s, { users: { baseDNs: [`ou=people,${s.suffix}`], rdnAttribute: 'cn' } });
  });
  afterAll(async () => {
    await made?.connector.close();
    await s?.cleanup();
  });
  const w = () => made.connector.writer!;

  it('numbers the cn of namesakes, and renames when the display name changes', async () => {
    const a = await w().createUser(user('chris.a', { displayName: 'Chris Lee' }));
    const b = await w().createUser(user('chris.b', { displayName: 'Chris Lee' }));
    const c = await w().createUser(user('chris.c', { displayName: 'Chris Lee' }));
    expect(await dnOf(s, a.id)).toBe(`cn=Chris Lee,ou=people,${s.suffix}`);
    expect(await dnOf(s, b.id)).toBe(`cn=Chris Lee 2,ou=people,${s.suffix}`);
    expect(await dnOf(s, c.id)).toBe(`cn=Chris Lee 3,ou=people,${s.suffix}`);
    // The display name is still the source's: the number is in the DN only.
    const listed = (await readAll(made.connector)).users;
    expect(listed.find((u) => u.id === b.id)).toMatchObject({ userName: 'chris.b', displayName: 'Chris Lee' });

    // A change elsewhere keeps the numbered name; a display name change renames, keeping entryUUID.
    await w().updateUser(b.id, user('chris.b', { displayName: 'Chris Lee', title: 'Dev' }), ['title']);
    expect(await dnOf(s, b.id)).toBe(`cn=Chris Lee 2,ou=people,${s.suffix}`);
    await w().updateUser(b.id, user('chris.b', { displayName: 'Chris Leeson' }), ['displayName']);
    expect(await dnOf(s, b.id)).toBe(`cn=Chris Leeson,ou=people,${s.suffix}`);
    const entry = await s.search(`cn=Chris Leeson,ou=people,${s.suffix}`, '(objectClass=*)', ['cn', 'displayName'], 'base');
    expect(entry).toContain('displayName: Chris Leeson');
    expect(entry).not.toContain('cn: Chris Lee 2');
  });
});
