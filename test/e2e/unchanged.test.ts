import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { embeddedConnector } from '../../connectors/embedded/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { readDirectory } from './directory.js';
import { configYaml, csvOf, person, runCli, setup, type Person } from './helpers.js';

/**
 * Skipping the read when source and target are unchanged since a full comparison found nothing
 * to do. The safety property: anything that would change the plan must make the next run read.
 */

const people = (n: number): Person[] => Array.from({ length: n }, (_, i) => person(i));
const UNCHANGED = /^No changes\. Source and target are unchanged since they were last compared in full \((\d{4}-\d\d-\d\dT[\d:.]+Z)\)\.$/m;
const IN_SYNC = 'No changes. Target is in sync.';

/** First run creates, second compares in full and records the verified no-op. */
async function synced(staff: Person[]): Promise<string> {
  const dir = await setup(staff);
  const first = await runCli(['run'], { cwd: dir });
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/Apply complete: \d+ created/);
  const second = await runCli(['run'], { cwd: dir });
  expect(second.code).toBe(0);
  expect(second.stdout).toContain(IN_SYNC);
  return dir;
}

async function expectShortcut(dir: string, args: string[] = ['run']): Promise<string> {
  const r = await runCli([...args, '--detailed-exitcode'], { cwd: dir });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(UNCHANGED);
  return r.stdout;
}

describe('unchanged source and target are not read again', () => {
  it('the third run skips reading, says so, and still exits 0 with --detailed-exitcode', async () => {
    const dir = await synced(people(4));
    const out = await expectShortcut(dir);
    expect(out).not.toContain(IN_SYNC);
    // Each shortcut run leaves the record as it is, so the time is that of the full comparison.
    const time = UNCHANGED.exec(out)![1]!;
    expect(UNCHANGED.exec(await expectShortcut(dir))![1]).toBe(time);
    // plan takes the same shortcut, and its JSON says why the plan is empty.
    await expectShortcut(dir, ['plan']);
    const json = await runCli(['plan', 'hr', '--json'], { cwd: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ changes: [], heldBack: [], warnings: [], unchangedSince: time });
    // A run that skipped reading is still a run: it is in the history like any other.
    const history = await runCli(['history', 'hr', '--json'], { cwd: dir });
    const runs = JSON.parse(history.stdout) as { outcome: string }[];
    expect(runs.map((r) => r.outcome)).toEqual(['success', 'success', 'success', 'success']);
  });

  it('an edited CSV is compared in full and the change applied', async () => {
    const staff = people(4);
    const dir = await synced(staff);
    await expectShortcut(dir);
    staff[2]!.title = 'Principal';
    await writeFile(join(dir, 'employees.csv'), csvOf(staff));
    const r = await runCli(['run', '--detailed-exitcode'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('title: "Engineer" → "Principal"');
    expect(r.stdout).not.toMatch(UNCHANGED);
  });

  it('a job config change is compared in full', async () => {
    const dir = await synced(people(4));
    await expectShortcut(dir);
    const config = configYaml().replace('      title: "{{title}}"\n', '      title: "{{title | upper}}"\n');
    expect(config).toContain('upper');
    await writeFile(join(dir, 'scim-sync.config.yaml'), config);
    const r = await runCli(['plan', '--detailed-exitcode'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('title: "Engineer" → "ENGINEER"');
  });

  it('an outside UPDATE of the embedded directory (another SQLite connection) is detected and repaired', async () => {
    const dir = await synced(people(4));
    await expectShortcut(dir);
    // What an admin with the sqlite3 CLI, or a SCIM server sharing the store, might do: the
    // connector never sees this write.
    const db = new Database(join(dir, 'state.db'));
    try {
      db.pragma('busy_timeout = 5000');
      const changed = db
        .prepare("UPDATE dir_users SET data = json_set(data, '$.title', 'Hacked') WHERE user_name = 'first1.last1@example.com'")
        .run().changes;
      expect(changed).toBe(1);
    } finally {
      db.close();
    }
    const r = await runCli(['run', '--detailed-exitcode'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('~ update user first1.last1@example.com');
    expect(r.stdout).toContain('title: "Hacked" → "Engineer"');
    const user = (await readDirectory(join(dir, 'state.db'))).users.find((u) => u.userName === 'first1.last1@example.com');
    expect(user?.title).toBe('Engineer');
    // The run that repaired it changed the target, so the next run compares in full again.
    const next = await runCli(['run'], { cwd: dir });
    expect(next.stdout).toContain(IN_SYNC);
  });

  it('a write through another embedded connector instance is detected', async () => {
    const dir = await synced(people(4));
    await expectShortcut(dir);
    const statePath = join(dir, 'state.db');
    const connector = embeddedConnector.create({}, { name: 'other', configDir: dir, statePath, logger: silentLogger, warn: () => {} });
    try {
      const { users } = await readDirectory(statePath);
      const victim = users.find((u) => u.userName === 'first2.last2@example.com')!;
      await connector.writer!.deactivateUser(victim.id);
    } finally {
      await connector.close();
    }
    const r = await runCli(['plan', '--detailed-exitcode'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('~ update user first2.last2@example.com');
  });

  it('--full compares in full, and records the no-op again', async () => {
    const dir = await synced(people(4));
    await expectShortcut(dir);
    for (const args of [['run', '--full'], ['plan', '--full'], ['run', '--dry-run', '--full']]) {
      const r = await runCli([...args, '--detailed-exitcode'], { cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(IN_SYNC);
    }
    await expectShortcut(dir);
  });

  it('read warnings are shown on the shortcut path too', async () => {
    const staff = people(4);
    const dir = await setup(staff);
    // A duplicated id: both rows are left out with a warning on every run.
    const csv = csvOf(staff) + csvOf([person(1, { first: 'Dupe' })]).split('\n').slice(1).join('\n');
    await writeFile(join(dir, 'employees.csv'), csv);
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    const full = await runCli(['run'], { cwd: dir });
    expect(full.stdout).toContain(IN_SYNC);
    expect(full.stdout).toContain('duplicate-id');
    const short = await expectShortcut(dir);
    const warningLines = (out: string) => out.split('\n').filter((l) => l.includes('duplicate-id'));
    expect(warningLines(short)).toHaveLength(2);
    expect(warningLines(short)).toEqual(warningLines(full.stdout));
  });

  it('a job mapping that reads the clock is never skipped: its plan is not a function of the inputs', async () => {
    const extra = `    mapping:\n      users:\n        nickName: { expr: '$millis() > 0 ? "veteran" : "new"' }\n`;
    const dir = await setup(people(3), { extra });
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['run', '--detailed-exitcode'], { cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(IN_SYNC);
    }
    expect((await readDirectory(join(dir, 'state.db'))).users[0]?.nickName).toBe('veteran');
  });

  it('a missing CSV fails clearly instead of being taken as unchanged', async () => {
    const dir = await synced(people(3));
    await expectShortcut(dir);
    const csv = await readFile(join(dir, 'employees.csv'), 'utf8');
    await rm(join(dir, 'employees.csv'));
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('employees.csv');
    await writeFile(join(dir, 'employees.csv'), csv);
    // The failed run recorded nothing new; the file is back as it was, so the record applies again.
    await expectShortcut(dir);
  });
});
