import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultServer, type FaultServer } from '../support/fault-server.js';
import { startScimmyPeer, type ScimmyPeer } from '../support/scimmy-peer.js';
import { csvOf, HR_CONNECTOR_YAML, person, runCli, workspace, type Person } from './helpers.js';

/** HR CSV → a SCIM server, run through the real CLI as a user would. */
function scimConfig(baseUrl: string, extra = ''): string {
  return `state: ./state.db
connectors:
${HR_CONNECTOR_YAML}  app:
    type: scim
    baseUrl: ${baseUrl}
    auth: { bearer: "\${env:SCIM_TOKEN}" }
${extra}
jobs:
  hr-to-app:
    source: hr
    target: app
    match: { users: [externalId, userName] }
`;
}

async function setupScim(people: Person[], baseUrl: string, extra = ''): Promise<string> {
  const dir = await workspace();
  await writeFile(join(dir, 'employees.csv'), csvOf(people));
  await writeFile(join(dir, 'scim-sync.config.yaml'), scimConfig(baseUrl, extra));
  return dir;
}

const staff = (n: number): Person[] => {
  const list = Array.from({ length: n }, (_, i) => person(i));
  for (let i = 1; i < n; i++) list[i]!.manager = list[0]!.id;
  return list;
};

let peer: ScimmyPeer | undefined;
let faults: FaultServer | undefined;
afterEach(async () => {
  await peer?.close();
  await faults?.close();
  peer = undefined;
  faults = undefined;
});

describe('HR CSV → a third-party SCIM server (scimmy)', () => {
  it('provisions users, groups and memberships; the re-run converges with reads only', async () => {
    peer = await startScimmyPeer();
    const people = staff(12);
    const dir = await setupScim(people, peer.baseUrl);
    const env = { SCIM_TOKEN: peer.token };
    const first = await runCli(['run'], { cwd: dir, env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(peer.users.size).toBe(12);
    expect(peer.groups.size).toBe(2);
    const users = [...peer.users.values()];
    const boss = users.find((u) => u.userName === 'first0.last0@example.com')!;
    const report = users.find((u) => u.userName === 'first1.last1@example.com')!;
    const enterprise = report['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'] as { manager?: { value?: string } };
    expect(enterprise.manager?.value).toBe(boss.id);
    const engineering = [...peer.groups.values()].find((g) => g.displayName === 'Engineering')!;
    expect((engineering.members as unknown[]).length).toBe(6);

    const before = peer.requests.length;
    const second = await runCli(['run', '--detailed-exitcode'], { cwd: dir, env });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('No changes.');
    const writes = peer.requests.slice(before).filter((r) => r.method !== 'GET');
    expect(writes).toEqual([]);
  });

  it('a leaver is deactivated on the SCIM server, never deleted', async () => {
    peer = await startScimmyPeer();
    const people = staff(12);
    const dir = await setupScim(people, peer.baseUrl);
    const env = { SCIM_TOKEN: peer.token };
    expect((await runCli(['run'], { cwd: dir, env })).code).toBe(0);
    await writeFile(join(dir, 'employees.csv'), csvOf(people.filter((p) => p.id !== 'E0005')));
    const res = await runCli(['run'], { cwd: dir, env });
    expect(res.code).toBe(0);
    const leaver = [...peer.users.values()].find((u) => u.userName === 'first5.last5@example.com')!;
    expect(leaver.active).toBe(false);
    expect(peer.users.size).toBe(12);
  });

  it('the token never appears in any output, even when the server refuses it', async () => {
    peer = await startScimmyPeer();
    const dir = await setupScim(staff(2), peer.baseUrl);
    const res = await runCli(['run'], { cwd: dir, env: { SCIM_TOKEN: 'wrong-token-value-123' } });
    expect(res.code).toBe(1);
    expect(res.stdout + res.stderr).not.toContain('wrong-token-value-123');
    expect(res.stderr).toMatch(/401|[Aa]uthori[sz]ation/);
  });
});

describe('HR CSV → a SCIM server that pushes back', () => {
  it('a 429 storm with Retry-After slows the run down but loses and duplicates nothing', async () => {
    faults = await startFaultServer({
      script: [{ fault: { kind: 'status', status: 429, retryAfter: 1 }, method: 'POST', times: 3 }],
    });
    const dir = await setupScim(staff(8), faults.baseUrl, '    retry: { baseDelay: 50, maxDelay: 2000 }');
    const res = await runCli(['run'], { cwd: dir, env: { SCIM_TOKEN: 'x' } });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(faults.users.size).toBe(8);
    expect(new Set([...faults.users.values()].map((u) => u.userName)).size).toBe(8);
    const again = await runCli(['run', '--detailed-exitcode'], { cwd: dir, env: { SCIM_TOKEN: 'x' } });
    expect(again.code).toBe(0);
  });

  it('a connection reset after the server created a user: the re-run relinks it, no duplicate', async () => {
    faults = await startFaultServer({
      script: [{ fault: { kind: 'reset-mid-body' }, method: 'POST', path: /\/Users$/, times: 1 }],
    });
    const dir = await setupScim(staff(5), faults.baseUrl);
    await runCli(['run'], { cwd: dir, env: { SCIM_TOKEN: 'x' } });
    const second = await runCli(['run'], { cwd: dir, env: { SCIM_TOKEN: 'x' } });
    expect(second.code).toBe(0);
    expect(faults.users.size).toBe(5);
    const third = await runCli(['run', '--detailed-exitcode'], { cwd: dir, env: { SCIM_TOKEN: 'x' } });
    expect(third.code).toBe(0);
  });
});

describe('the shipped SCIM examples, run as a user would', () => {
  it('examples/hr-csv-to-scim.yaml provisions the sample export; examples/scim-to-embedded.yaml copies it back', async () => {
    const { copyFile } = await import('node:fs/promises');
    const { readDirectory } = await import('./directory.js');
    const { repoRoot } = await import('./helpers.js');
    peer = await startScimmyPeer();
    const dir = await workspace();
    await copyFile(join(repoRoot, 'examples', 'hr-csv-to-scim.yaml'), join(dir, 'hr-csv-to-scim.yaml'));
    await copyFile(join(repoRoot, 'examples', 'scim-to-embedded.yaml'), join(dir, 'scim-to-embedded.yaml'));
    const env = { HR_CSV: join(repoRoot, 'examples', 'hr', 'employees.csv'), SCIM_URL: peer.baseUrl, SCIM_TOKEN: peer.token };

    const push = await runCli(['--config', 'hr-csv-to-scim.yaml', 'run'], { cwd: dir, env });
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(peer.users.size).toBe(49); // 50 people, the terminated one is not provisioned
    expect(peer.groups.size).toBe(6);

    const pull = await runCli(['--config', 'scim-to-embedded.yaml', 'run'], { cwd: dir, env });
    expect(pull.stderr).toBe('');
    expect(pull.code).toBe(0);
    const copy = await readDirectory(join(dir, 'scim-copy.db'));
    expect(copy.users.map((u) => u.userName).sort()).toEqual([...peer.users.values()].map((u) => u.userName).sort());
    expect(copy.groups).toHaveLength(6);
    const again = await runCli(['--config', 'scim-to-embedded.yaml', 'run', '--detailed-exitcode'], { cwd: dir, env });
    expect(again.code).toBe(0);
  });
});
