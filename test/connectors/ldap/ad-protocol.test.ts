/**
 * connectors/ldap/ad/* checked against a real AD protocol peer (Samba AD DC) with plain ldapts:
 * every AD detail the connector relies on is observed on the wire here, not assumed.
 */
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { guidFilter, guidFilterValue, guidToBytes, guidToString } from '../../../connectors/ldap/ad/guid.js';
import { UAC, isDisabled, withDisabled } from '../../../connectors/ldap/ad/uac.js';
import { dateToFileTime, fileTimeToDate, isExpired } from '../../../connectors/ldap/ad/filetime.js';
import { randomPassword, unicodePwd } from '../../../connectors/ldap/ad/password.js';
import { readAllValues } from '../../../connectors/ldap/ad/ranged.js';
import { BASE_DN, SAMBA_HOOK_TIMEOUT, startSambaAd, type SambaAd } from '../../support/samba-ad.js';
import { addOu, addUser, addUsers, addValues, admin, deleteValues, highestCommittedUSN, ldapsearch, replace, sambaToolUserShow } from './ad-helpers.js';

let ad: SambaAd;
let c: Client;
const OU = `OU=Proto,${BASE_DN}`;

beforeAll(async () => {
  ad = await startSambaAd();
  c = await admin(ad);
  await addOu(c, OU);
}, SAMBA_HOOK_TIMEOUT);

afterAll(async () => {
  await c?.unbind();
  await ad?.stop();
}, SAMBA_HOOK_TIMEOUT);

async function attr(dn: string, name: string): Promise<string> {
  const { searchEntries } = await c.search(dn, { scope: 'base', attributes: [name] });
  const v = searchEntries[0]?.[name];
  if (typeof v !== 'string') throw new Error(`${dn}: ${name} = ${JSON.stringify(v)}`);
  return v;
}
const uacOf = async (dn: string) => Number(await attr(dn, 'userAccountControl'));

async function bindAs(upn: string, password: string): Promise<void> {
  const client = new Client({ url: ad.url });
  try {
    await client.bind(upn, password);
  } finally {
    await client.unbind();
  }
}

describe('objectGUID', () => {
  it('reads as 16 bytes whose canonical string is what samba-tool prints, and finds the object by filter', async () => {
    const dn = await addUser(c, OU, 'guid.user');
    const { searchEntries } = await c.search(dn, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
    const raw = searchEntries[0]?.objectGUID;
    expect(Buffer.isBuffer(raw)).toBe(true);
    expect((raw as Buffer).length).toBe(16);
    const guid = guidToString(raw as Buffer);

    expect((await sambaToolUserShow(ad, 'guid.user')).objectGUID).toBe(guid);
    expect(guidToBytes(guid).equals(raw as Buffer)).toBe(true);

    // The RFC 4515 string form, as a standard client (OpenLDAP's ldapsearch) sends it.
    const cli = await ldapsearch(ad, `(objectGUID=${guidFilterValue(guid)})`);
    expect(cli).toContain(`dn: ${dn}`);
    expect(cli).toContain('numEntries: 1');
    expect(await ldapsearch(ad, `(objectGUID=${guidFilterValue(guid.toUpperCase())})`)).toContain(`dn: ${dn}`);

    // With ldapts the filter must carry the bytes (guidFilter); a GUID differing in one byte finds nothing.
    const found = await c.search(BASE_DN, { scope: 'sub', filter: guidFilter(guid), attributes: ['sAMAccountName'] });
    expect(found.searchEntries.map((e) => e.dn)).toEqual([dn]);
    const other = guid.slice(0, -1) + (guid.endsWith('0') ? '1' : '0');
    expect((await c.search(BASE_DN, { scope: 'sub', filter: guidFilter(other) })).searchEntries).toEqual([]);

    // Why guidFilter exists: ldapts 8.2 re-encodes `\xx` ≥ 0x80 from a filter string as UTF-8.
    if ((raw as Buffer).some((b) => b >= 0x80)) {
      const viaString = await c.search(BASE_DN, { scope: 'sub', filter: `(objectGUID=${guidFilterValue(guid)})` });
      expect(viaString.searchEntries).toEqual([]);
    }
  });

  it('stays the same across a rename (the DN is no anchor)', async () => {
    const dn = await addUser(c, OU, 'before.rename');
    const read = async (d: string) =>
      guidToString((await c.search(d, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] })).searchEntries[0]!.objectGUID as Buffer);
    const guid = await read(dn);
    await c.modifyDN(dn, `CN=after.rename,${OU}`);
    expect(await read(`CN=after.rename,${OU}`)).toBe(guid);
  });
});

