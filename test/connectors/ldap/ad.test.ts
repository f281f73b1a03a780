/**
 * The ldap connector with `flavor: ad` against a real Samba AD DC: anchors, account state,
 * ranged member retrieval, uSNChanged deltas, and the two AD examples run through the real CLI.
 * Data the connector reads is written with plain ldapts (ad-helpers.ts), and what the connector
 * writes is checked with plain ldapts, so neither side vouches for itself.
 *
 * The CLI tests need `npm run build` first (the CLI runs from dist/; npm test builds).
 */
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ldapConnector } from '../../../connectors/ldap/index.js';
import { ldapConfigSchema } from '../../../connectors/ldap/config.js';
import { LdapConnection } from '../../../connectors/ldap/client.js';
import type { LdapConfigInput } from '../../../connectors/ldap/config.js';
import { guidToString } from '../../../connectors/ldap/ad/guid.js';
import { UAC, isDisabled, withDisabled } from '../../../connectors/ldap/ad/uac.js';
import { dateToFileTime } from '../../../connectors/ldap/ad/filetime.js';
import type { Connector, ReadWarning, SourceGroup, SourceUser } from '../../../src/core/connector.js';
import { RemoteError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { UserInput } from '../../../src/core/model.js';
import { csvOf, person, repoRoot, runCli, workspace } from '../../e2e/helpers.js';
import type { Person } from '../../e2e/helpers.js';
import { BASE_DN, SAMBA_HOOK_TIMEOUT, startSambaAd, type SambaAd } from '../../support/samba-ad.js';
import { startScimmyPeer, type ScimmyPeer } from '../../support/scimmy-peer.js';
import { addOu, addUser, addUsers, addValues, admin, highestCommittedUSN, replace, sambaToolUserShow } from './ad-helpers.js';

let ad: SambaAd;
let c: Client;
const PEOPLE = `OU=People,${BASE_DN}`;
const GROUPS = `OU=Groups,${BASE_DN}`;
const open: Connector[] = [];

beforeAll(async () => {
  ad = await startSambaAd();
  c = await admin(ad);
  await addOu(c, PEOPLE);
  await addOu(c, GROUPS);
  const enable = async (dn: string, extra = 0) =>
    c.modify(dn, replace('userAccountControl', String(withDisabled(await uacOf(dn), false) | extra)));
  const alice = await addUser(c, PEOPLE, 'alice', { givenName: 'Alice', sn: 'Liddell', displayName: 'Alice Liddell', mail: 'alice@example.org', title: 'Engineer', department: 'R&D', employeeID: 'E1', employeeNumber: 'X-ALICE' });
  await enable(alice);
  await addUser(c, PEOPLE, 'bob', { displayName: 'Bob (disabled)' }); // created disabled, stays so
  const carol = await addUser(c, PEOPLE, 'carol', { displayName: 'Carol (expired)' });
  await enable(carol);
  await c.modify(carol, replace('accountExpires', dateToFileTime(new Date(Date.now() - 86_400_000))));
  const dave = `CN=dave,${PEOPLE}`;
  await c.add(dave, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: 'dave' }); // no UPN
  await enable(dave);
  const erin = await addUser(c, PEOPLE, 'erin', { displayName: 'Erin' });
  await enable(erin, UAC.DONT_EXPIRE_PASSWORD);
  await c.add(`CN=sub,${GROUPS}`, { objectClass: ['top', 'group'], member: [carol] });
  await c.add(`CN=team,${GROUPS}`, { objectClass: ['top', 'group'], member: [alice, `CN=bob,${PEOPLE}`, `CN=sub,${GROUPS}`] });
}, SAMBA_HOOK_TIMEOUT);

afterAll(async () => {
  for (const k of open) await k.close().catch(() => undefined);
  await c?.unbind();
  await ad?.stop();
}, SAMBA_HOOK_TIMEOUT);

async function uacOf(dn: string): Promise<number> {
  const { searchEntries } = await c.search(dn, { scope: 'base', attributes: ['userAccountControl'] });
  return Number(searchEntries[0]?.userAccountControl);
}

