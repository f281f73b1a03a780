/**
 * `npm run bench` (second part; alone: `npm run bench:scim`): CSV HR export → SCIM server on
 * loopback at 100,000 users in 2,000 departments. The server (bench/scim-server.ts) runs in its
 * own process, so server and client each get one core.
 *
 * Runs the real CLI for an initial sync, no-op re-runs and a 1 % change, counting requests on the
 * server. The floor, measured in the same run against a freshly started server: a bare undici Pool
 * loop with the same connections/concurrency sending the same number and kind of requests as the
 * initial sync did (the same bodies, only names and ids varied), reading each JSON reply.
 *
 * Fails (exit 1) if a no-op run sends anything but GETs, or the 1 % run writes anything but the
 * changed users. BENCH_USERS / BENCH_DEPTS scale it; BENCH_SCIM_CONCURRENCY is a comma list
 * (default 32) of connector concurrencies to measure.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { BENCH_HR_CONNECTOR_YAML, generateHrCsv } from './generate.js';
import { root, runCli } from './cli.js';
import type { CliRun } from './cli.js';
import type { BenchServerStats } from './scim-server.js';

const outDir = join(root, 'bench', 'out', 'scim');
const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const DEPTS = Number(process.env.BENCH_DEPTS ?? 2_000);
const CONCURRENCIES = (process.env.BENCH_SCIM_CONCURRENCY ?? '32').split(',').map((s) => Number(s.trim()));
/** Floor repetitions, each against a fresh server; the fastest is the floor (the VM is noisy). */
const FLOOR_RUNS = Math.max(1, Number(process.env.BENCH_SCIM_FLOOR_RUNS ?? 2));
const TOKEN = 'bench-token';
/** BENCH_CPU_PROF=1 writes a V8 CPU profile of every CLI run to bench/out/scim/prof. */
const PROF_ARGS = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(outDir, 'prof')}`] : [];
/** BENCH_CLI_NODE_ARGS: extra node flags for the CLI runs only (e.g. GC settings to try). */
const CLI_NODE_ARGS = [...PROF_ARGS, ...(process.env.BENCH_CLI_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];
/** BENCH_SCIM_QUICK=1: only the initial sync and its floor (for profiling iterations), no re-runs. */
const QUICK = Boolean(process.env.BENCH_SCIM_QUICK);

interface Server {
  port: number;
  origin: string;
  child: ChildProcessWithoutNullStreams;
  stop: () => Promise<void>;
}

async function startServer(): Promise<Server> {
  const child = spawn(process.execPath, [join(root, 'dist', 'bench', 'scim-server.js')]);
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const line: string = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`bench SCIM server exited ${code} before listening`)));
  });
  const { port } = JSON.parse(line) as { port: number };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Out-of-band control requests (not counted by the server). */
async function control<T>(server: Server, method: 'GET' | 'POST', path: string): Promise<T | undefined> {
  const pool = new Pool(server.origin, { connections: 1 });
  try {
    const res = await pool.request({ method, path });
    const text = await res.body.text();
    return text ? (JSON.parse(text) as T) : undefined;
  } finally {
    await pool.close();
  }
}

const stats = async (s: Server) => (await control<BenchServerStats>(s, 'GET', '/_bench/stats'))!;
const resetCounts = (s: Server) => control(s, 'POST', '/_bench/reset-counts');

function configYaml(port: number, concurrency: number): string {
  return `state: ./bench.db
connectors:
${BENCH_HR_CONNECTOR_YAML}  app:
    type: scim
    baseUrl: http://127.0.0.1:${port}/scim/v2
    auth: { bearer: ${TOKEN} }
    concurrency: ${concurrency}
    pageSize: 100
    memberBatchSize: 100
jobs:
  bench:
    source: hr
    target: app
    concurrency: ${concurrency}
    deletes: { mode: deactivate, maxCount: 100000, maxPercent: 100 }