describe('userAccountControl', () => {
  it('disables and enables with ACCOUNTDISABLE alone, keeping DONT_EXPIRE_PASSWORD', async () => {
    const dn = await addUser(c, OU, 'uac.user');
    const created = await uacOf(dn);
    // Created over LDAP without a password: disabled, password not required, normal account.
    expect(created).toBe(UAC.NORMAL_ACCOUNT | UAC.PASSWD_NOTREQD | UAC.ACCOUNTDISABLE);
    expect(isDisabled(created)).toBe(true);

    await c.modify(dn, replace('userAccountControl', String(withDisabled(created, false) | UAC.DONT_EXPIRE_PASSWORD)));
    const enabled = await uacOf(dn);
    expect(isDisabled(enabled)).toBe(false);
    expect(enabled & UAC.DONT_EXPIRE_PASSWORD).toBe(UAC.DONT_EXPIRE_PASSWORD);

    await c.modify(dn, replace('userAccountControl', String(withDisabled(enabled, true))));
    const disabled = await uacOf(dn);
    expect(isDisabled(disabled)).toBe(true);
    expect(disabled).toBe(enabled | UAC.ACCOUNTDISABLE);

    await c.modify(dn, replace('userAccountControl', String(withDisabled(disabled, false))));
    expect(await uacOf(dn)).toBe(enabled);
  });

  it('Samba (unlike Windows) enables an account created as 0x202 without a password', async () => {
    // Windows refuses this (password policy) unless PASSWD_NOTREQD is set; a job that relies on it
    // converges here and fails on a real DC: AD targets need ad.initialPassword to enable accounts.
    const dn = await addUser(c, OU, 'nopwd.user', { userAccountControl: String(UAC.NORMAL_ACCOUNT | UAC.ACCOUNTDISABLE) });
    expect(await uacOf(dn)).toBe(UAC.NORMAL_ACCOUNT | UAC.ACCOUNTDISABLE);
    await c.modify(dn, replace('userAccountControl', String(UAC.NORMAL_ACCOUNT)));
    expect(await uacOf(dn)).toBe(UAC.NORMAL_ACCOUNT);
  });
});

describe('accountExpires', () => {
  it('round-trips a date, reads never as undefined, and an expired account cannot bind', async () => {
    const password = randomPassword();
    const tls = await admin(ad, true);
    try {
      const dn = await addUser(tls, OU, 'expiring.user');
      await tls.modify(dn, replace('unicodePwd', unicodePwd(password)));
      await tls.modify(dn, replace('userAccountControl', String(UAC.NORMAL_ACCOUNT)));
    } finally {
      await tls.unbind();
    }
    const dn = `CN=expiring.user,${OU}`;
    expect(await attr(dn, 'accountExpires')).toBe('9223372036854775807');
    expect(fileTimeToDate(await attr(dn, 'accountExpires'))).toBeUndefined();

    const when = new Date('2031-02-03T04:05:06.789Z');
    await c.modify(dn, replace('accountExpires', dateToFileTime(when)));
    expect(fileTimeToDate(await attr(dn, 'accountExpires'))?.toISOString()).toBe(when.toISOString());
    expect(isExpired(await attr(dn, 'accountExpires'), new Date())).toBe(false);
    await bindAs('expiring.user@example.org', password);

    await c.modify(dn, replace('accountExpires', dateToFileTime(new Date(Date.now() - 86_400_000))));
    expect(isExpired(await attr(dn, 'accountExpires'), new Date())).toBe(true);
    await expect(bindAs('expiring.user@example.org', password)).rejects.toMatchObject({ code: 49 });

    await c.modify(dn, replace('accountExpires', '0'));
    expect(isExpired(await attr(dn, 'accountExpires'), new Date())).toBe(false);
    await bindAs('expiring.user@example.org', password);
  });
});