async function guidOf(dn: string): Promise<string> {
  const { searchEntries } = await c.search(dn, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
  return guidToString(searchEntries[0]!.objectGUID as Buffer);
}

async function dnOfGuid(guid: string): Promise<string | undefined> {
  // AD resolves <GUID=…> as a base DN: a lookup that does not depend on filter encoding.
  const { searchEntries } = await c.search(`<GUID=${guid}>`, { scope: 'base', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] }));
  return searchEntries[0]?.dn;
}

function makeConnector(over: Partial<LdapConfigInput> = {}): { connector: Connector; warnings: ReadWarning[] } {
  const input: LdapConfigInput = {
    flavor: 'ad',
    url: ad.url,
    bindDN: ad.bindDN,
    bindPassword: ad.bindPassword,
    users: { baseDNs: [PEOPLE] },
    groups: { baseDNs: [GROUPS] },
    ...over,
  };
  const warnings: ReadWarning[] = [];
  const connector = ldapConnector.create(ldapConfigSchema.parse(input) as never, {
    name: 'ad',
    configDir: ad.dir,
    statePath: join(ad.dir, 'state.db'),
    logger: silentLogger,
    warn: (w) => void warnings.push(w),
  });
  open.push(connector);
  return { connector, warnings };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const byName = (users: SourceUser[], name: string) => users.find((u) => u.userName === name);

describe('reading', () => {
  it('anchors users on objectGUID in its canonical form, and reads active from UAC and accountExpires', async () => {
    const { connector } = makeConnector();
    const users = await collect(connector.reader!.listUsers());
    expect(users.map((u) => u.userName).sort()).toEqual(['alice@example.org', 'bob@example.org', 'carol@example.org', 'dave', 'erin@example.org']);
    for (const u of users) {
      const cn = u.userName.split('@')[0]!;
      expect(u.id, u.userName).toBe(await guidOf(`CN=${cn},${PEOPLE}`));
    }
    expect(byName(users, 'alice@example.org')!.id).toBe((await sambaToolUserShow(ad, 'alice')).objectGUID);
    expect(byName(users, 'alice@example.org')).toMatchObject({
      active: true,
      // AD's default map: employeeID is the HR employee number, externalId lives in employeeNumber.
      enterprise: { department: 'R&D', employeeNumber: 'E1' },
      displayName: 'Alice Liddell',
      name: { givenName: 'Alice', familyName: 'Liddell' },
      title: 'Engineer',
      emails: [{ value: 'alice@example.org', primary: true }],
    });
    expect(byName(users, 'alice@example.org')!.externalId).toBe('X-ALICE');
    expect(byName(users, 'bob@example.org')!.active).toBe(false);
    expect(byName(users, 'carol@example.org')!.active).toBe(false); // enabled, but expired
    expect(byName(users, 'dave')!.active).toBe(true);
    expect(byName(users, 'erin@example.org')!.active).toBe(true);
  });

  it('lists groups with user and nested-group members as anchors', async () => {
    const { connector } = makeConnector();
    const groups: SourceGroup[] = await collect(connector.reader!.listGroups());
    const team = groups.find((g) => g.displayName === 'team')!;
    const sub = groups.find((g) => g.displayName === 'sub')!;
    expect(team.id).toBe(await guidOf(`CN=team,${GROUPS}`));
    expect(team.members).toHaveLength(3);
    expect(team.members).toEqual(
      expect.arrayContaining([
        { type: 'User', value: await guidOf(`CN=alice,${PEOPLE}`) },
        { type: 'User', value: await guidOf(`CN=bob,${PEOPLE}`) },
        { type: 'Group', value: sub.id },
      ]),
    );
    expect(sub.members).toEqual([{ type: 'User', value: await guidOf(`CN=carol,${PEOPLE}`) }]);
  });
});

describe('connecting', () => {
  it('check() passes against the DC, binding with a userPrincipalName', async () => {
    const { connector } = makeConnector({ bindDN: 'Administrator@example.org' });
    const result = await connector.check();
    expect(result.details.join('\n')).toContain(`users base ${PEOPLE}: readable`);
    expect(result.ok).toBe(true);
  });

  it('binds as DOMAIN\\user too, and refuses a wrong password with a message that does not echo it', async () => {
    expect((await makeConnector({ bindDN: 'EXAMPLE\\Administrator' }).connector.check()).ok).toBe(true);
    const bad = await makeConnector({ bindPassword: 'Wr0ng-Secret-123' }).connector.check();
    expect(bad.ok).toBe(false);
    expect(bad.details.join('\n')).toMatch(/49/);
    expect(bad.details.join('\n')).not.toContain('Wr0ng-Secret-123');
  });

  it('StartTLS on ldap:// counts as encrypted: initial passwords are set over it', async () => {
    const { connector } = makeConnector({ startTLS: true, tls: { caFile: ad.caFile }, ad: { initialPassword: { mustChange: false } } });
    expect((await connector.check()).ok).toBe(true);
    const { id } = await connector.writer!.createUser({ userName: 'stls.user@example.org', active: true, displayName: 'StartTLS User' });
    const dn = (await dnOfGuid(id))!;
    expect(isDisabled(await uacOf(dn))).toBe(false);
  });

  it('reads the whole domain from its root (referrals to other partitions are not errors)', async () => {
    const { connector, warnings } = makeConnector({ users: { baseDNs: [BASE_DN] }, groups: { baseDNs: [BASE_DN] } });
    const users = await collect(connector.reader!.listUsers());
    expect(byName(users, 'administrator@example.org') ?? users.find((u) => u.userName === 'Administrator')).toMatchObject({ active: true });
    expect(users.find((u) => u.userName === 'krbtgt')?.active).toBe(false);
    expect(byName(users, 'alice@example.org')).toBeDefined();
    const groups = await collect(connector.reader!.listGroups());
    const admins = groups.find((g) => g.displayName === 'Domain Admins')!;
    const administrator = users.find((u) => /^administrator/i.test(u.userName))!;
    expect(admins.members).toContainEqual({ type: 'User', value: administrator.id });
    expect(warnings.filter((w) => !w.code.startsWith('ldap-members-outside') && !w.code.startsWith('ldap-manager'))).toEqual([]);
  });
});

describe('writing', () => {
  const desiredOf = (u: SourceUser): UserInput => {
    const { id: _id, raw: _raw, ...rest } = u;
    return rest;
  };

  it('deactivateUser sets ACCOUNTDISABLE alone; an update with active=true clears it again', async () => {
    // A fresh connector, as in a new run: the writer has to find erin by her objectGUID.
    const { connector } = makeConnector();
    const erin = byName(await collect(connector.reader!.listUsers()), 'erin@example.org')!;
    const dn = `CN=erin,${PEOPLE}`;
    const before = await uacOf(dn);
    expect(before & UAC.DONT_EXPIRE_PASSWORD).toBe(UAC.DONT_EXPIRE_PASSWORD);

    const { connector: run2 } = makeConnector();
    await run2.writer!.deactivateUser(erin.id);
    expect(await uacOf(dn)).toBe(before | UAC.ACCOUNTDISABLE);

    const { connector: run3 } = makeConnector();
    await run3.writer!.updateUser(erin.id, { ...desiredOf(erin), active: true }, ['active']);
    expect(await uacOf(dn)).toBe(before);
  });

  it('creates users disabled (0x202) without an initial password, anchored on the new objectGUID', async () => {
    const { connector } = makeConnector();
    const { id } = await connector.writer!.createUser({ userName: 'frank@example.org', active: true, displayName: 'Frank Null', name: { givenName: 'Frank', familyName: 'Null' }, title: 'Intern' });
    const dn = await dnOfGuid(id);
    expect(dn).toBe(`CN=Frank Null,${PEOPLE}`);
    expect(await uacOf(dn!)).toBe(UAC.NORMAL_ACCOUNT | UAC.ACCOUNTDISABLE);
    const { searchEntries } = await c.search(dn!, { scope: 'base', attributes: ['sAMAccountName', 'userPrincipalName', 'title'] });
    expect(searchEntries[0]).toMatchObject({ sAMAccountName: 'frank', userPrincipalName: 'frank@example.org', title: 'Intern' });

    // Next run (a fresh connector) changes the title: found by objectGUID, the DN is not kept anywhere.
    const { connector: next } = makeConnector();
    await next.writer!.updateUser(id, { userName: 'frank@example.org', active: false, title: 'Engineer' }, ['title']);
    expect((await c.search(dn!, { scope: 'base', attributes: ['title'] })).searchEntries[0]?.title).toBe('Engineer');
  });

  it('with ad.initialPassword: refuses plain LDAP, and over ldaps creates an enabled must-change account', async () => {
    const user: UserInput = { userName: 'gina@example.org', active: true, displayName: 'Gina Pass' };
    const plain = makeConnector({ ad: { initialPassword: { mustChange: true } } }).connector;
    await expect(plain.writer!.createUser(user)).rejects.toBeInstanceOf(RemoteError);
    expect(await dnOfGuidByName('gina')).toBeUndefined();

    const tls = makeConnector({ url: ad.ldapsUrl, tls: { caFile: ad.caFile }, ad: { initialPassword: { mustChange: true } } }).connector;
    const { id } = await tls.writer!.createUser(user);
    const dn = (await dnOfGuid(id))!;
    expect(isDisabled(await uacOf(dn))).toBe(false);
    const { searchEntries } = await c.search(dn, { scope: 'base', attributes: ['pwdLastSet'] });
    expect(searchEntries[0]?.pwdLastSet).toBe('0');
  });

  // AD requires a unique CN per container and a unique sAMAccountName (≤ 20 characters) per domain;
  // HR data has namesakes and long e-mail local parts, so a created account must not depend on
  // either being unique already.
  const samOf = async (id: string) => (await c.search((await dnOfGuid(id))!, { scope: 'base', attributes: ['sAMAccountName'] })).searchEntries[0]?.sAMAccountName;

  it('creates two namesakes in the same container', async () => {
    const { connector } = makeConnector();
    const a = await connector.writer!.createUser({ userName: 'chris.lee@example.org', active: false, displayName: 'Chris Lee' });
    const b = await connector.writer!.createUser({ userName: 'chris.lee2@example.org', active: false, displayName: 'Chris Lee' });
    expect(a.id).not.toBe(b.id);
    expect(await dnOfGuid(a.id)).toBe(`CN=Chris Lee,${PEOPLE}`);
    expect(await dnOfGuid(b.id)).toBe(`CN=Chris Lee 2,${PEOPLE}`);
    // A third namesake whose userName has the same local part as the first: both names numbered.
    const third = await connector.writer!.createUser({ userName: 'chris.lee@sales.example.org', active: false, displayName: 'Chris Lee' });
    expect(await dnOfGuid(third.id)).toBe(`CN=Chris Lee 3,${PEOPLE}`);
    expect([await samOf(a.id), await samOf(b.id), await samOf(third.id)]).toEqual(['chris.lee', 'chris.lee2', 'chris.lee3']);
    // The display name stays the source's; the number is only in the DN.
    const listed = await collect(makeConnector().connector.reader!.listUsers());
    expect(listed.find((u) => u.id === third.id)).toMatchObject({ displayName: 'Chris Lee', userName: 'chris.lee@sales.example.org' });
  });

  it('creates two users whose userNames share the first 20 characters', async () => {
    const { connector } = makeConnector();
    const a = await connector.writer!.createUser({ userName: 'alexandria.montgomery1@example.org', active: false, displayName: 'Alexandria Montgomery One' });
    const b = await connector.writer!.createUser({ userName: 'alexandria.montgomery2@example.org', active: false, displayName: 'Alexandria Montgomery Two' });
    expect([await samOf(a.id), await samOf(b.id)]).toEqual(['alexandria.montgomer', 'alexandria.montgome2']);
  });

  it('creates a group whose sAMAccountName is taken elsewhere in the domain, with a numbered one', async () => {
    // "Domain Users" exists in CN=Users: the same name in our OU is a fine cn, not a free sAMAccountName.
    const { connector } = makeConnector();
    const { id } = await connector.writer!.createGroup({ displayName: 'Domain Users' });
    expect(await dnOfGuid(id)).toBe(`CN=Domain Users,${GROUPS}`);
    expect(await samOf(id)).toBe('Domain Users2');
    const groups = await collect(makeConnector().connector.reader!.listGroups());
    expect(groups.find((g) => g.id === id)?.displayName).toBe('Domain Users');
  });

  it('renames the CN when the display name changes, keeping the objectGUID; numbered on a clash', async () => {
    const { connector } = makeConnector();
    const pat = await connector.writer!.createUser({ userName: 'pat.kim@example.org', active: false, displayName: 'Pat Kim' });
    const jo = await connector.writer!.createUser({ userName: 'jo.park@example.org', active: false, displayName: 'Jo Park', title: 'Dev' });
    // A later run: a fresh connector finds the user by objectGUID.
    const next = makeConnector().connector;
    await next.writer!.updateUser(jo.id, { userName: 'jo.park@example.org', active: false, displayName: 'Jo Parker' }, ['displayName']);
    expect(await dnOfGuid(jo.id)).toBe(`CN=Jo Parker,${PEOPLE}`);
    const entry = (await c.search(`CN=Jo Parker,${PEOPLE}`, { scope: 'base', attributes: ['displayName', 'title', 'sAMAccountName'] })).searchEntries[0];
    expect(entry).toMatchObject({ displayName: 'Jo Parker', title: 'Dev', sAMAccountName: 'jo.park' });
    // Renamed onto a namesake: numbered. A change of something else keeps the number.
    await next.writer!.updateUser(jo.id, { userName: 'jo.park@example.org', active: false, displayName: 'Pat Kim' }, ['displayName']);
    expect(await dnOfGuid(jo.id)).toBe(`CN=Pat Kim 2,${PEOPLE}`);
    await next.writer!.updateUser(jo.id, { userName: 'jo.park@example.org', active: false, displayName: 'Pat Kim', title: 'Lead' }, ['title']);
    expect(await dnOfGuid(jo.id)).toBe(`CN=Pat Kim 2,${PEOPLE}`);
    expect(await dnOfGuid(pat.id)).toBe(`CN=Pat Kim,${PEOPLE}`);
    const listed = await collect(makeConnector().connector.reader!.listUsers());
    expect(listed.find((u) => u.id === jo.id)).toMatchObject({ displayName: 'Pat Kim', title: 'Lead' });
  });

  it('keeps a CN someone named by another convention when the display name changes', async () => {
    const dn = await addUser(c, PEOPLE, 'hank', { displayName: 'Hank Hill' });
    const id = await guidOf(dn);
    await makeConnector().connector.writer!.updateUser(id, { userName: 'hank@example.org', active: false, displayName: 'Hank R. Hill' }, ['displayName']);
    expect(await dnOfGuid(id)).toBe(dn);
    expect((await c.search(dn, { scope: 'base', attributes: ['displayName'] })).searchEntries[0]?.displayName).toBe('Hank R. Hill');
  });

  it('numbers the CN when a move by placement lands on a namesake', async () => {
    const placed = () =>
      makeConnector({ users: { baseDNs: [PEOPLE], placement: { ou: `OU={{department}},${PEOPLE}`, createMissing: true } } }).connector;
    const w = placed().writer!;
    const a = await w.createUser({ userName: 'sam.lee@example.org', active: false, displayName: 'Sam Lee', enterprise: { department: 'Ops' } });
    const b = await w.createUser({ userName: 'sam.lee.dev@example.org', active: false, displayName: 'Sam Lee', enterprise: { department: 'Dev' } });
    expect(await dnOfGuid(b.id)).toBe(`CN=Sam Lee,OU=Dev,${PEOPLE}`);
    await placed().writer!.updateUser(b.id, { userName: 'sam.lee.dev@example.org', active: false, displayName: 'Sam Lee', enterprise: { department: 'Ops' } }, ['enterprise.department']);
    expect(await dnOfGuid(b.id)).toBe(`CN=Sam Lee 2,OU=Ops,${PEOPLE}`);
    expect(await dnOfGuid(a.id)).toBe(`CN=Sam Lee,OU=Ops,${PEOPLE}`);
  });

  // The default map keeps externalId (the source's id) in employeeID, which the AD schema caps at
  // 16 characters; ids from SCIM apps or the embedded directory are 36-character UUIDs.
  it('creates a user whose externalId is a UUID (externalId longer than 16 characters)', async () => {
    const { connector } = makeConnector();
    const externalId = '5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f';
    const { id } = await connector.writer!.createUser({ userName: 'uuid.user@example.org', externalId, active: false, displayName: 'Uuid User' });
    const users = await collect(makeConnector().connector.reader!.listUsers());
    expect(users.find((u) => u.id === id)?.externalId).toBe(externalId);
  });

  async function dnOfGuidByName(sam: string): Promise<string | undefined> {
    const { searchEntries } = await c.search(BASE_DN, { scope: 'sub', filter: `(sAMAccountName=${sam})`, attributes: ['1.1'] });
    return searchEntries[0]?.dn;
  }
});

describe('large groups (ranged retrieval)', () => {
  const BIG = `OU=Big,${BASE_DN}`;
  const COUNT = 1600;
  let members: string[] = [];

  beforeAll(async () => {
    await addOu(c, BIG);
    members = await addUsers(ad, BIG, 'm', COUNT, 4);
    await c.add(`CN=big,${BIG}`, { objectClass: ['top', 'group'] });
    for (let i = 0; i < COUNT - 1; i += 500) await c.modify(`CN=big,${BIG}`, addValues('member', members.slice(i, Math.min(i + 500, COUNT - 1))));
  }, SAMBA_HOOK_TIMEOUT);

  const big = () => makeConnector({ users: { baseDNs: [BIG] }, groups: { baseDNs: [BIG] }, ad: { rangeSize: 700 } });

  it('listGroups returns every member of a 1,599-member group exactly once', async () => {
    const { connector } = big();
    const users = await collect(connector.reader!.listUsers());
    const groups = await collect(connector.reader!.listGroups());
    const group = groups.find((g) => g.displayName === 'big')!;
    expect(group.members).toHaveLength(COUNT - 1);
    expect(new Set(group.members.map((m) => m.value)).size).toBe(COUNT - 1);
    const ids = new Set(users.filter((u) => u.userName !== `m${String(COUNT - 1).padStart(4, '0')}@example.org`).map((u) => u.id));
    expect(group.members.every((m) => m.type === 'User' && ids.has(m.value))).toBe(true);
  });

  it('listGroups asks for member;range=… itself (Samba only slices when asked, so this is the only way to exercise it)', async () => {
    // Every search the connector makes: listings go through LdapConnection.pages (their own
    // socket, see fast-search.ts), single searches through ldapts clients.
    const search = vi.spyOn(Client.prototype, 'search');
    const paged = vi.spyOn(Client.prototype, 'searchPaginated');
    const listed = vi.spyOn(LdapConnection.prototype, 'pages');
    try {
      const { connector } = big();
      await collect(connector.reader!.listGroups());
      const asked = [...listed.mock.calls, ...paged.mock.calls, ...search.mock.calls].flatMap((call) => (call[1]?.attributes ?? []) as string[]);
      expect(asked.filter((a) => /^member;range=/i.test(a)).sort()).toEqual(['member;range=0-699', 'member;range=1400-2099', 'member;range=700-1399']);
      expect(asked.filter((a) => /^member$/i.test(a))).toEqual([]);
    } finally {
      search.mockRestore();
      paged.mockRestore();
      listed.mockRestore();
    }
  });

  it('addMembers and removeMembers on the large group read its members range by range', async () => {
    const { connector } = big();
    const users = await collect(connector.reader!.listUsers());
    const group = (await collect(connector.reader!.listGroups())).find((g) => g.displayName === 'big')!;
    const last = users.find((u) => u.userName === `m${String(COUNT - 1).padStart(4, '0')}@example.org`)!;
    const first = users.find((u) => u.userName === 'm0000@example.org')!;
    const { connector: w } = big();
    await w.writer!.addMembers(group.id, [{ type: 'User', value: last.id }, { type: 'User', value: first.id }]);
    const count = async () => ((await c.search(`CN=big,${BIG}`, { scope: 'base', attributes: ['member'] })).searchEntries[0]?.member as string[]).length;
    expect(await count()).toBe(COUNT);
    await w.writer!.removeMembers(group.id, [{ type: 'User', value: first.id }]);
    expect(await count()).toBe(COUNT - 1);
  });
});

describe('delta reads (uSNChanged)', () => {
  it('lists only the users and groups changed after the watermark', async () => {
    const { connector } = makeConnector();
    const w = await connector.delta!.watermark();
    expect(w).toMatch(/^usn:\d+$/);
    expect(Number(w.slice(4))).toBe(await highestCommittedUSN(c));
    expect(await collect(connector.delta!.changedUsers(w))).toEqual([]);

    await c.modify(`CN=alice,${PEOPLE}`, replace('title', 'Principal Engineer'));
    const changed = await collect(connector.delta!.changedUsers(w));
    expect(changed.map((u) => [u.userName, u.title])).toEqual([['alice@example.org', 'Principal Engineer']]);
    expect(await collect(connector.delta!.changedGroups(w))).toEqual([]);

    const w2 = await connector.delta!.watermark();
    await c.modify(`CN=sub,${GROUPS}`, addValues('member', [`CN=dave,${PEOPLE}`]));
    const groups = await collect(connector.delta!.changedGroups(w2));
    expect(groups.map((g) => g.displayName)).toEqual(['sub']);
    expect(groups[0]!.members).toHaveLength(2);
    // Adding a member changes the group, not the user.
    expect(await collect(connector.delta!.changedUsers(w2))).toEqual([]);
  });
});

describe('examples, run through the CLI as a user would', () => {
  const STAFF = `OU=Staff,${BASE_DN}`;
  let dir: string;
  let env: Record<string, string>;
  let people: Person[];
  const staffUsers = async () =>
    (await c.search(STAFF, { scope: 'sub', filter: '(&(objectCategory=person)(objectClass=user))', attributes: ['sAMAccountName', 'employeeID', 'userAccountControl', 'manager', 'department', 'title'] })).searchEntries;

  beforeAll(async () => {
    await addOu(c, STAFF);
    dir = await workspace();
    people = [
      person(1, { title: 'CEO', department: 'Management' }),
      ...[2, 3, 4].map((i) => person(i, { manager: 'E0001' })),
      // A department that needs DN escaping (+) and is not ASCII.
      person(5, { manager: 'E0001', department: 'R+D Zürich' }),
      person(6, { status: 'terminated' }),
    ];
    await writeFile(join(dir, 'employees.csv'), csvOf(people));
    await copyFile(join(repoRoot, 'examples', 'hr-csv-to-ad.yaml'), join(dir, 'hr-csv-to-ad.yaml'));
    await copyFile(join(repoRoot, 'examples', 'ad-to-scim.yaml'), join(dir, 'ad-to-scim.yaml'));
    env = {
      HR_CSV: './employees.csv',
      LDAP_URL: ad.ldapsUrl,
      LDAP_BIND_DN: ad.bindDN,
      LDAP_BIND_PASSWORD: ad.bindPassword,
      LDAP_BASE_DN: STAFF,
      // How a user trusts a private CA without touching the example.
      NODE_EXTRA_CA_CERTS: ad.caFile,
    };
  }, SAMBA_HOOK_TIMEOUT);

  it('hr-csv-to-ad.yaml: creates users in an OU per department, and the second run writes nothing', async () => {
    const first = await runCli(['--config', 'hr-csv-to-ad.yaml', 'run'], { cwd: dir, env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain(ad.bindPassword);

    const users = await staffUsers();
    expect(users.map((u) => u.employeeID).sort()).toEqual(['E0001', 'E0002', 'E0003', 'E0004', 'E0005']);
    const ous = (await c.search(STAFF, { scope: 'one', filter: '(objectClass=organizationalUnit)', attributes: ['ou'] })).searchEntries;
    expect(ous.map((o) => o.ou).sort()).toEqual(['Engineering', 'Groups', 'Management', 'R+D Zürich', 'Sales']);
    for (const p of people.slice(0, 5)) {
      const u = users.find((x) => x.employeeID === p.id)!;
      const ou = ous.find((o) => o.ou === p.department)!;
      expect(u.dn, p.id).toBe(`CN=${p.first} ${p.last},${ou.dn}`);
      expect(u.department).toBe(p.department);
      expect(isDisabled(Number(u.userAccountControl)), p.id).toBe(false); // initialPassword: enabled
    }
    expect(users.find((u) => u.employeeID === 'E0003')!.manager).toBe(`CN=First1 Last1,OU=Management,${STAFF}`);
    const groups = (await c.search(`OU=Groups,${STAFF}`, { scope: 'one', filter: '(objectClass=group)', attributes: ['cn', 'member'] })).searchEntries;
    expect(groups.map((g) => g.cn).sort()).toEqual(['Engineering', 'Management', 'R+D Zürich', 'Sales']);

    const usn = await highestCommittedUSN(c);
    const second = await runCli(['--config', 'hr-csv-to-ad.yaml', 'run', '--detailed-exitcode'], { cwd: dir, env });
    expect(second.stderr).toBe('');
    expect(second.stdout).toContain('No changes.');
    expect(second.code).toBe(0);
    expect(await highestCommittedUSN(c)).toBe(usn); // not one write
  });

  it('hr-csv-to-ad.yaml: a department change moves the account (same objectGUID), a leaver is disabled', async () => {
    const moved = `CN=First2 Last2,OU=Engineering,${STAFF}`;
    const guid = await guidOf(moved);
    people[1] = { ...people[1]!, department: 'Sales' };
    people[3] = { ...people[3]!, status: 'terminated' };
    await writeFile(join(dir, 'employees.csv'), csvOf(people));
    const run = await runCli(['--config', 'hr-csv-to-ad.yaml', 'run', '--allow-deletes'], { cwd: dir, env });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await dnOfGuid(guid)).toBe(`CN=First2 Last2,OU=Sales,${STAFF}`);
    const leaver = (await staffUsers()).find((u) => u.employeeID === 'E0004')!;
    expect(isDisabled(Number(leaver.userAccountControl))).toBe(true);
    const again = await runCli(['--config', 'hr-csv-to-ad.yaml', 'run', '--detailed-exitcode'], { cwd: dir, env });
    expect(again.stdout).toContain('No changes.');
    expect(again.code).toBe(0);
  });

  describe('ad-to-scim.yaml', () => {
    let peer: ScimmyPeer;
    beforeAll(async () => {
      peer = await startScimmyPeer();
      Object.assign(env, { SCIM_URL: peer.baseUrl, SCIM_TOKEN: peer.token });
    });
    afterAll(async () => {
      await peer?.close();
    });

    it('copies AD users (with active from UAC) and groups into a SCIM app, then reads only changes', async () => {
      const first = await runCli(['--config', 'ad-to-scim.yaml', 'run'], { cwd: dir, env });
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const scimUsers = [...peer.users.values()];
      const staff = await staffUsers();
      // Disabled accounts are not created in the app (inactive and never provisioned).
      const enabled = staff.filter((u) => !isDisabled(Number(u.userAccountControl)));
      expect(enabled.length).toBe(staff.length - 1);
      expect(scimUsers).toHaveLength(enabled.length);
      for (const u of enabled) {
        const guid = await guidOf(u.dn);
        expect(scimUsers.find((x) => x.externalId === guid), u.dn).toMatchObject({ active: true, userName: expect.stringMatching(/@example\.com$/) });
      }
      const sales = [...peer.groups.values()].find((g) => g.displayName === 'Sales');
      expect((sales?.members as unknown[] | undefined)?.length).toBeGreaterThan(0);

      const second = await runCli(['--config', 'ad-to-scim.yaml', 'run', '--detailed-exitcode'], { cwd: dir, env });
      expect(second.stderr).toBe('');
      expect(second.stdout).toContain('No changes.');
      expect(second.code).toBe(0);

      // A change in AD reaches the app on the next (delta) run.
      const target = staff.find((u) => u.employeeID === 'E0005')!;
      await c.modify(target.dn, replace('title', 'Staff Engineer'));
      const before = peer.requests.length;
      const third = await runCli(['--config', 'ad-to-scim.yaml', 'run'], { cwd: dir, env });
      expect(third.stderr).toBe('');
      expect(third.code).toBe(0);
      const guid = await guidOf(target.dn);
      expect([...peer.users.values()].find((x) => x.externalId === guid)?.title).toBe('Staff Engineer');
      const writes = peer.requests.slice(before).filter((r) => r.method !== 'GET');
      expect(writes).toHaveLength(1);
    });
  });
});
