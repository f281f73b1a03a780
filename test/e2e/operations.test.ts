import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
// @ts-expect-error untyped module; only used to prove the text parses
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { openState } from '../../src/state/index.js';
import type { RunRecord } from '../../src/state/types.js';
import { startFaultServer, type FaultServer } from '../support/fault-server.js';
import { bin, configYaml, csvOf, HR_CONNECTOR_YAML, person, runCli, setup, workspace } from './helpers.js';

/** Scheduling and operations through the real CLI: processes, signals, the lock, files and HTTP. */

interface Running {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], cwd: string, env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  children.push(child);
  return { child, stderr: () => stderr, exited };
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function runs(dir: string, job = 'hr'): RunRecord[] {
  const state = openState(join(dir, 'state.db'));
  try {
    return state.listRuns({ job, limit: 100 });
  } finally {
    state.close();
  }
}

const children: ChildProcessWithoutNullStreams[] = [];
const servers: Server[] = [];
let faults: FaultServer | undefined;
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await faults?.close();
  faults = undefined;
});

const people = Array.from({ length: 6 }, (_, i) => person(i));

describe('schedule', () => {
  it('runs a job every second, serves /metrics, and stops cleanly on SIGTERM', async () => {
    const dir = await setup(people);
    await writeFile(join(dir, 'scim-sync.config.yaml'), `${configYaml({ extra: '    schedule: "* * * * * *"\n' })}metrics: { listen: "127.0.0.1:0" }\n`);
    const s = start(['schedule'], dir);
    const metricsUrl = await until('the metrics address', () => /metrics at (http:\/\/\S+)/.exec(s.stderr())?.[1]);
    await until('the schedule announced', () => /job hr: scheduled "\* \* \* \* \* \*"; next run \d{4}-/.test(s.stderr()));
    await until('three scheduled runs', () => runs(dir).filter((r) => r.trigger === 'schedule' && r.outcome === 'success').length >= 3);

    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    const families = (parsePrometheusTextFormat as (t: string) => { name: string; metrics: { labels?: Record<string, string>; value: string }[] }[])(await res.text());
    const outcome = families.find((f) => f.name === 'scim_sync_last_run_outcome')!;
    expect(outcome.metrics.find((m) => m.labels?.outcome === 'success')?.value).toBe('1');

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toMatch(/received SIGTERM: finishing the changes in flight/);
    expect(s.stderr()).toMatch(/stopped\n/);
    // The first run created everyone; the others found nothing to do.
    const all = runs(dir);
    expect(all.at(-1)?.counts['create-user']).toBe(6);
    expect(all.slice(0, -1).map((r) => r.counts)).toEqual(all.slice(0, -1).map(() => ({})));
  });

  it('without any scheduled job, says what to do and exits 1', async () => {
    const dir = await setup(people);
    const r = await runCli(['schedule'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no job has a `schedule:`/);
  });

  it('shows the next run time in status', async () => {
    const dir = await setup(people, { extra: '    schedule: "0 6 * * *"\n    timezone: Asia/Tokyo\n' });
    const r = await runCli(['status', '--json'], { cwd: dir });
    const [row] = JSON.parse(r.stdout) as { nextRun: string; timezone: string }[];
    expect(row!.timezone).toBe('Asia/Tokyo');
    // 06:00 in Tokyo is 21:00 UTC the day before.
    expect(row!.nextRun).toMatch(/T21:00:00\.000Z$/);
  });
});

describe('overlapping runs', () => {
  it('a run while another holds the lock exits 4 naming it (overlap: skip), or waits for it (overlap: wait)', async () => {
    const dir = await setup(people);
    const state = openState(join(dir, 'state.db'));
    const release = state.acquireLock('hr');
    try {
      const skipped = await runCli(['run'], { cwd: dir });
      expect(skipped.code).toBe(4);
      expect(skipped.stderr).toContain(`job hr is locked by pid ${process.pid}`);
      expect(runs(dir)).toEqual([]);

      await writeFile(join(dir, 'scim-sync.config.yaml'), configYaml({ extra: '    overlap: wait\n    overlapTimeout: 60s\n' }));
      const waiting = start(['run'], dir);
      await until('the waiting message', () => /waiting for the lock \(held by pid \d+/.test(waiting.stderr()));
      expect(waiting.child.exitCode).toBeNull();
      release();
      expect(await waiting.exited).toBe(0);
      expect(runs(dir)[0]?.counts['create-user']).toBe(6);
    } finally {
      release();
      state.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM mid-apply finishes the change in flight, records the run as interrupted, and the next run resumes', async () => {
    faults = await startFaultServer({ script: [{ fault: { kind: 'delay', ms: 300 }, method: 'POST', times: 1000 }] });
    const dir = await workspace();
    const staff = Array.from({ length: 20 }, (_, i) => person(i, { department: 'Sales' }));
    await writeFile(join(dir, 'employees.csv'), csvOf(staff));
    await writeFile(
      join(dir, 'scim-sync.config.yaml'),
      `state: ./state.db
connectors:
${HR_CONNECTOR_YAML}  app: { type: scim, baseUrl: ${faults.baseUrl}, auth: { bearer: x } }
jobs:
  hr:
    source: hr
    target: app
    concurrency: 1
`,
    );
    const r = start(['run'], dir);
    await until('a few users created', () => faults!.users.size >= 3);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(1);
    const created = faults.users.size;
    expect(created).toBeLessThan(20);
    const [interrupted] = runs(dir);
    expect(interrupted?.outcome).toBe('interrupted');
    // State describes exactly what exists: one link per created user, nothing more.
    const state = openState(join(dir, 'state.db'));
    expect(state.loadLinks('hr').users.size).toBe(created);
    state.close();

    const next = await runCli(['run'], { cwd: dir });
    expect(next.code).toBe(0);
    expect(faults.users.size).toBe(20);
    expect(new Set([...faults.users.values()].map((u) => u.userName)).size).toBe(20);
    expect((await runCli(['run', '--detailed-exitcode'], { cwd: dir })).code).toBe(0);
  });
});

describe('after a run', () => {
  it('run --metrics-file writes Prometheus text, and a failed run notifies the webhook with the documented body', async () => {
    const received: unknown[] = [];
    let failFirst = true;
    const hook = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        received.push({ auth: req.headers.authorization, body: JSON.parse(text) as unknown });
        // The first delivery fails: the notifier must retry.
        res.writeHead(failFirst ? 503 : 204).end();
        failFirst = false;
      });
    });
    servers.push(hook);
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;

    const dir = await setup(people);
    await writeFile(
      join(dir, 'scim-sync.config.yaml'),
      `${configYaml()}notify:\n  webhook: { url: "\${env:HOOK_URL}", headers: { Authorization: "Bearer \${env:HOOK_TOKEN}" } }\n`,
    );
    const env = { HOOK_URL: hookUrl, HOOK_TOKEN: 'hook-secret-1' };
    const ok = await runCli(['run', '--metrics-file', 'metrics/scim_sync.prom'], { cwd: dir, env });
    expect(ok.code).toBe(0);
    expect(received).toEqual([]); // success is not an event by default
    const prom = await readFile(join(dir, 'metrics', 'scim_sync.prom'), 'utf8');
    expect(prom).toMatch(/^scim_sync_last_run_outcome\{job="hr",outcome="success"\} 1$/m);
    expect(prom).toMatch(/^scim_sync_last_run_changes\{job="hr",kind="create-user"\} 6$/m);

    await writeFile(join(dir, 'employees.csv'), 'not,a,valid\n"unterminated');
    const bad = await runCli(['run', '--metrics-file', 'metrics/scim_sync.prom'], { cwd: dir, env });
    expect(bad.code).toBe(1);
    expect(received).toHaveLength(2);
    const last = received[1] as { auth: string; body: Record<string, unknown> };
    expect(last.auth).toBe('Bearer hook-secret-1');
    expect(last.body).toMatchObject({ version: 1, event: 'failure', job: 'hr', outcome: 'failed', errorCount: 1 });
    expect(String((last.body.errors as { message: string }[])[0]?.message)).toMatch(/employees\.csv/);
    expect(bad.stderr).not.toContain('hook-secret-1');
    expect(await readFile(join(dir, 'metrics', 'scim_sync.prom'), 'utf8')).toMatch(/^scim_sync_last_run_outcome\{job="hr",outcome="failed"\} 1$/m);
  });

  it('logs JSON lines with --log-format json', async () => {
    const dir = await setup(people);
    const r = await runCli(['run', '--log-format', 'json', '--verbose'], { cwd: dir });
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ time: expect.stringMatching(/Z$/), level: expect.any(String), msg: expect.any(String) });
  });

  it('takes the log level and format from the config, and flags win over it', async () => {
    const dir = await setup(people);
    await writeFile(join(dir, 'scim-sync.config.yaml'), `${configYaml()}logging: { format: json, level: debug }\n`);
    const fromConfig = await runCli(['run'], { cwd: dir });
    const levels = fromConfig.stderr.trim().split('\n').map((l) => (JSON.parse(l) as { level: string }).level);
    expect(levels).toContain('debug');
    const overridden = await runCli(['run', '--log-level', 'warn', '--log-format', 'text'], { cwd: dir });
    expect(overridden.stderr).toBe('');
  });
});

