import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldifEntry, startSlapd } from '../../support/slapd.js';
import type { Slapd } from '../../support/slapd.js';
import { makeConnector, person, readAll, standardLdif } from './openldap-fixtures.js';
import { ConfigError } from '../../../src/core/errors.js';
import { ldapConfigSchema } from '../../../connectors/ldap/config.js';
import { resolveSettings } from '../../../connectors/ldap/settings.js';

describe('ldap connector (openldap): reading', () => {
  let s: Slapd;
  beforeAll(async () => {
    s = await startSlapd();
    await s.add(standardLdif(s));
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('maps inetOrgPerson attributes to the SCIM-shaped model with entryUUID anchors', async () => {
    const { connector } = makeConnector(s);
    const { users } = await readAll(connector);
    await connector.close();
    const uuids = (await s.search(`ou=people,${s.suffix}`, '(uid=p0*)', ['entryUUID'])).match(/entryUUID: (\S+)/g)!.map((l) => l.slice(11));
    const p00 = users.find((u) => u.userName === 'p00')!;
    const p03 = users.find((u) => u.userName === 'p03')!;
    expect(uuids).toContain(p03.id);
    expect(p03).toMatchObject({
      userName: 'p03',
      active: true,
      displayName: 'p03 Person',
      title: 'Engineer',
      name: { givenName: 'p03', familyName: 'Person' },
      emails: [{ value: 'p03@example.org', type: 'work', primary: true }],
      enterprise: { department: 'Sales', manager: { value: p00.id } },
    });
    expect(p00.enterprise?.manager).toBeUndefined();
    // raw carries every attribute for job templates, the DN included; secrets never.
    expect(p03.raw).toMatchObject({ dn: `uid=p03,ou=people,${s.suffix}`, uid: 'p03', departmentNumber: 'Sales' });
    expect(Object.keys(p03.raw!).map((k) => k.toLowerCase())).not.toContain('userpassword');
    expect(p00.raw!.manager, 'an absent attribute is absent from raw').toBeUndefined();
  });

  it('resolves member DNs to anchors: groupOfNames, groupOfUniqueNames, posixGroup, nested groups', async () => {
    const { connector, warnings } = makeConnector(s);
    const { users, groups } = await readAll(connector);
    await connector.close();
    const byName = new Map(users.map((u) => [u.userName, u.id]));
    const g = (name: string) => groups.find((x) => x.displayName === name)!;
    const keys = (name: string) => g(name).members.map((m) => `${m.type}:${m.value}`).sort();
    expect(keys('staff')).toEqual([...['p00', 'p01', 'p02', 'p03', 'p04', 'p05'].map((u) => `User:${byName.get(u)}`), `Group:${g('leads').id}`].sort());
    // A member DN spelt in another case and with spaces still resolves.
    expect(keys('leads')).toEqual(['p00', 'p01'].map((u) => `User:${byName.get(u)}`).sort());
    expect(keys('posix')).toEqual(['p06', 'p07'].map((u) => `User:${byName.get(u)}`).sort());
    // Members outside the configured bases are dropped, with one warning carrying the count.
    expect(keys('outside')).toEqual([`User:${byName.get('p08')}`]);
    const outside = warnings.filter((w) => w.code === 'ldap-members-outside-scope');
    expect(outside).toHaveLength(1);
    expect(outside[0]!.message).toMatch(/^2 group member/);
  });

  it('flattens nested groups when configured', async () => {
    const { connector } = makeConnector(s, { groups: { baseDNs: [`ou=groups,${s.suffix}`], nested: 'flatten' } });
    const { users, groups } = await readAll(connector);
    await connector.close();
    const staff = groups.find((x) => x.displayName === 'staff')!;
    expect(staff.members.every((m) => m.type === 'User')).toBe(true);
    expect(staff.members).toHaveLength(6);
    expect(users).toHaveLength(12);
  });

  it('reads several base DNs with a scope, without duplicates from overlapping bases', async () => {
    await s.add(
      [
        ldifEntry(`ou=contractors,${s.suffix}`, { objectClass: 'organizationalUnit', ou: 'contractors' }),
        person(s, 'c1', {}, `ou=contractors,${s.suffix}`),
        ldifEntry(`ou=nested,ou=contractors,${s.suffix}`, { objectClass: 'organizationalUnit', ou: 'nested' }),
        person(s, 'c2', {}, `ou=nested,ou=contractors,${s.suffix}`),
      ].join('\n'),
    );
    const sub = makeConnector(s, { users: { baseDNs: [`ou=people,${s.suffix}`, `ou=contractors,${s.suffix}`, s.suffix] } });
    const all = (await readAll(sub.connector)).users.map((u) => u.userName);
    await sub.connector.close();
    expect(all).toHaveLength(14);
    expect(new Set(all).size).toBe(14);
    const one = makeConnector(s, { users: { baseDNs: [`ou=contractors,${s.suffix}`], scope: 'one' } });
    expect((await readAll(one.connector)).users.map((u) => u.userName)).toEqual(['c1']);
    await one.connector.close();
  });

  it('reads active from the configured deactivate attribute or OU', async () => {
    await s.modify(`dn: uid=p11,ou=people,${s.suffix}\nchangetype: modify\nreplace: description\ndescription: disabled\n`);
    const byAttr = makeConnector(s, { deactivate: { attribute: 'description', value: 'Disabled' } });
    const users = (await readAll(byAttr.connector)).users;
    await byAttr.connector.close();
    expect(users.filter((u) => !u.active).map((u) => u.userName)).toEqual(['p11']);
    const byOu = makeConnector(s, { users: { baseDNs: [s.suffix] }, deactivate: { moveTo: `ou=nested,ou=contractors,${s.suffix}` } });
    const users2 = (await readAll(byOu.connector)).users;
    await byOu.connector.close();
    expect(users2.filter((u) => !u.active).map((u) => u.userName)).toEqual(['c2']);
  });

  it('runs two listings at once on one connector, consumed in turns', async () => {
    const { connector } = makeConnector(s, { pageSize: 5 });
    const a = connector.reader!.listUsers()[Symbol.asyncIterator]();
    const b = connector.reader!.listUsers()[Symbol.asyncIterator]();
    const seen: [string[], string[]] = [[], []];
    let doneA = false;
    let doneB = false;
    while (!doneA || !doneB) {
      if (!doneA) {
        const r = await a.next();
        if (r.done) doneA = true;
        else seen[0].push(r.value.userName);
      }
      if (!doneB) {
        const r = await b.next();
        if (r.done) doneB = true;
        else seen[1].push(r.value.userName);
      }
    }
    await connector.close();
    expect(seen[0]).toHaveLength(12);
    expect(seen[1].sort()).toEqual(seen[0].sort());
  });

  it('fails the listing with a clear error when a base DN does not exist', async () => {
    const { connector } = makeConnector(s, { users: { baseDNs: [`ou=nope,${s.suffix}`] } });
    await expect(readAll(connector)).rejects.toThrow(/listing users under ou=nope,dc=example,dc=org .*LDAP 32 \(NoSuchObjectError\)/);
    await connector.close();
  });

  it('check() reports the server, naming contexts and readable bases', async () => {
    const { connector } = makeConnector(s);
    const result = await connector.check();
    await connector.close();
    expect(result.ok).toBe(true);
    expect(result.details.join('\n')).toContain('naming contexts: dc=example,dc=org');
    expect(result.details.join('\n')).toContain(`users base ou=people,${s.suffix}: readable`);
  });

  it('fills flavor defaults, and lets the map override or drop them', () => {
    const base = { url: 'ldaps://dc.example.org', bindDN: 'a@example.org', bindPassword: 'x', users: { baseDNs: ['dc=example,dc=org'] }, groups: { baseDNs: ['dc=example,dc=org'] } };
    const ad = resolveSettings(ldapConfigSchema.parse({ ...base, flavor: 'ad' }));
    expect(ad.anchor).toBe('objectGUID');
    expect(ad.users.filter).toBe('(&(objectCategory=person)(objectClass=user))');
    expect(ad.groups.emptyMember).toBeUndefined();
    expect(Object.fromEntries(ad.users.map)).toMatchObject({ userName: 'userPrincipalName', externalId: 'employeeNumber', 'enterprise.employeeNumber': 'employeeID', 'enterprise.department': 'department' });
    const ol = resolveSettings(ldapConfigSchema.parse({ ...base, users: { ...base.users, map: { userType: null, nickName: 'initials' } } }));
    expect(ol.anchor).toBe('entryUUID');
    const map = Object.fromEntries(ol.users.map);
    expect(map.userType).toBeUndefined();
    expect(map.nickName).toBe('initials');
    expect(map.userName).toBe('uid');
    expect(ldapConfigSchema.safeParse({ ...base, flavor: 'ad', deactivate: { attribute: 'x' } }).success).toBe(false);
    expect(ldapConfigSchema.safeParse({ ...base, startTLS: true }).error?.issues[0]?.path).toEqual(['startTLS']);
  });

  it('rejects unknown config keys and bad URLs, naming the key', () => {
    const bad = ldapConfigSchema.safeParse({ url: 'http://x', bindDN: 'cn=a', bindPassword: 'x', users: { baseDNs: ['dc=x'], colour: 1 }, groups: { baseDNs: ['dc=x'] } });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toContain('url');
    expect(paths.some((p) => p.startsWith('users'))).toBe(true);
    expect(ConfigError).toBeDefined();
    // The deactivation attribute may not also carry a mapped SCIM attribute (employeeType ← userType).
    const clash = ldapConfigSchema.safeParse({ url: 'ldap://x', bindDN: 'cn=a', bindPassword: 'x', users: { baseDNs: ['dc=x'] }, groups: { baseDNs: ['dc=x'] }, deactivate: { attribute: 'employeeType' } });
    expect(clash.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'deactivate.attribute: employeeType is also mapped from userType (users.map); set users.map.userType to null or pick another attribute',
    ]);
  });
});