describe('unicodePwd', () => {
  it('is set over ldaps; the user then binds with it, and pwdLastSet=0 forces a change', async () => {
    const dn = await addUser(c, OU, 'pwd.user');
    const password = randomPassword();
    const tls = await admin(ad, true);
    try {
      await tls.modify(dn, replace('unicodePwd', unicodePwd(password)));
      await tls.modify(dn, replace('userAccountControl', String(UAC.NORMAL_ACCOUNT)));
    } finally {
      await tls.unbind();
    }
    await bindAs('pwd.user@example.org', password);
    await expect(bindAs('pwd.user@example.org', `${password}x`)).rejects.toMatchObject({ code: 49 });

    // pwdLastSet=0 is "must change at next logon": AD refuses the simple bind until it is changed.
    await c.modify(dn, replace('pwdLastSet', '0'));
    await expect(bindAs('pwd.user@example.org', password)).rejects.toMatchObject({ code: 49 });
  });

  it('Samba (unlike Windows) also accepts it over plain LDAP: "ldaps only" is the connector\'s own rule', async () => {
    const dn = await addUser(c, OU, 'plain.pwd.user');
    await c.modify(dn, replace('unicodePwd', unicodePwd(randomPassword())));
  });

  it('random passwords pass the domain complexity check that rejects a simple one', async () => {
    const dn = await addUser(c, OU, 'complex.user');
    const tls = await admin(ad, true);
    try {
      await tls.modify(BASE_DN, replace('pwdProperties', '1')); // DOMAIN_PASSWORD_COMPLEX
      await expect(tls.modify(dn, replace('unicodePwd', unicodePwd('simplepassword')))).rejects.toMatchObject({ code: 19 }); // constraintViolation
      for (let i = 0; i < 5; i++) await tls.modify(dn, replace('unicodePwd', unicodePwd(randomPassword())));
    } finally {
      await tls.modify(BASE_DN, replace('pwdProperties', '0'));
      await tls.unbind();
    }
  });
});

