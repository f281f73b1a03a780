/**
 * The shared connector contract (test/contract/contract.ts) for the ldap connector with
 * `flavor: ad`, against a real Samba AD DC (one pristine domain per suite).
 */
import { join } from 'node:path';
import type { Client } from 'ldapts';
import { ldapConnector } from '../../../connectors/ldap/index.js';
import { ldapConfigSchema } from '../../../connectors/ldap/config.js';
import type { LdapConfigInput } from '../../../connectors/ldap/config.js';
import type { Connector } from '../../../src/core/connector.js';
import { silentLogger } from '../../../src/core/logger.js';
import { describeReaderContract, describeWriterContract } from '../../contract/contract.js';
import { BASE_DN, startSambaAd, type SambaAd } from '../../support/samba-ad.js';
import { addOu, addUser, admin, replace } from './ad-helpers.js';

const PEOPLE = `OU=People,${BASE_DN}`;
const GROUPS = `OU=Groups,${BASE_DN}`;

function connectorFor(ad: SambaAd, over: Partial<LdapConfigInput> = {}): Connector {
  const input: LdapConfigInput = {
    flavor: 'ad',
    url: ad.url,
    bindDN: ad.bindDN,
    bindPassword: ad.bindPassword,
    users: { baseDNs: [PEOPLE] },
    groups: { baseDNs: [GROUPS] },
    ...over,
  };
  return ldapConnector.create(ldapConfigSchema.parse(input) as never, { name: 'ad', configDir: ad.dir, statePath: join(ad.dir, 'state.db'), logger: silentLogger, warn: () => undefined });
}

async function fixture(c: Client): Promise<void> {
  await addOu(c, PEOPLE);
  await addOu(c, GROUPS);
  const users: string[] = [];
  for (let i = 0; i < 6; i++) {
    const dn = await addUser(c, PEOPLE, `u${i}`, { displayName: `User ${i}`, givenName: 'User', sn: String(i), mail: `u${i}@example.org` });
    if (i % 2 === 0) await c.modify(dn, replace('userAccountControl', '544')); // enabled (PASSWD_NOTREQD kept)
    users.push(dn);
  }
  await c.add(`CN=inner,${GROUPS}`, { objectClass: ['top', 'group'], member: users.slice(0, 2) });
  await c.add(`CN=outer,${GROUPS}`, { objectClass: ['top', 'group'], member: [...users.slice(2, 4), `CN=inner,${GROUPS}`, `CN=Administrator,CN=Users,${BASE_DN}`] });
  await c.add(`CN=empty,${GROUPS}`, { objectClass: ['top', 'group'] });
}

describeReaderContract('ldap (ad, Samba)', async () => {
  const ad = await startSambaAd();
  const c = await admin(ad);
  try {
    await fixture(c);
  } finally {
    await c.unbind();
  }
  return { connector: connectorFor(ad), expected: { users: 6, groups: 3 }, cleanup: () => ad.stop() };
});

describeWriterContract('ldap (ad, Samba)', async () => {
  const ad = await startSambaAd();
  const c = await admin(ad);
  try {
    await addOu(c, PEOPLE);
    await addOu(c, GROUPS);
  } finally {
    await c.unbind();
  }
  const connector = connectorFor(ad, {
    // Created users are enabled only with an initial password, which AD takes over TLS only.
    url: ad.ldapsUrl,
    tls: { caFile: ad.caFile },
    ad: { initialPassword: { mustChange: false } },
    // The contract round-trips nickName; AD has no nickname attribute, middleName is unused here.
    // Its externalIds (longer than employeeID's 16 characters) go to employeeNumber, AD's default.
    users: { baseDNs: [PEOPLE], map: { nickName: 'middleName' } },
    allowDelete: true,
  });
  return { connector, cleanup: () => ad.stop() };
});
