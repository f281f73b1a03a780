/**
 * examples/hr-csv-to-ad.yaml with the shipped examples/hr/employees.csv (50 people, non-ASCII
 * names, quoted titles, a leaver) into a fresh Samba AD DC, run through the real CLI.
 * Its own file, so its own pristine domain: group sAMAccountNames are unique domain-wide.
 * Needs `npm run build` first (the CLI runs from dist/).
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'ldapts';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isDisabled } from '../../../connectors/ldap/ad/uac.js';
import { repoRoot, runCli, workspace } from '../../e2e/helpers.js';
import { BASE_DN, SAMBA_HOOK_TIMEOUT, startSambaAd, type SambaAd } from '../../support/samba-ad.js';
import { addOu, admin, highestCommittedUSN } from './ad-helpers.js';

let ad: SambaAd;
let c: Client;
const BASE = `OU=Staff,${BASE_DN}`;

beforeAll(async () => {
  ad = await startSambaAd();
  c = await admin(ad);
  await addOu(c, BASE);
}, SAMBA_HOOK_TIMEOUT);

afterAll(async () => {
  await c?.unbind();
  await ad?.stop();
}, SAMBA_HOOK_TIMEOUT);

it('hr-csv-to-ad.yaml with examples/hr/employees.csv: created as specified, and the second run writes nothing', async () => {
  const dir = await workspace();
  await copyFile(join(repoRoot, 'examples', 'hr-csv-to-ad.yaml'), join(dir, 'hr-csv-to-ad.yaml'));
  const env = {
    HR_CSV: join(repoRoot, 'examples', 'hr', 'employees.csv'),
    LDAP_URL: ad.ldapsUrl,
    LDAP_BIND_DN: ad.bindDN,
    LDAP_BIND_PASSWORD: ad.bindPassword,
    LDAP_BASE_DN: BASE,
    NODE_EXTRA_CA_CERTS: ad.caFile,
  };
  const first = await runCli(['--config', 'hr-csv-to-ad.yaml', 'run'], { cwd: dir, env });
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  expect(first.stdout).not.toContain(ad.bindPassword);

  const users = (
    await c.search(BASE, { scope: 'sub', filter: '(&(objectCategory=person)(objectClass=user))', attributes: ['employeeID', 'displayName', 'title', 'userAccountControl', 'manager', 'pwdLastSet'] })
  ).searchEntries;
  expect(users).toHaveLength(49); // 50 rows; the terminated one is never provisioned
  expect(users.every((u) => !isDisabled(Number(u.userAccountControl)) && u.pwdLastSet === '0')).toBe(true);
  expect(users.find((u) => u.employeeID === 'E1004')).toMatchObject({ displayName: 'Zoë Ångström', title: 'Chief Financial Officer' });
  const priya = users.find((u) => u.employeeID === 'E1003')!;
  expect(priya).toMatchObject({ dn: `CN=Priya Raman,OU=Sales,${BASE}`, title: 'Director, Sales', manager: `CN=Helena Marsh,OU=Engineering,${BASE}` });
  const groups = (await c.search(`OU=Groups,${BASE}`, { scope: 'one', filter: '(objectClass=group)', attributes: ['cn', 'member'] })).searchEntries;
  expect(groups.map((g) => g.cn).sort()).toEqual(['Engineering', 'Finance', 'Marketing', 'People', 'Sales', 'Support']);

  const usn = await highestCommittedUSN(c);
  const second = await runCli(['--config', 'hr-csv-to-ad.yaml', 'run', '--detailed-exitcode'], { cwd: dir, env });
  expect(second.stderr).toBe('');
  expect(second.stdout).toContain('No changes.');
  expect(second.code).toBe(0);
  expect(await highestCommittedUSN(c)).toBe(usn); // not one write
});