describe('serve --schedule', () => {
  it('fills the served directory from a scheduled job in the same process, serves /metrics, and stops on SIGTERM', async () => {
    const { serveCli } = await import('../server/cli.js');
    const dir = await setup(people);
    await writeFile(
      join(dir, 'scim-sync.config.yaml'),
      `${configYaml({ extra: '    schedule: "* * * * * *"\n' })}metrics: { listen: "127.0.0.1:0" }\n`,
    );
    const token = 'serve-schedule-token-0123456789';
    const serving = await serveCli(dir, { SCIM_SYNC_TOKEN: token }, ['--schedule']);
    const users = await until('the scheduled job to fill the served directory', async () => {
      const res = await fetch(`${serving.url}/Users?count=100`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { totalResults: number };
      return body.totalResults === 6 && body;
    });
    expect(users.totalResults).toBe(6);
    const metricsUrl = await until('the metrics address', () => /metrics at (http:\/\/\S+)/.exec(serving.stderr())?.[1]);
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(/^scim_sync_last_run_outcome\{job="hr",outcome="success"\} 1$/m);
    const { code } = await serving.stop();
    expect(code).toBe(0);
    expect(serving.stderr()).toMatch(/Stopped\./);
    expect(runs(dir).every((r) => r.trigger === 'schedule')).toBe(true);
  });

  it('--schedule without any scheduled job is a usage error, and the server does not linger', async () => {
    const dir = await setup(people);
    const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--schedule'], { cwd: dir, env: { SCIM_SYNC_TOKEN: 'serve-schedule-token-0123456789' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no job has a `schedule:`/);
  });
});
