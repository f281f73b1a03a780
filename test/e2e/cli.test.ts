import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openState } from '../../src/state/open.js';
import { readDirectory } from './directory.js';
import { bin, csvOf, person, runCli, setup, type Person } from './helpers.js';

const people = (n: number, from = 0): Person[] => Array.from({ length: n }, (_, i) => person(from + i));

describe('scim-sync run / plan / apply (CSV → embedded directory)', () => {
  it('creates users, groups and memberships, then a re-run changes nothing', async () => {
    const staff = people(6);
    staff[1]!.manager = staff[0]!.id;
    const dir = await setup(staff);
    const first = await runCli(['run'], { cwd: dir });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('+ create user first0.last0@example.com');
    expect(first.stdout).toMatch(/Apply complete: 8 created/);
    // Memberships are counted per member on both lines, so they agree.
    const planned = /Plan: .*, (\d+) membership changes\./.exec(first.stdout)?.[1];
    expect(first.stdout).toMatch(new RegExp(`Apply complete: .*, ${planned} membership changes\\.`));

    const { users, groups } = await readDirectory(join(dir, 'state.db'));
    expect(users).toHaveLength(6);
    expect(groups.map((g) => g.displayName).sort()).toEqual(['Engineering', 'Sales']);
    const byName = new Map(users.map((u) => [u.userName, u]));
    const boss = byName.get('first0.last0@example.com')!;
    expect(byName.get('first1.last1@example.com')!.enterprise?.manager?.value).toBe(boss.id);
    expect(boss.externalId).toBe('E0000');
    const engineering = groups.find((g) => g.displayName === 'Engineering')!;
    expect(engineering.members.map((m) => m.value).sort()).toEqual(
      users.filter((u) => u.enterprise?.department === 'Engineering').map((u) => u.id).sort(),
    );

    const second = await runCli(['run', '--detailed-exitcode'], { cwd: dir });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('No changes.');
  });

  it('plan --detailed-exitcode exits 2 with changes and 0 without; plan writes nothing', async () => {
    const dir = await setup(people(3));
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: dir });
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/Plan: 5 to create/);
    expect((await readDirectory(join(dir, 'state.db'))).users).toHaveLength(0);
    const dry = await runCli(['run', '--dry-run', '--detailed-exitcode'], { cwd: dir });
    expect(dry.code).toBe(2);
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    const after = await runCli(['plan', '--detailed-exitcode'], { cwd: dir });
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('No changes.');
  });

  it('a renamed user is updated in place, never deleted and recreated', async () => {
    const staff = people(3);
    const dir = await setup(staff);
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    const before = await readDirectory(join(dir, 'state.db'));
    staff[2]!.first = 'Renamed';
    staff[2]!.title = 'Staff Engineer';
    await writeFile(join(dir, 'employees.csv'), csvOf(staff));
    const res = await runCli(['run'], { cwd: dir });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/~ update user/);
    expect(res.stdout).toContain('"Engineer" → "Staff Engineer"');
    const after = await readDirectory(join(dir, 'state.db'));
    const old = before.users.find((u) => u.externalId === staff[2]!.id)!;
    const renamed = after.users.find((u) => u.externalId === staff[2]!.id)!;
    expect(renamed.id).toBe(old.id);
    expect(renamed.userName).toBe('renamed.last2@example.com');
    expect(after.users).toHaveLength(3);
  });

  it('--json prints a versioned plan document', async () => {
    const dir = await setup(people(2));
    const res = await runCli(['--json', 'plan', 'hr'], { cwd: dir });
    expect(res.code).toBe(0);
    const plan = JSON.parse(res.stdout) as { version: number; job: string; changes: { kind: string }[] };
    expect(plan.version).toBe(1);
    expect(plan.job).toBe('hr');
    expect(plan.changes.filter((c) => c.kind === 'create-user')).toHaveLength(2);
  });

  it('apply runs a saved plan once and refuses it when state has moved on', async () => {
    const dir = await setup(people(4));
    const saved = await runCli(['plan', 'hr', '--out', 'plan.json'], { cwd: dir });
    expect(saved.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'plan.json'), 'utf8')).job).toBe('hr');
    const applied = await runCli(['apply', 'plan.json'], { cwd: dir });
    expect(applied.code).toBe(0);
    expect((await readDirectory(join(dir, 'state.db'))).users).toHaveLength(4);
    const again = await runCli(['apply', 'plan.json'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/stale/);
    expect(again.stderr).not.toMatch(/\n\s+at /);
    expect((await readDirectory(join(dir, 'state.db'))).users).toHaveLength(4);
  });

  it('holds removals over the threshold (exit 3) while creates still apply; --allow-deletes applies them', async () => {
    const staff = people(20);
    const dir = await setup(staff);
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    // 5 of 20 leave (25% > 10%) and one joins.
    const next = [...staff.slice(5), person(100)];
    await writeFile(join(dir, 'employees.csv'), csvOf(next));
    const held = await runCli(['run', 'hr'], { cwd: dir });
    expect(held.code).toBe(3);
    expect(held.stdout + held.stderr).toMatch(/--allow-deletes/);
    let dirNow = await readDirectory(join(dir, 'state.db'));
    expect(dirNow.users).toHaveLength(21);
    expect(dirNow.users.filter((u) => !u.active)).toHaveLength(0);

    const allowed = await runCli(['run', 'hr', '--allow-deletes'], { cwd: dir });
    expect(allowed.code).toBe(0);
    dirNow = await readDirectory(join(dir, 'state.db'));
    expect(dirNow.users.filter((u) => !u.active).map((u) => u.externalId).sort()).toEqual(staff.slice(0, 5).map((p) => p.id));
    const history = await runCli(['history', 'hr', '--json'], { cwd: dir });
    const runs = JSON.parse(history.stdout) as { outcome: string; heldBack: number }[];
    expect(runs.map((r) => r.outcome)).toEqual(['success', 'held', 'success']);
    expect(runs[1]!.heldBack).toBe(5);
  });

  it('an empty export fails the job before any write and removes nobody', async () => {
    const dir = await setup(people(5));
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    await writeFile(join(dir, 'employees.csv'), 'employee_id,first_name,last_name,email,title,department,manager_id,status\n');
    const res = await runCli(['run', '--allow-deletes'], { cwd: dir });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/employees\.csv/);
    const { users } = await readDirectory(join(dir, 'state.db'));
    expect(users.filter((u) => u.active)).toHaveLength(5);
  });

  it('a terminated employee is deactivated (never deleted) and an unknown target object is left alone', async () => {
    const staff = people(12);
    const dir = await setup(staff, { deletes: '{ mode: deactivate, maxCount: 5, maxPercent: 50 }' });
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    staff[3]!.status = 'terminated';
    await writeFile(join(dir, 'employees.csv'), csvOf(staff));
    const res = await runCli(['run'], { cwd: dir });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/deactivate user first3\.last3@example\.com/);
    const { users } = await readDirectory(join(dir, 'state.db'));
    expect(users).toHaveLength(12);
    expect(users.filter((u) => !u.active).map((u) => u.externalId)).toEqual([staff[3]!.id]);
  });

  it('a second concurrent run of the same job exits 4 naming the holder', async () => {
    const dir = await setup(people(2));
    const state = openState(join(dir, 'state.db'));
    const release = state.acquireLock('hr');
    try {
      const res = await runCli(['run', 'hr'], { cwd: dir });
      expect(res.code).toBe(4);
      expect(res.stderr).toContain(`pid ${process.pid}`);
    } finally {
      release();
      state.close();
    }
    expect((await runCli(['run', 'hr'], { cwd: dir })).code).toBe(0);
  });

  it('two real processes: the second run of a job exits 4 naming the first, then the job converges', async () => {
    // Big enough, one write at a time, that the first run is still applying when the second starts.
    const dir = await setup(people(6000), { concurrency: 1 });
    const statePath = join(dir, 'state.db');
    const first = spawn(process.execPath, [bin, 'run', 'hr', '--quiet'], { cwd: dir, stdio: 'ignore', env: { ...process.env } });
    const firstDone = new Promise<number>((r) => first.on('close', (code) => r(code ?? -1)));
    // Wait until the first run holds the lock (it takes it before reading).
    const state = openState(statePath);
    try {
      const deadline = Date.now() + 30_000;
      while (!state.readLock('hr') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(state.readLock('hr')?.pid).toBe(first.pid);
    } finally {
      state.close();
    }
    const second = await runCli(['run', 'hr'], { cwd: dir });
    expect(second.code).toBe(4);
    expect(second.stderr).toContain(`pid ${first.pid}`);
    expect(await firstDone).toBe(0);
    const after = await runCli(['run', 'hr', '--detailed-exitcode'], { cwd: dir });
    expect(after.code).toBe(0);
    expect((await readDirectory(statePath)).users).toHaveLength(6000);
  });

  it('status and history show the last runs', async () => {
    const dir = await setup(people(2));
    await runCli(['run'], { cwd: dir });
    const status = await runCli(['status'], { cwd: dir });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/hr: hr → embedded/);
    expect(status.stdout).toMatch(/last run: #1 hr .* manual success/);
    const history = await runCli(['history'], { cwd: dir });
    expect(history.stdout).toMatch(/create-user 2/);
  });

  it('kill -9 in the middle of an apply, then re-runs converge with no duplicates and no lost links', async () => {
    const staff = people(1500);
    const dir = await setup(staff, { concurrency: 4 });
    const statePath = join(dir, 'state.db');
    const child = spawn(process.execPath, [bin, 'run', 'hr', '--quiet'], { cwd: dir, stdio: 'ignore', env: { ...process.env } });
    // Wait until the apply is under way (some users exist), then kill without warning.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      const n = await countUsers(statePath);
      if (n > 50 || Date.now() > deadline) break;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const partial = await countUsers(statePath);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(1500);

    const rerun = await runCli(['run', 'hr'], { cwd: dir });
    expect(rerun.code).toBe(0);
    const { users } = await readDirectory(statePath);
    expect(users).toHaveLength(1500);
    expect(new Set(users.map((u) => u.externalId)).size).toBe(1500);
    const state = openState(statePath);
    try {
      const links = state.loadLinks('hr');
      expect(links.users.size).toBe(1500);
      const ids = new Set(users.map((u) => u.id));
      for (const l of links.users.values()) expect(ids.has(l.targetId)).toBe(true);
    } finally {
      state.close();
    }
    const third = await runCli(['run', 'hr', '--detailed-exitcode'], { cwd: dir });
    expect(third.code).toBe(0);
    expect(third.stdout).toContain('No changes.');
  });
});

async function countUsers(statePath: string): Promise<number> {
  try {
    return (await readDirectory(statePath)).users.length;
  } catch {
    return 0;
  }
}
