import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startScimmyPeer, type ScimmyPeer } from '../support/scimmy-peer.js';
import { readDirectory } from './directory.js';
import { repoRoot, runCli, workspace } from './helpers.js';

/**
 * Delta reads end to end: a SCIM server (scimmy, written by others) as the source, the embedded
 * directory as the target. After a full read, runs list only what changed (`meta.lastModified gt`)
 * and merge it into the snapshot kept in state; a deletion is only acted on by a full read.
 */

let peer: ScimmyPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

const PULL = `state: ./copy.db
connectors:
  idp:
    type: scim
    baseUrl: "\${env:SCIM_URL}"
    auth: { bearer: "\${env:SCIM_TOKEN}" }
    pageSize: 20
    deltaSkew: 0
jobs:
  idp-to-directory:
    source: idp
    target: embedded
    deletes: { mode: deactivate, maxCount: 100, maxPercent: 10 }
    delta: { fullReadEvery: 1d }
`;

async function scim(method: 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<number> {
  const res = await request(`${peer!.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${peer!.token}`, 'content-type': 'application/scim+json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  await res.body.dump();
  return res.statusCode;
}

describe('delta reads from a SCIM source', () => {
  it('reads in full once, then only changes; a deletion waits for the next full read', async () => {
    peer = await startScimmyPeer();
    const dir = await workspace();
    await copyFile(join(repoRoot, 'examples', 'hr-csv-to-scim.yaml'), join(dir, 'push.yaml'));
    await writeFile(join(dir, 'pull.yaml'), PULL);
    const env = { HR_CSV: join(repoRoot, 'examples', 'hr', 'employees.csv'), SCIM_URL: peer.baseUrl, SCIM_TOKEN: peer.token };
    expect((await runCli(['--config', 'push.yaml', 'run'], { cwd: dir, env })).code).toBe(0);
    // The watermark is the server's Date header (whole seconds): let it pass the pushed objects.
    await sleep(1100);

    const first = await runCli(['--config', 'pull.yaml', 'run'], { cwd: dir, env });
    expect(first.code).toBe(0);
    expect(first.stdout).not.toMatch(/Delta read/);
    const copied = await readDirectory(join(dir, 'copy.db'));
    expect(copied.users).toHaveLength(49);
    await sleep(1100);

    const users = [...peer.users.values()] as { id: string; userName: string }[];
    const changed = users.find((u) => u.userName === 'tomasz.kowalczyk@example.com')!;
    const gone = users.find((u) => u.userName === 'mei.lin@example.com')!;
    expect(
      await scim('PATCH', `/Users/${changed.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'title', value: 'SVP Engineering' }],
      }),
    ).toBe(200);
    expect(await scim('DELETE', `/Users/${gone.id}`)).toBe(204);
    const before = peer.requests.length;

    const delta = await runCli(['--config', 'pull.yaml', 'run'], { cwd: dir, env });
    expect(delta.stderr).toBe('');
    expect(delta.code).toBe(0);
    expect(delta.stdout).toMatch(/^Delta read: 1 user and \d+ groups? changed in the source\. Deletions since the last full read/m);
    const listed = peer.requests.slice(before).filter((r) => r.method === 'GET' && r.path.startsWith('/scim/v2/Users'));
    expect(listed.length).toBeGreaterThan(0);
    // Every user listing of this run is filtered (a one-item probe first, then the changes).
    expect(listed.every((r) => decodeURIComponent(r.path.replace(/\+/g, " ")).includes("filter=meta.lastModified gt"))).toBe(true);
    let copy = await readDirectory(join(dir, 'copy.db'));
    expect(copy.users.find((u) => u.userName === 'tomasz.kowalczyk@example.com')?.title).toBe('SVP Engineering');
    // Deleted in the source, but a delta read cannot see that: still active in the copy.
    expect(copy.users.find((u) => u.userName === 'mei.lin@example.com')?.active).toBe(true);

    const full = await runCli(['--config', 'pull.yaml', 'run', '--full'], { cwd: dir, env });
    expect(full.code).toBe(0);
    expect(full.stdout).not.toMatch(/Delta read/);
    copy = await readDirectory(join(dir, 'copy.db'));
    expect(copy.users.find((u) => u.userName === 'mei.lin@example.com')?.active).toBe(false);
    // And then quiet again: a delta read with nothing changed changes nothing.
    const quiet = await runCli(['--config', 'pull.yaml', 'run', '--detailed-exitcode'], { cwd: dir, env });
    expect(quiet.code).toBe(0);
  });
});

describe('delta reads from an LDAP source (real slapd)', () => {
  it('a change is read as a delta; a deleted entry stays until the full read deactivates it', async () => {
    const { startSlapd } = await import('../support/slapd.js');
    const { person } = await import('../connectors/ldap/openldap-fixtures.js');
    const { ldifEntry } = await import('../support/slapd.js');
    const s = await startSlapd();
    try {
      const people = `ou=people,${s.suffix}`;
      await s.add(
        [
          ...['e1', 'e2', 'e3', 'e4', 'e5'].map((uid) => person(s, uid, { title: 'Engineer' })),
          ldifEntry(`cn=team,ou=groups,${s.suffix}`, { objectClass: 'groupOfNames', cn: 'team', member: ['e1', 'e2', 'e3'].map((u) => `uid=${u},${people}`) }),
        ].join('\n'),
      );
      const dir = await workspace();
      await writeFile(
        join(dir, 'scim-sync.config.yaml'),
        `state: ./copy.db
connectors:
  ldap:
    type: ldap
    url: "\${env:LDAP_URL}"
    bindDN: "\${env:LDAP_BIND_DN}"
    bindPassword: "\${env:LDAP_BIND_PASSWORD}"
    users: { baseDNs: ["ou=people,\${env:LDAP_BASE_DN}"] }
    groups: { baseDNs: ["ou=groups,\${env:LDAP_BASE_DN}"] }
    delta: { skewSeconds: 0 }
jobs:
  ldap-to-directory:
    source: ldap
    target: embedded
    deletes: { mode: deactivate, maxCount: 10, maxPercent: 50 }
`,
      );
      const env = { LDAP_URL: s.url, LDAP_BIND_DN: s.rootDN, LDAP_BIND_PASSWORD: s.rootPassword, LDAP_BASE_DN: s.suffix };
      await sleep(1100); // modifyTimestamp has whole seconds: let the loaded entries fall behind the watermark
      const first = await runCli(['run'], { cwd: dir, env });
      expect(first.code).toBe(0);
      expect(first.stdout).not.toMatch(/Delta read/);
      await sleep(1100);

      await s.modify(`dn: uid=e4,${people}\nchangetype: modify\nreplace: title\ntitle: Architect\n`);
      // refint takes e2 out of "team" too, but without touching the group's modifyTimestamp:
      // like the delete itself, that is only seen by the next full read.
      await s.modify(`dn: uid=e2,${people}\nchangetype: delete\n`);
      const delta = await runCli(['run'], { cwd: dir, env });
      expect(delta.stderr).toBe('');
      expect(delta.code).toBe(0);
      expect(delta.stdout).toMatch(/^Delta read: 1 user and 0 groups changed in the source\./m);
      let copy = await readDirectory(join(dir, 'copy.db'));
      expect(copy.users.find((u) => u.userName === 'e4')?.title).toBe('Architect');
      expect(copy.users.find((u) => u.userName === 'e2')?.active).toBe(true);
      const e2 = copy.users.find((u) => u.userName === 'e2')!;
      expect(copy.groups.find((g) => g.displayName === 'team')?.members.map((m) => m.value)).toContain(e2.id);

      const full = await runCli(['run', '--full'], { cwd: dir, env });
      expect(full.code).toBe(0);
      copy = await readDirectory(join(dir, 'copy.db'));
      expect(copy.users.find((u) => u.userName === 'e2')?.active).toBe(false);
      expect(copy.groups.find((g) => g.displayName === 'team')?.members.map((m) => m.value)).not.toContain(e2.id);
      expect((await runCli(['run', '--detailed-exitcode'], { cwd: dir, env })).code).toBe(0);
    } finally {
      await s.cleanup();
    }
  });
});
