import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultServer, type FaultServer } from '../support/fault-server.js';
import { csvOf, HR_CONNECTOR_YAML, person, runCli, workspace, type Person } from './helpers.js';

/**
 * The job keys `onMissing` and `maxConsecutiveFailures`, through the real CLI against the fault
 * server: from YAML to the applier's decision and the run's exit code and messages.
 */

function config(baseUrl: string, jobExtra: string): string {
  return `state: ./state.db
connectors:
${HR_CONNECTOR_YAML}  app:
    type: scim
    baseUrl: ${baseUrl}
    auth: { bearer: "\${env:SCIM_TOKEN}" }
    retry: { attempts: 2, baseDelay: 10 }
jobs:
  hr-to-app:
    source: hr
    target: app
    concurrency: 1
${jobExtra}
`;
}

let server: FaultServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function setup(people: Person[], jobExtra = ''): Promise<string> {
  const dir = await workspace();
  await writeFile(join(dir, 'employees.csv'), csvOf(people));
  await writeFile(join(dir, 'scim-sync.config.yaml'), config(server!.baseUrl, jobExtra));
  return dir;
}

const env = { SCIM_TOKEN: 'e2e-token' };
const userNamed = (name: string) => [...server!.users.values()].find((u) => u.userName === name);

describe('onMissing through the CLI', () => {
  it('relink (default): apply reports the vanished user and exits non-zero; the next run creates it again', async () => {
    server = await startFaultServer({ token: 'e2e-token' });
    const people = [person(1), person(2)];
    const dir = await setup(people);
    expect((await runCli(['run'], { cwd: dir, env })).code).toBe(0);

    people[0]!.title = 'Principal';
    await writeFile(join(dir, 'employees.csv'), csvOf(people));
    expect((await runCli(['plan', '--out', 'plan.json'], { cwd: dir, env })).code).toBe(0);
    const gone = userNamed('first1.last1@example.com')!;
    server.users.delete(String(gone.id));

    const applied = await runCli(['apply', 'plan.json'], { cwd: dir, env });
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain(`user ${String(gone.id)} is gone from the target (404); its link was dropped`);

    const rerun = await runCli(['run'], { cwd: dir, env });
    expect(rerun.code).toBe(0);
    expect(userNamed('first1.last1@example.com')!.title).toBe('Principal');
    expect(server.users.size).toBe(2);
    const third = await runCli(['run', '--detailed-exitcode'], { cwd: dir, env });
    expect(third.code).toBe(0);
  });

  it('recreate: apply creates the vanished user again at once', async () => {
    server = await startFaultServer({ token: 'e2e-token' });
    const people = [person(1), person(2)];
    const dir = await setup(people, '    onMissing: recreate');
    expect((await runCli(['run'], { cwd: dir, env })).code).toBe(0);
    people[0]!.title = 'Principal';
    await writeFile(join(dir, 'employees.csv'), csvOf(people));
    expect((await runCli(['plan', '--out', 'plan.json'], { cwd: dir, env })).code).toBe(0);
    const gone = userNamed('first1.last1@example.com')!;
    server.users.delete(String(gone.id));

    const applied = await runCli(['apply', 'plan.json'], { cwd: dir, env });
    expect(applied.code).toBe(0);
    expect(applied.stderr).toContain(`user ${String(gone.id)} was gone from the target (404); created it again as`);
    const recreated = userNamed('first1.last1@example.com')!;
    expect(recreated.title).toBe('Principal');
    // Its group membership went with the old object; the next run's comparison restores it.
    const second = await runCli(['run', '--detailed-exitcode'], { cwd: dir, env });
    expect(second.code).toBe(2);
    expect(second.stdout).toMatch(/Apply complete: 0 created, 0 updated, 0 removed, 1 membership change\./);
    const sales = [...server.groups.values()].find((g) => g.displayName === 'Sales')!;
    expect((sales.members as { value: string }[]).map((m) => m.value)).toContain(String(recreated.id));
    expect((await runCli(['run', '--detailed-exitcode'], { cwd: dir, env })).code).toBe(0);
  });

  it('rejects an unknown onMissing value, naming the YAML path', async () => {
    server = await startFaultServer({ token: 'e2e-token' });
    const dir = await setup([person(1)], '    onMissing: ignore');
    const r = await runCli(['validate', '--no-connect'], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('jobs.hr-to-app.onMissing');
  });
});

describe('maxConsecutiveFailures through the CLI', () => {
  it('a target answering every create with 500 stops the run after that many, the rest unattempted', async () => {
    server = await startFaultServer({ token: 'e2e-token' });
    server.inject({ kind: 'status', status: 500, detail: 'backend down' }, { method: 'POST', times: 1000 });
    const dir = await setup(Array.from({ length: 30 }, (_, i) => person(i)), '    maxConsecutiveFailures: 3');
    const r = await runCli(['run'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(server.counts.POST).toBe(3);
    expect(r.stderr).toContain('backend down');
    expect(r.stderr).toContain('the target looks unavailable: 3 changes in a row failed');
  });
});
