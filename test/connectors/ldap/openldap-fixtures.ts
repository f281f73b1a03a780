import { ldapConnector } from '../../../connectors/ldap/index.js';
import { ldapConfigSchema } from '../../../connectors/ldap/config.js';
import type { LdapConfigInput } from '../../../connectors/ldap/config.js';
import type { Connector, ReadWarning, SourceGroup, SourceUser } from '../../../src/core/connector.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { Logger } from '../../../src/core/logger.js';
import { ldifEntry } from '../../support/slapd.js';
import type { Slapd } from '../../support/slapd.js';

export interface Made {
  connector: Connector;
  warnings: ReadWarning[];
  logs: string[];
}

/** A connector on `s` as the root DN, with `over` merged into the config (shallowly, per key). */
export function makeConnector(s: Slapd, over: Partial<LdapConfigInput> = {}, name = 'ldap'): Made {
  const input: LdapConfigInput = {
    url: s.url,
    bindDN: s.rootDN,
    bindPassword: s.rootPassword,
    users: { baseDNs: [`ou=people,${s.suffix}`] },
    groups: { baseDNs: [`ou=groups,${s.suffix}`] },
    ...over,
  };
  const config = ldapConfigSchema.parse(input);
  const warnings: ReadWarning[] = [];
  const logs: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (m: string) => void logs.push(m),
  };
  const connector = ldapConnector.create(config as never, { name, configDir: s.dir, statePath: `${s.dir}/state.db`, logger, warn: (w) => void warnings.push(w) });
  return { connector, warnings, logs };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export async function readAll(c: Connector): Promise<{ users: SourceUser[]; groups: SourceGroup[] }> {
  return { users: await collect(c.reader!.listUsers()), groups: await collect(c.reader!.listGroups()) };
}

export function person(s: Slapd, uid: string, extra: Record<string, string | string[]> = {}, ou = `ou=people,${s.suffix}`): string {
  return ldifEntry(`uid=${uid},${ou}`, {
    objectClass: ['inetOrgPerson'],
    uid,
    cn: `${uid} Person`,
    sn: 'Person',
    givenName: uid,
    mail: `${uid}@example.org`,
    ...extra,
  });
}

/**
 * 12 people (p00 manages the rest), groupOfNames `staff` (p00–p05 and the nested group `leads`),
 * groupOfUniqueNames `leads` (p00, p01), posixGroup `posix` (memberUid p06, p07), groupOfNames
 * `outside` with one member in scope and two DNs outside it.
 */
export function standardLdif(s: Slapd): string {
  const people = `ou=people,${s.suffix}`;
  const groups = `ou=groups,${s.suffix}`;
  const out: string[] = [];
  for (let i = 0; i < 12; i++) {
    const uid = `p${String(i).padStart(2, '0')}`;
    out.push(person(s, uid, { title: i === 0 ? 'Boss' : 'Engineer', departmentNumber: i % 2 ? 'Sales' : 'Engineering', ...(i ? { manager: `uid=p00,${people}` } : {}) }));
  }
  out.push(ldifEntry(`cn=leads,${groups}`, { objectClass: 'groupOfUniqueNames', cn: 'leads', uniqueMember: [`uid=p00,${people}`, `UID=P01, OU=People,${s.suffix.toUpperCase()}`] }));
  out.push(
    ldifEntry(`cn=staff,${groups}`, {
      objectClass: 'groupOfNames',
      cn: 'staff',
      member: [...[0, 1, 2, 3, 4, 5].map((i) => `uid=p0${i},${people}`), `cn=leads,${groups}`],
    }),
  );
  out.push(ldifEntry(`cn=posix,${groups}`, { objectClass: 'posixGroup', cn: 'posix', gidNumber: '5000', memberUid: ['p06', 'p07'] }));
  out.push(ldifEntry(`cn=outside,${groups}`, { objectClass: 'groupOfNames', cn: 'outside', member: [`uid=p08,${people}`, s.rootDN, `uid=ghost,ou=elsewhere,${s.suffix}`] }));
  return out.join('\n');
}
