import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../../src/core/errors.js';
import { startSlapd } from '../../support/slapd.js';
import type { Slapd } from '../../support/slapd.js';
import { collect, makeConnector, person, readAll, standardLdif } from './openldap-fixtures.js';

describe('ldap connector (openldap): delta reads by modifyTimestamp', () => {
  let s: Slapd;
  beforeAll(async () => {
    s = await startSlapd();
    await s.add(standardLdif(s));
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('returns what was created or modified after the watermark, and nothing else', async () => {
    const { connector } = makeConnector(s, { delta: { skewSeconds: 0 } });
    const before = await readAll(connector);
    // modifyTimestamp has whole seconds: let the fixture's second pass before taking the watermark.
    await new Promise((r) => setTimeout(r, 1100));
    const mark = await connector.delta!.watermark();
    expect(mark).toMatch(/^ts:\d{14}Z$/);
    await s.modify(`dn: uid=p05,ou=people,${s.suffix}\nchangetype: modify\nreplace: title\ntitle: Changed\n`);
    await s.add(person(s, 'newbie', { manager: `uid=p00,ou=people,${s.suffix}` }));
    await s.modify(`dn: cn=posix,ou=groups,${s.suffix}\nchangetype: modify\nadd: memberUid\nmemberUid: newbie\n`);
    const users = await collect(connector.delta!.changedUsers(mark));
    const groups = await collect(connector.delta!.changedGroups(mark));
    expect(users.map((u) => u.userName).sort()).toEqual(['newbie', 'p05']);
    expect(users.find((u) => u.userName === 'p05')!.title).toBe('Changed');
    // The manager resolves although p00 did not change.
    const p00 = before.users.find((u) => u.userName === 'p00')!.id;
    expect(users.find((u) => u.userName === 'newbie')!.enterprise?.manager?.value).toBe(p00);
    expect(groups.map((g) => g.displayName)).toEqual(['posix']);
    expect(groups[0]!.members.map((m) => m.value)).toContain(users.find((u) => u.userName === 'newbie')!.id);
    // A newer watermark sees nothing.
    await new Promise((r) => setTimeout(r, 1100));
    const later = await connector.delta!.watermark();
    expect(await collect(connector.delta!.changedUsers(later))).toEqual([]);
    expect(await collect(connector.delta!.changedGroups(later))).toEqual([]);
    await connector.close();
  });

  it('errs earlier by the configured skew', async () => {
    const { connector } = makeConnector(s, { delta: { skewSeconds: 3600 } });
    const mark = await connector.delta!.watermark();
    // Everything in the fixture is less than an hour old.
    expect((await collect(connector.delta!.changedUsers(mark))).length).toBeGreaterThanOrEqual(12);
    await connector.close();
  });

  it('refuses a watermark it did not issue', async () => {
    const { connector } = makeConnector(s);
    await expect(collect(connector.delta!.changedUsers('usn:5'))).rejects.toBeInstanceOf(ConnectorError);
    await connector.close();
  });
});
