import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldifEntry, startSlapd } from '../../support/slapd.js';
import type { Slapd } from '../../support/slapd.js';
import { makeConnector, readAll } from './openldap-fixtures.js';

const MEMBERS = 5_000;

describe('ldap connector (openldap): a group with 5,000 members', () => {
  let s: Slapd;
  beforeAll(async () => {
    s = await startSlapd({ baseEntries: false });
    const people = `ou=people,${s.suffix}`;
    const groups = `ou=groups,${s.suffix}`;
    const uids = Array.from({ length: MEMBERS + 10 }, (_, i) => `big${i}`);
    // slapadd runs no overlays: memberOf is written into the LDIF as the memberof overlay would.
    const ldif = [
      ldifEntry(s.suffix, { objectClass: ['dcObject', 'organization'], dc: 'example', o: 'example' }),
      ldifEntry(people, { objectClass: 'organizationalUnit', ou: 'people' }),
      ldifEntry(groups, { objectClass: 'organizationalUnit', ou: 'groups' }),
      ...uids.map((uid, i) =>
        ldifEntry(`uid=${uid},${people}`, { objectClass: 'inetOrgPerson', uid, cn: uid, sn: 'Big', ...(i < MEMBERS ? { memberOf: `cn=big,${groups}` } : {}) }),
      ),
      ldifEntry(`cn=big,${groups}`, { objectClass: 'groupOfNames', cn: 'big', member: uids.slice(0, MEMBERS).map((u) => `uid=${u},${people}`) }),
    ].join('\n');
    await s.loadOffline(ldif);
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('reads every member, and writes member changes in chunks', async () => {
    const { connector } = makeConnector(s, { pageSize: 500, memberChunkSize: 1000 });
    const first = await readAll(connector);
    expect(first.users).toHaveLength(MEMBERS + 10);
    const big = first.groups.find((g) => g.displayName === 'big')!;
    expect(big.members).toHaveLength(MEMBERS);
    const byName = new Map(first.users.map((u) => [u.userName, u.id]));
    const removed = big.members.slice(0, 2_500);
    await connector.writer!.removeMembers(big.id, removed);
    const extra = ['big5000', 'big5001'].map((n) => ({ type: 'User' as const, value: byName.get(n)! }));
    await connector.writer!.addMembers(big.id, [...removed, ...extra]);
    const again = (await readAll(connector)).groups.find((g) => g.id === big.id)!;
    expect(again.members).toHaveLength(MEMBERS + 2);
    await connector.close();
    // memberOf kept by the overlay for online changes, too.
    expect(await s.search(`uid=big5001,ou=people,${s.suffix}`, '(objectClass=*)', ['memberOf'], 'base')).toContain('memberOf: cn=big,');
  });
});
