import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvOf, person, runCli, setup } from './helpers.js';

/** `explain` and `run --only` through the real CLI, CSV → embedded directory. */

const people = Array.from({ length: 6 }, (_, i) => person(i, { department: 'Sales' }));

describe('explain', () => {
  it('shows source, scope, the pairing and the exact changes for one person, writing nothing', async () => {
    const dir = await setup(people);
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    people[2]!.title = 'Staff Engineer';
    await writeFile(join(dir, 'employees.csv'), csvOf(people));

    const r = await runCli(['explain', 'hr', 'FIRST2.last2@example.com'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^User first2\.last2@example\.com in job hr$/m);
    expect(r.stdout).toMatch(/^Source: id E0002, in scope \(the job has no scope filter\)$/m);
    expect(r.stdout).toMatch(/^Target: id \S+$/m);
    expect(r.stdout).toMatch(/^Match: linked in state to target id \S+ \(created by this job\)$/m);
    expect(r.stdout).toMatch(/~ update user first2\.last2@example\.com/);
    expect(r.stdout).toMatch(/title: "Engineer" → "Staff Engineer"/);
    expect(r.stdout).toMatch(/Plan: 0 to create, 1 to update, 0 to remove, 0 membership changes\./);

    const json = JSON.parse((await runCli(['explain', 'hr', 'E0002', '--json'], { cwd: dir })).stdout) as {
      match: { by: string };
      plan: { changes: { kind: string }[] };
    };
    expect(json.match.by).toBe('link');
    expect(json.plan.changes.map((c) => c.kind)).toEqual(['update-user']);
    // Nothing was written: the change is still pending and no run was recorded.
    expect((await runCli(['run', '--dry-run', '--detailed-exitcode'], { cwd: dir })).code).toBe(2);
    const history = JSON.parse((await runCli(['history', '--json'], { cwd: dir })).stdout) as unknown[];
    expect(history).toHaveLength(1);
  });

  it('explains an out-of-scope person and a new one, and refuses an unknown or ambiguous key', async () => {
    const staff = [...people, person(7, { title: 'Intern', department: 'Sales' })];
    const dir = await setup(staff, { extra: '    scope: { users: \'title ne "Intern"\' }\n' });
    const out = await runCli(['explain', 'hr', 'E0007'], { cwd: dir });
    expect(out.stdout).toMatch(/^Source: id E0007, OUT of scope: does not match "title ne \\"Intern\\""$/m);
    expect(out.stdout).toMatch(/^Match: not provisioned: out of scope, and not linked$/m);
    expect(out.stdout).toMatch(/No changes\./);

    const fresh = await runCli(['explain', 'hr', 'E0001'], { cwd: dir });
    expect(fresh.stdout).toMatch(/^Match: no target object matched \(tried externalId, userName\): a run creates it$/m);
    expect(fresh.stdout).toMatch(/\+ create user first1\.last1@example\.com/);

    const unknown = await runCli(['explain', 'hr', 'nobody@example.com'], { cwd: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/nothing in the source or target matches "nobody@example.com"/);
    const missingJob = await runCli(['explain', 'nope', 'E0001'], { cwd: dir });
    expect(missingJob.code).toBe(1);
    expect(missingJob.stderr).toMatch(/no job named "nope"/);
  });
});

describe('run --only', () => {
  it('provisions one person on demand (with their memberships) and leaves everyone else for the next run', async () => {
    const dir = await setup(people);
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    const more = [...people, person(8, { department: 'Sales' }), person(9, { department: 'Sales' })];
    more[1]!.title = 'Lead';
    await writeFile(join(dir, 'employees.csv'), csvOf(more));

    const one = await runCli(['run', 'hr', '--only', 'first8.last8@example.com'], { cwd: dir });
    expect(one.stderr).toBe('');
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/Plan: 1 to create, 0 to update, 0 to remove, 1 membership change\./);
    // Everyone else is left for the next full run: one create and one update remain.
    const pending = JSON.parse((await runCli(['plan', 'hr', '--json'], { cwd: dir })).stdout) as { summary: { create: number; update: number; memberships: number } };
    expect(pending.summary).toMatchObject({ create: 1, update: 1, memberships: 1 });
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['run', '--detailed-exitcode'], { cwd: dir })).code).toBe(0);
  });

  it('a membership in a group that does not exist yet waits for the full run, and says so', async () => {
    const dir = await setup(people);
    const one = await runCli(['run', 'hr', '--only', 'E0003'], { cwd: dir });
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/Plan: 1 to create, 0 to update, 0 to remove, 1 membership change\./);
    expect(one.stderr).toMatch(/^skipped: add members to group Sales: /m);
    expect((await runCli(['run'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['run', '--detailed-exitcode'], { cwd: dir })).code).toBe(0);
  });

  it('needs exactly one job and refuses --dry-run', async () => {
    const dir = await setup(people);
    const noJob = await runCli(['run', '--only', 'E0001'], { cwd: dir, env: {} });
    expect(noJob.code).toBe(0); // one job in this config: it is the one
    await writeFile(join(dir, 'scim-sync.config.yaml'), `${(await import('./helpers.js')).configYaml()}  hr2: { source: hr }\n`);
    const two = await runCli(['run', '--only', 'E0001'], { cwd: dir });
    expect(two.code).toBe(1);
    expect(two.stderr).toMatch(/--only applies one object of one job; name the job/);
    const dry = await runCli(['run', 'hr', '--only', 'E0001', '--dry-run'], { cwd: dir });
    expect(dry.code).toBe(1);
    expect(dry.stderr).toMatch(/scim-sync explain JOB KEY/);
  });
});
