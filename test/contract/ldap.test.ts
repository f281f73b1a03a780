import { startSlapd } from '../support/slapd.js';
import { makeConnector, standardLdif } from '../connectors/ldap/openldap-fixtures.js';
import { describeReaderContract, describeWriterContract } from './contract.js';

// A real slapd per suite (see test/support/slapd.ts); the fixture has nested groups, a
// groupOfUniqueNames, a posixGroup and members outside the configured scope.
describeReaderContract('ldap (openldap)', async () => {
  const s = await startSlapd();
  await s.add(standardLdif(s));
  const { connector } = makeConnector(s);
  return { connector, expected: { users: 12, groups: 4 }, cleanup: () => s.cleanup() };
});

describeWriterContract('ldap (openldap)', async () => {
  const s = await startSlapd();
  const { connector } = makeConnector(s, {
    // The contract round-trips nickName, which inetOrgPerson has no attribute for: this shows the
    // map override with a standard attribute that is otherwise unused.
    users: { baseDNs: [`ou=people,${s.suffix}`], map: { nickName: 'initials' } },
    deactivate: { attribute: 'description', value: 'disabled' },
    allowDelete: true,
  });
  return { connector, cleanup: () => s.cleanup() };
});
