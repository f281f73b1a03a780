import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readDirectory } from '../../e2e/directory.js';
import { csvOf, HR_CONNECTOR_YAML, person as hrPerson, repoRoot, runCli, workspace } from '../../e2e/helpers.js';
import type { Person } from '../../e2e/helpers.js';
import { ldifEntry, startSlapd } from '../../support/slapd.js';
import type { Slapd } from '../../support/slapd.js';
import { person } from './openldap-fixtures.js';

/** Needs `npm run build` first: the CLI runs from dist/ (npm test builds). */

let s: Slapd | undefined;
afterEach(async () => {
  await s?.cleanup();
  s = undefined;
});

/** Every entry's DN and modifyTimestamp: unchanged between two snapshots = nothing was written. */
async function stamps(slapd: Slapd): Promise<string> {
  return slapd.search(slapd.suffix, '(objectClass=*)', ['modifyTimestamp', 'entryCSN']);
}

describe('examples/ldap-to-embedded.yaml, run as a user would', () => {
  it('copies users, groups, nesting and managers into the embedded directory; the re-run converges', async () => {
    s = await startSlapd();
    const people = `ou=people,${s.suffix}`;
    const groups = `ou=groups,${s.suffix}`;
    await s.add(
      [
        ...Array.from({ length: 10 }, (_, i) => person(s!, `e${i}`, { title: 'Engineer', ...(i ? { manager: `uid=e0,${people}` } : {}) })),
        ldifEntry(`cn=leads,${groups}`, { objectClass: 'groupOfNames', cn: 'leads', member: [`uid=e0,${people}`] }),
        ldifEntry(`cn=all,${groups}`, { objectClass: 'groupOfNames', cn: 'all', member: [...Array.from({ length: 10 }, (_, i) => `uid=e${i},${people}`), `cn=leads,${groups}`] }),
      ].join('\n'),
    );
    const dir = await workspace();
    await copyFile(join(repoRoot, 'examples', 'ldap-to-embedded.yaml'), join(dir, 'ldap-to-embedded.yaml'));
    const env = { LDAP_URL: s.url, LDAP_BIND_DN: s.rootDN, LDAP_BIND_PASSWORD: s.rootPassword, LDAP_BASE_DN: s.suffix };

    const validate = await runCli(['--config', 'ldap-to-embedded.yaml', 'validate'], { cwd: dir, env });
    expect(validate.code).toBe(0);
    // Every ${env:…} value counts as a secret for the config loader, the base DN included.
    expect(validate.stdout + validate.stderr).toMatch(/users base \S+: readable/);
    expect(validate.stdout + validate.stderr).not.toContain(s.rootPassword);

    const first = await runCli(['--config', 'ldap-to-embedded.yaml', 'run'], { cwd: dir, env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain(s.rootPassword);
    const copy = await readDirectory(join(dir, 'ldap-copy.db'));
    expect(copy.users.map((u) => u.userName).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `e${i}`).sort());
    const e0 = copy.users.find((u) => u.userName === 'e0')!;
    expect(copy.users.find((u) => u.userName === 'e5')).toMatchObject({ title: 'Engineer', emails: [{ value: 'e5@example.org' }], enterprise: { manager: { value: e0.id } } });
    const all = copy.groups.find((g) => g.displayName === 'all')!;
    const leads = copy.groups.find((g) => g.displayName === 'leads')!;
    expect(all.members).toHaveLength(11);
    expect(all.members).toContainEqual({ type: 'Group', value: leads.id });

    const second = await runCli(['--config', 'ldap-to-embedded.yaml', 'run', '--detailed-exitcode'], { cwd: dir, env });
    expect(second.stderr).toBe('');
    expect(second.stdout).toContain('No changes.');
    expect(second.code).toBe(0);

    // A change in LDAP (a rename: the DN changes, the anchor does not) is an update, not a re-create.
    await s.modify(`dn: uid=e3,${people}\nchangetype: modrdn\nnewrdn: uid=e3.renamed\ndeleteoldrdn: 1\n`);
    const third = await runCli(['--config', 'ldap-to-embedded.yaml', 'run', '--detailed-exitcode'], { cwd: dir, env });
    expect(third.code).toBe(2);
    const after = await readDirectory(join(dir, 'ldap-copy.db'));
    expect(after.users).toHaveLength(10);
    expect(after.users.find((u) => u.userName === 'e3.renamed')?.id).toBe(copy.users.find((u) => u.userName === 'e3')!.id);
  });
});

describe('HR CSV → OpenLDAP as the target', () => {
  function config(slapd: Slapd): string {
    return `state: ./state.db
connectors:
${HR_CONNECTOR_YAML}  ldap:
    type: ldap
    url: "\${env:LDAP_URL}"
    bindDN: "\${env:LDAP_BIND_DN}"
    bindPassword: "\${env:LDAP_BIND_PASSWORD}"
    users:
      baseDNs: ["${slapd.suffix}"]
      placement: { ou: "ou={{department}},ou=people,${slapd.suffix}", fallback: "ou=people,${slapd.suffix}", createMissing: true }
    groups: { baseDNs: ["ou=groups,${slapd.suffix}"] }
    deactivate: { moveTo: "ou=disabled,${slapd.suffix}", createMissing: true }
jobs:
  hr-to-ldap:
    source: hr
    target: ldap
    match: { users: [externalId, userName] }
`;
  }

  it('provisions users into department OUs, groups and managers; the second run writes nothing; a leaver is moved out', async () => {
    s = await startSlapd();
    const staff: Person[] = Array.from({ length: 12 }, (_, i) => hrPerson(i, i ? { manager: 'E0000' } : {}));
    const dir = await workspace();
    await writeFile(join(dir, 'employees.csv'), csvOf(staff));
    await writeFile(join(dir, 'scim-sync.config.yaml'), config(s));
    const env = { LDAP_URL: s.url, LDAP_BIND_DN: s.rootDN, LDAP_BIND_PASSWORD: s.rootPassword };

    const first = await runCli(['run'], { cwd: dir, env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const sales = await s.search(`ou=Sales,ou=people,${s.suffix}`, '(objectClass=inetOrgPerson)', ['uid', 'employeeNumber', 'manager'], 'one');
    expect(sales.match(/^dn: /gm)).toHaveLength(6);
    expect(sales).toContain('uid: first1.last1@example.com');
    expect(sales).toContain('employeeNumber: E0001');
    expect(sales).toContain(`manager: uid=first0.last0@example.com,ou=Engineering,ou=people,${s.suffix}`);
    const engineering = await s.search(`ou=groups,${s.suffix}`, '(cn=Engineering)', ['member']);
    expect(engineering.match(/^member: uid=/gm)).toHaveLength(6);

    const before = await stamps(s);
    const second = await runCli(['run', '--detailed-exitcode'], { cwd: dir, env });
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('No changes.');
    expect(await stamps(s)).toBe(before);

    // E0005 leaves: deactivated by a move into the disabled OU, not deleted.
    await writeFile(join(dir, 'employees.csv'), csvOf(staff.map((p) => (p.id === 'E0005' ? { ...p, status: 'terminated' } : p))));
    const third = await runCli(['run'], { cwd: dir, env });
    expect(third.code).toBe(0);
    expect(await s.search(`ou=disabled,${s.suffix}`, '(objectClass=inetOrgPerson)', ['uid'], 'one')).toContain('uid: first5.last5@example.com');
    const fourth = await runCli(['run', '--detailed-exitcode'], { cwd: dir, env });
    expect(fourth.code).toBe(0);
  });
});