`;
}

interface Measured {
  name: string;
  cli: CliRun;
  requests: Record<string, number>;
  byEndpoint: Record<string, number>;
  serverCpu: number;
}

async function measure(server: Server, name: string, args: string[]): Promise<Measured> {
  await resetCounts(server);
  const cli = await runCli(outDir, args, CLI_NODE_ARGS);
  await writeFile(join(outDir, `${name.replace(/[^\w%=-]+/g, '-')}.stderr.log`), cli.stderr);
  const s = await stats(server);
  console.log(`${name}: ${cli.seconds.toFixed(2)} s (client CPU ${cli.cpuSeconds.toFixed(2)} s, server CPU ${s.cpuSeconds.toFixed(2)} s), exit ${cli.exitCode}, requests ${JSON.stringify(s.counts)}`);
  if (cli.exitCode !== 0) console.log(cli.stderr.split('\n').filter((l) => /"level":"(error|warn)"/.test(l)).slice(0, 5).join('\n'));
  return { name, cli, requests: { ...s.counts }, byEndpoint: { ...s.byEndpoint }, serverCpu: s.cpuSeconds };
}

const writesOf = (m: Record<string, number>) => WRITE_METHODS.reduce((a, k) => a + (m[k] ?? 0), 0);
const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

type Req = { method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'; path: string; body?: string };

/**
 * The floor: `byEndpoint` requests (as counted during the initial sync) sent by a bare undici Pool
 * loop, `concurrency` in flight, against a fresh server. Phases in the sync's order (reads, group
 * creates, user creates, other writes) so every PATCH names a resource that exists. Bodies are the
 * sync's own first body of each kind with names and ids varied.
 */
async function measureFloor(
  server: Server,
  concurrency: number,
  byEndpoint: Record<string, number>,
  samples: Record<string, string>,
): Promise<{ seconds: number; cpuSeconds: number; requests: number }> {
  const pool = new Pool(server.origin, { connections: concurrency });
  const headers = { accept: 'application/scim+json, application/json', authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' };
  const groupIds: string[] = [];
  const userIds: string[] = [];
  let sent = 0;

  async function runPhase(count: number, make: (i: number) => Req, onReply?: (i: number, json: unknown) => void): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const r = make(i);
        const res = await pool.request({ method: r.method, path: r.path, headers: r.body === undefined ? { accept: headers.accept, authorization: headers.authorization } : headers, body: r.body });
        const text = await res.body.text();
        const json = text ? (JSON.parse(text) as unknown) : undefined;
        if (res.statusCode >= 300) throw new Error(`floor ${r.method} ${r.path}: ${res.statusCode} ${text.slice(0, 200)}`);
        onReply?.(i, json);
        sent++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(count, 1)) }, worker));
  }

  const sample = (key: string): Record<string, unknown> => JSON.parse(samples[key] ?? '{}') as Record<string, unknown>;
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();

  // Reads: as many GETs as the sync sent (listing the empty server, /ServiceProviderConfig).
  const gets = Object.entries(byEndpoint).filter(([k]) => k.startsWith('GET '));
  for (const [key, n] of gets) {
    const path = `/scim/v2${key.slice(4).replace('{id}', 'x')}${key.endsWith('/Users') || key.endsWith('/Groups') ? '?startIndex=1&count=100' : ''}`;
    await runPhase(n, () => ({ method: 'GET', path }));
  }
  const groupSample = sample('POST /Groups');
  await runPhase(
    byEndpoint['POST /Groups'] ?? 0,
    (i) => ({ method: 'POST', path: '/scim/v2/Groups', body: JSON.stringify({ ...groupSample, displayName: `Floor group ${i}`, externalId: `fg${i}` }) }),
    (i, json) => (groupIds[i] = String((json as { id: string }).id)),
  );
  const userSample = sample('POST /Users');
  await runPhase(
    byEndpoint['POST /Users'] ?? 0,
    (i) => ({
      method: 'POST',
      path: '/scim/v2/Users',
      body: JSON.stringify({ ...userSample, userName: `floor${i}@example.com`, externalId: `F${i}`, emails: [{ value: `floor${i}@example.com`, type: 'work', primary: true }] }),
    }),
    (i, json) => (userIds[i] = String((json as { id: string }).id)),
  );
  // Membership PATCHes: the sync's first PATCH body, members swapped for real user ids.
  const groupPatch = sample('PATCH /Groups/{id}');
  const perPatch = Math.max(1, ((groupPatch.Operations as { value?: unknown[] }[] | undefined)?.[0]?.value ?? [1]).length);
  const patchBody = (i: number) => {
    const ops = (groupPatch.Operations as Record<string, unknown>[] | undefined) ?? [];
    const members = Array.from({ length: perPatch }, (_, k) => ({ value: userIds[(i * perPatch + k) % Math.max(userIds.length, 1)] ?? 'x', type: 'User' }));
    return JSON.stringify({ ...groupPatch, Operations: ops.map((op) => (op.path === 'members' ? { ...op, value: members } : op)) });
  };
  await runPhase(byEndpoint['PATCH /Groups/{id}'] ?? 0, (i) => ({ method: 'PATCH', path: `/scim/v2/Groups/${groupIds[i % groupIds.length]!}`, body: patchBody(i) }));
  // Any other writes the sync sent (e.g. PATCH /Users/{id} for managers), same bodies.
  for (const [key, n] of Object.entries(byEndpoint)) {
    if (key.startsWith('GET ') || key === 'POST /Groups' || key === 'POST /Users' || key === 'PATCH /Groups/{id}') continue;
    const [method, rel] = key.split(' ') as [Req['method'], string];
    const body = samples[key];
    const ids = rel.startsWith('/Users') ? userIds : groupIds;
    await runPhase(n, (i) => ({ method, path: `/scim/v2${rel.replace('{id}', ids[i % ids.length] ?? 'x')}`, body }));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  await pool.close();
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, requests: sent };
}

/**
 * The read floor for the no-op runs: the same listing the connector does (every /Users and /Groups
 * page of 100, one at a time, each reply parsed), from a bare undici client.
 */
async function measureReadFloor(server: Server): Promise<{ seconds: number; pages: number }> {
  const pool = new Pool(server.origin, { connections: 1 });
  const headers = { accept: 'application/scim+json, application/json', authorization: `Bearer ${TOKEN}` };
  const started = process.hrtime.bigint();
  let pages = 0;
  for (const endpoint of ['/Users', '/Groups']) {
    for (let start = 1; ; ) {
      const res = await pool.request({ method: 'GET', path: `/scim/v2${endpoint}?startIndex=${start}&count=100`, headers });
      const page = (await res.body.json()) as { Resources: unknown[] };
      pages++;
      if (page.Resources.length === 0) break;
      start += page.Resources.length;
      if (page.Resources.length < 100) break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  return { seconds, pages };
}

function fmtRequests(m: Record<string, number>): string {
  return Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

async function benchConcurrency(concurrency: number, csv: string, changedExpected: number): Promise<string[]> {
  await generateHrCsv(csv, USERS, DEPTS);
  await rm(join(outDir, 'bench.db'), { force: true });
  await rm(join(outDir, 'bench.db-wal'), { force: true });
  await rm(join(outDir, 'bench.db-shm'), { force: true });
  let server = await startServer();
  const problems: string[] = [];
  const runs: Measured[] = [];
  let serverStats: BenchServerStats;
  try {
    await writeFile(join(outDir, 'scim-sync.config.yaml'), configYaml(server.port, concurrency));
    const initial = await measure(server, `c=${concurrency} initial sync`, ['run', 'bench']);
    runs.push(initial);
    serverStats = await stats(server);
    const samples = serverStats.samples;
    if (!QUICK) {
      runs.push(await measure(server, `c=${concurrency} no-op re-run, full compare`, ['run', 'bench']));
      runs.push(await measure(server, `c=${concurrency} no-op re-run, inputs unchanged`, ['run', 'bench']));
      runs.push(await measure(server, `c=${concurrency} no-op re-run, --full`, ['run', 'bench', '--full']));
      await generateHrCsv(csv, USERS, DEPTS, (i) => (i % 100 === 1 ? ' II' : ''));
      const onePct = await measure(server, `c=${concurrency} 1% changed (${changedExpected} titles)`, ['run', 'bench']);
      runs.push(onePct);

      for (const r of runs.slice(1, 4)) {
        if (writesOf(r.requests) !== 0 || r.cli.exitCode !== 0) problems.push(`${r.name} sent ${writesOf(r.requests)} writes (${fmtRequests(r.requests)}), exit ${r.cli.exitCode}`);
      }
      const userPatches = onePct.byEndpoint['PATCH /Users/{id}'] ?? 0;
      if (writesOf(onePct.requests) !== changedExpected || userPatches !== changedExpected || onePct.cli.exitCode !== 0) {
        problems.push(`1% change sent ${writesOf(onePct.requests)} writes (${userPatches} PATCH /Users, expected exactly ${changedExpected}), exit ${onePct.cli.exitCode}`);
      }
    }
    if (initial.cli.exitCode !== 0) problems.push(`initial sync exited ${initial.cli.exitCode}`);

    await resetCounts(server);
    const readFloor = QUICK ? { seconds: NaN, pages: 0 } : await measureReadFloor(server);
    if (!QUICK) console.log(`c=${concurrency} read floor: ${readFloor.pages} pages in ${readFloor.seconds.toFixed(2)} s`);

    // The floor: the initial sync's requests from a bare undici loop, against a fresh server.
    const floors: { seconds: number; cpuSeconds: number; requests: number; stats: BenchServerStats }[] = [];
    for (let f = 0; f < FLOOR_RUNS; f++) {
      await server.stop();
      server = await startServer();
      const run = await measureFloor(server, concurrency, initial.byEndpoint, samples);
      const st = await stats(server);
      console.log(
        `c=${concurrency} floor run ${f + 1}: ${run.requests} requests in ${run.seconds.toFixed(2)} s (${(run.requests / run.seconds).toFixed(0)} req/s, client CPU ${run.cpuSeconds.toFixed(2)} s, server CPU ${st.cpuSeconds.toFixed(2)} s) ${JSON.stringify(st.counts)}`,
      );
      if (total(st.counts) !== total(initial.requests)) problems.push(`floor sent ${total(st.counts)} requests, initial sync ${total(initial.requests)}`);
      floors.push({ ...run, stats: st });
    }
    const floor = floors.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const floorStats = floor.stats;
    const floorCounts = floorStats.counts;
    const floorTimes = floors.map((f) => `${f.seconds.toFixed(2)} s`).join(', ');

    const lines = [
      '',
      `Node ${process.version}, ${USERS} users, ${DEPTS} departments, SCIM connector concurrency ${concurrency}; floor = a bare undici Pool loop (${concurrency} connections) sending the initial sync's ${floor.requests} requests against a fresh server, fastest of ${floors.length} (${floorTimes}): ${floor.seconds.toFixed(2)} s (${(floor.requests / floor.seconds).toFixed(0)} req/s)`,
      `read floor for the no-op runs: a bare undici client listing every /Users and /Groups page (100 per page) one at a time, parsing each: ${readFloor.pages} pages in ${readFloor.seconds.toFixed(2)} s`,
      `server after the initial sync: ${serverStats.users} users, ${serverStats.groups} groups, ${serverStats.memberships} memberships`,
      '',
      '| run | time | × write floor | × read floor | client CPU (× floor\'s) | peak RSS | server CPU | requests | writes applied |',
      '|---|---|---|---|---|---|---|---|---|',
      ...runs.map(
        (r) =>
          `| ${r.name} | ${r.cli.seconds.toFixed(2)} s | ${r === initial ? `**${(r.cli.seconds / floor.seconds).toFixed(2)}×**` : '—'} | ${r === initial ? '—' : `${(r.cli.seconds / readFloor.seconds).toFixed(1)}×`} | ${r.cli.cpuSeconds.toFixed(1)} s${r === initial ? ` (${(r.cli.cpuSeconds / floor.cpuSeconds).toFixed(2)}×)` : ''} | ${r.cli.peakRssMb.toFixed(0)} MB | ${r.serverCpu.toFixed(1)} s | ${fmtRequests(r.byEndpoint) || '—'} | ${JSON.stringify(r.cli.counts)} |`,
      ),
      ...(QUICK ? [] : [`| read floor (bare undici paging) | ${readFloor.seconds.toFixed(2)} s | — | 1.0× | — | — | — | GET ${readFloor.pages} | — |`]),
      `| write floor (bare undici loop) | ${floor.seconds.toFixed(2)} s | 1.00× | — | ${floor.cpuSeconds.toFixed(1)} s | — | ${floorStats.cpuSeconds.toFixed(1)} s | ${fmtRequests(floorCounts)} | — |`,
    ];
    return [...lines, ...(problems.length ? ['', `FAILED (c=${concurrency}): ${problems.join('; ')}`] : [])];
  } finally {
    await server.stop();
    if (problems.length) process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const csv = join(outDir, 'employees.csv');
  // Terminated employees (every 97th) are never provisioned, so their title change writes nothing.
  let changed = 0;
  for (let i = 1; i < USERS; i += 100) if (!(i % 97 === 0)) changed++;
  const report: string[] = [];
  for (const c of CONCURRENCIES) report.push(...(await benchConcurrency(c, csv, changed)));
  console.log(report.join('\n'));
}

await main();