describe('ranged retrieval', () => {
  const BIG = `OU=Big,${BASE_DN}`;
  const GROUP = `CN=big-group,${BIG}`;
  const COUNT = 1600;
  let members: string[] = [];

  beforeAll(async () => {
    await addOu(c, BIG);
    const t = Date.now();
    members = await addUsers(ad, BIG, 'm', COUNT, 4);
    await c.add(GROUP, { objectClass: ['top', 'group'], sAMAccountName: 'big-group' });
    for (let i = 0; i < members.length; i += 500) await c.modify(GROUP, addValues('member', members.slice(i, i + 500)));
    console.log(`ad-protocol: ${COUNT} users + a ${COUNT}-member group over LDAP in ${Date.now() - t} ms`);
  }, SAMBA_HOOK_TIMEOUT);

  const norm = (list: string[]) => list.map((d) => d.toLowerCase()).sort();

  it('Samba sends every value when no range is asked (why the tests ask explicitly)', async () => {
    const { searchEntries } = await c.search(GROUP, { scope: 'base', attributes: ['member'] });
    expect(searchEntries[0]?.member).toHaveLength(COUNT);
  });

  it('follows member;range=0-1499 from a first answer to the end, every member exactly once', async () => {
    const { searchEntries } = await c.search(GROUP, { scope: 'base', attributes: ['member;range=0-1499'] });
    const first = searchEntries[0]!;
    expect(first['member;range=0-1499']).toHaveLength(1500);
    const all = await readAllValues(c, GROUP, 'member', first, 1500);
    expect(all).toHaveLength(COUNT);
    expect(norm(all)).toEqual(norm(members));
  });

  it('asks range by range on its own, and the server closes with low-*', async () => {
    const search = vi.spyOn(c, 'search');
    try {
      const all = await readAllValues(c, GROUP, 'member', undefined, 700);
      expect(norm(all)).toEqual(norm(members));
      expect(search.mock.calls.map((call) => call[1]?.attributes)).toEqual([
        ['member;range=0-699'],
        ['member;range=700-1399'],
        ['member;range=1400-2099'],
      ]);
      const last = await search.mock.results[2]!.value;
      expect(Object.keys(last.searchEntries[0])).toContain('member;range=1400-*');
    } finally {
      search.mockRestore();
    }
  });

  it('asks for the attribute itself when the first answer does not mention it', async () => {
    const { searchEntries } = await c.search(GROUP, { scope: 'base', attributes: ['cn'] });
    expect(Object.keys(searchEntries[0]!).some((k) => k.toLowerCase().startsWith('member'))).toBe(false);
    expect(norm(await readAllValues(c, GROUP, 'member', searchEntries[0], 1500))).toEqual(norm(members));
    // An answer that asked and got nothing (ldapts lists the asked name with no values) is an empty group.
    await c.add(`CN=empty2,${BIG}`, { objectClass: ['top', 'group'] });
    const asked = (await c.search(`CN=empty2,${BIG}`, { scope: 'base', attributes: ['member;range=0-1499'] })).searchEntries[0]!;
    const search = vi.spyOn(c, 'search');
    try {
      expect(await readAllValues(c, `CN=empty2,${BIG}`, 'member', asked, 1500)).toEqual([]);
      expect(search).not.toHaveBeenCalled();
    } finally {
      search.mockRestore();
    }
  });

  it('reads small and empty groups', async () => {
    await c.add(`CN=small,${BIG}`, { objectClass: ['top', 'group'], member: members.slice(0, 3) });
    await c.add(`CN=empty,${BIG}`, { objectClass: ['top', 'group'] });
    expect(norm(await readAllValues(c, `CN=small,${BIG}`, 'member', undefined, 1500))).toEqual(norm(members.slice(0, 3)));
    expect(norm(await readAllValues(c, `CN=small,${BIG}`, 'member'))).toEqual(norm(members.slice(0, 3)));
    expect(await readAllValues(c, `CN=empty,${BIG}`, 'member', undefined, 1500)).toEqual([]);
    expect(await readAllValues(c, `CN=empty,${BIG}`, 'member')).toEqual([]);
  });

  it('fails instead of returning a partial list when the group shrinks between ranges', async () => {
    const { searchEntries } = await c.search(GROUP, { scope: 'base', attributes: ['member;range=0-1499'] });
    await c.modify(GROUP, deleteValues('member', members.slice(0, 200)));
    await expect(readAllValues(c, GROUP, 'member', searchEntries[0], 1500)).rejects.toThrow(/range=1500/);
  });
});

describe('uSNChanged delta', () => {
  it('(uSNChanged>=N+1) after highestCommittedUSN N returns exactly the changed objects', async () => {
    const changed = await addUser(c, OU, 'delta.changed');
    await addUser(c, OU, 'delta.untouched');
    const n = await highestCommittedUSN(c);
    const since = async () =>
      (await c.search(BASE_DN, { scope: 'sub', filter: `(&(objectCategory=person)(objectClass=user)(uSNChanged>=${n + 1}))`, attributes: ['sAMAccountName', 'uSNChanged'] }))
        .searchEntries;
    expect(await since()).toEqual([]);

    await c.modify(changed, replace('description', 'touched'));
    await addUser(c, OU, 'delta.new');
    const entries = await since();
    expect(entries.map((e) => e.sAMAccountName).sort()).toEqual(['delta.changed', 'delta.new']);
    for (const e of entries) expect(Number(e.uSNChanged)).toBeGreaterThan(n);
    expect(await highestCommittedUSN(c)).toBeGreaterThan(n);
  });
});
