import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startScimmyPeer, type ScimmyPeer } from '../support/scimmy-peer.js';
import { readDirectory } from './directory.js';
import { runCli, workspace } from './helpers.js';

/**
 * A SCIM server (scimmy) as a job's source, through the real CLI: the first run reads in full,
 * the next ones list only `meta.lastModified gt <watermark>` and the copy still follows changes.
 */

let peer: ScimmyPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

const CONFIG = `state: ./copy.db
connectors:
  idp:
    type: scim
    baseUrl: "\${env:SCIM_URL}"
    auth: { bearer: "\${env:SCIM_TOKEN}" }
    deltaSkew: 5000
jobs:
  idp-to-directory:
    source: idp
    target: embedded
`;

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${peer!.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${peer!.token}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Record<string, unknown>;
}

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

describe('SCIM source with delta reads', () => {
  it('first run full, then delta runs that see creations and changes', async () => {
    peer = await startScimmyPeer();
    for (const n of ['ada', 'bob', 'cy']) await post('/Users', { schemas: [USER], userName: `${n}@example.com`, active: true });
    // Make the seed old, so only what follows is "changed since the watermark".
    for (const u of peer.users.values()) (u.meta as Record<string, unknown>).lastModified = '2020-01-01T00:00:00.000Z';
    const dir = await workspace();
    await writeFile(join(dir, 'scim-sync.config.yaml'), CONFIG);
    const env = { SCIM_URL: peer.baseUrl, SCIM_TOKEN: peer.token };

    const first = await runCli(['run', '--verbose'], { cwd: dir, env });
    expect(first.code).toBe(0);
    expect((await readDirectory(join(dir, 'copy.db'))).users).toHaveLength(3);

    await post('/Users', { schemas: [USER], userName: 'dee@example.com', active: true, title: 'New' });
    const before = peer.requests.length;
    const second = await runCli(['run', '--verbose'], { cwd: dir, env });
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/delta read of idp since/);
    const listed = peer.requests.slice(before).filter((r) => r.method === 'GET' && r.path.startsWith('/scim/v2/Users?'));
    // Only filtered listings of /Users in a delta run (the probe and the changed users).
    expect(listed.length).toBeGreaterThan(0);
    const filters = listed.map((r) => new URLSearchParams(r.path.split('?')[1]).get('filter'));
    expect(filters.every((f) => f?.startsWith('meta.lastModified gt "'))).toBe(true);
    expect(listed).toHaveLength(2); // the probe, then one page of changed users
    const copy = await readDirectory(join(dir, 'copy.db'));
    expect(copy.users.map((u) => u.userName).sort()).toEqual(['ada@example.com', 'bob@example.com', 'cy@example.com', 'dee@example.com']);

    // A change to an old user: PATCH bumps its meta.lastModified on the server.
    const bob = [...peer.users.values()].find((u) => u.userName === 'bob@example.com')!;
    const patched = await fetch(`${peer.baseUrl}/Users/${String(bob.id)}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${peer.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Boss' }] }),
    });
    expect(patched.status).toBe(200);
    const third = await runCli(['run', '--detailed-exitcode', '--verbose'], { cwd: dir, env });
    expect(third.code).toBe(2);
    expect(third.stderr).toMatch(/delta read of idp since/);
    expect((await readDirectory(join(dir, 'copy.db'))).users.find((u) => u.userName === 'bob@example.com')!.title).toBe('Boss');

    const fourth = await runCli(['run', '--detailed-exitcode'], { cwd: dir, env });
    expect(fourth.code).toBe(0);
  });
});
