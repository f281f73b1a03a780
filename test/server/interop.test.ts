/**
 * Interop through the real CLI: `scim-sync serve` in its own process; the project's SCIM
 * connector provisions a CSV into it, and a second job reads it back into another embedded
 * directory. Both converge: the second run of each writes nothing.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../connectors/embedded/store.js';
import { csvOf, HR_CONNECTOR_YAML, person, runCli, workspace, type Person } from '../e2e/helpers.js';
import { serveCli, type Serving } from './cli.js';

const TOKEN = 'interop-token-0123456789abcdef';
const serve = (cwd: string) => serveCli(cwd, { SERVE_TOKEN: TOKEN });

/** Write requests (POST, PUT, PATCH, DELETE) in the server's access log. */
const writes = (log: string) => log.split('\n').filter((l) => / (POST|PUT|PATCH|DELETE) \/scim\/v2\//.test(l) && !l.includes('/.search'));

const staff = (n: number): Person[] => {
  const list = Array.from({ length: n }, (_, i) => person(i));
  for (let i = 1; i < n; i++) list[i]!.manager = list[0]!.id;
  return list;
};

let server: Serving | undefined;
afterEach(async () => {
  if (server && server.child.exitCode === null) await server.stop();
  server = undefined;
});

describe('scim-sync serve ↔ the scim connector, through the CLI', () => {
  it('CSV → serve → another embedded directory; both jobs converge; SIGTERM stops it cleanly', async () => {
    const serverDir = await workspace();
    await writeFile(join(serverDir, 'scim-sync.config.yaml'), `state: ./served.db\nserver:\n  tokens: [{ value: "\${env:SERVE_TOKEN}" }]\n`);
    server = await serve(serverDir);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/scim\/v2$/);

    // 1. HR CSV → the served directory, through the SCIM connector.
    const people = staff(12);
    const pushDir = await workspace();
    await writeFile(join(pushDir, 'employees.csv'), csvOf(people));
    await writeFile(
      join(pushDir, 'scim-sync.config.yaml'),
      `state: ./state.db
connectors:
${HR_CONNECTOR_YAML}  served:
    type: scim
    baseUrl: ${server.url}
    auth: { bearer: "\${env:SERVE_TOKEN}" }
jobs:
  push:
    source: hr
    target: served
`,
    );
    const env = { SERVE_TOKEN: TOKEN };
    const first = await runCli(['run'], { cwd: pushDir, env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const store = new DirectoryStore(join(serverDir, 'served.db'));
    try {
      expect(store.counts()).toEqual({ users: 12, groups: 2 });
      const report = store.findUserByUserName('FIRST1.LAST1@example.com')!;
      const boss = store.findUserByUserName('first0.last0@example.com')!;
      expect(report.user.enterprise?.manager?.value).toBe(boss.user.id);
      expect(report.user.externalId).toBe('E0001');
      expect(store.findGroupByDisplayName('engineering')!.group.members).toHaveLength(6);
    } finally {
      store.close();
    }
    const writesAfterFirst = writes(server.stderr()).length;
    expect(writesAfterFirst).toBeGreaterThan(0);
    const second = await runCli(['run', '--detailed-exitcode'], { cwd: pushDir, env });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('No changes.');
    expect(writes(server.stderr()).length).toBe(writesAfterFirst);

    // 2. The served directory → another embedded directory, reading through the SCIM connector.
    const pullDir = await workspace();
    await writeFile(
      join(pullDir, 'scim-sync.config.yaml'),
      `state: ./mirror.db
connectors:
  served:
    type: scim
    baseUrl: ${server.url}
    auth: { bearer: "\${env:SERVE_TOKEN}" }
    pageSize: 5
jobs:
  pull:
    source: served
    target: embedded
`,
    );
    const pull = await runCli(['run'], { cwd: pullDir, env });
    expect(pull.stderr).toBe('');
    expect(pull.code).toBe(0);
    const mirror = new DirectoryStore(join(pullDir, 'mirror.db'));
    try {
      expect(mirror.counts()).toEqual({ users: 12, groups: 2 });
      const report = mirror.findUserByUserName('first1.last1@example.com')!;
      const boss = mirror.findUserByUserName('first0.last0@example.com')!;
      expect(report.user.enterprise?.manager?.value).toBe(boss.user.id);
      expect(report.user.name).toEqual({ givenName: 'First1', familyName: 'Last1' });
      expect(mirror.findGroupByDisplayName('Sales')!.group.members).toHaveLength(6);
    } finally {
      mirror.close();
    }
    const before = writes(server.stderr()).length;
    const pullAgain = await runCli(['run', '--detailed-exitcode'], { cwd: pullDir, env });
    expect(pullAgain.code).toBe(0);
    expect(pullAgain.stdout).toContain('No changes.');
    // Reading never writes to the server.
    expect(writes(server.stderr()).length).toBe(before);

    // Every request was logged with the token's name, never the token.
    expect(server.stderr()).toMatch(/ GET \/scim\/v2\/Users\?.* 200 \d+ [\d.]+ms tokens\[0\]/);
    expect(server.stderr()).not.toContain(TOKEN);

    const stopped = await server.stop();
    expect(stopped.code).toBe(0);
    expect(server.stderr()).toContain('Stopped.');
  }, 120_000);

  it('refuses to start without a token, and with a token too short to be safe', async () => {
    const dir = await workspace();
    await writeFile(join(dir, 'scim-sync.config.yaml'), 'state: ./s.db\n');
    const none = await runCli(['serve', '--listen', '127.0.0.1:0'], { cwd: dir, env: { SCIM_SYNC_TOKEN: '' } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('serve needs a bearer token');
    const short = await runCli(['serve', '--listen', '127.0.0.1:0'], { cwd: dir, env: { SCIM_SYNC_TOKEN: 'short' } });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('SCIM_SYNC_TOKEN: a bearer token must be at least 16 characters long');
    const badListen = await runCli(['serve', '--listen', 'nowhere'], { cwd: dir, env: { SCIM_SYNC_TOKEN: TOKEN } });
    expect(badListen.code).toBe(1);
    expect(badListen.stderr).toContain('--listen: expected host:port');
  });
});
