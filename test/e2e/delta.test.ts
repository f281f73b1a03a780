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
