/**
 * `scim-sync serve` benchmark (run alone: `npm run build && node dist/bench/serve.js`).
 *
 * 1. Same size, both servers: our `serve` (embedded directory, real CLI process) and the scimmy
 *    peer used in the SCIM connector's tests (its own process), each filled with BENCH_SERVE_PEER_USERS
 *    users by POST (the POST throughput), then `userName eq` lookups (p50/p99) and paged listing.
 * 2. Scale: the embedded directory with BENCH_SERVE_USERS users (1,000,000) and BENCH_SERVE_GROUPS
 *    groups (10,000; every user in one), bulk-loaded through the store (not HTTP), served by the
 *    real CLI: lookups, paged listing, a deep page, POST throughput.
 *
 * Servers run in their own processes, so client and server each get a core. Every response is
 * checked (status, and the right user found), so a fast wrong answer cannot pass as a result.
 *
 * The peer is test code (test/support/scimmy-peer.ts), which tsconfig.build.json leaves out of
 * dist: it is compiled here, at run time, into bench/out/serve/peer-build and loaded by a small
 * runner script, so the build never depends on test code.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { DirectoryStore } from '../connectors/embedded/store.js';
import { root } from './cli.js';

const outDir = join(root, 'bench', 'out', 'serve');
const USERS = Number(process.env.BENCH_SERVE_USERS ?? 1_000_000);
const GROUPS = Number(process.env.BENCH_SERVE_GROUPS ?? 10_000);
const PEER_USERS = Number(process.env.BENCH_SERVE_PEER_USERS ?? 5_000);
const LOOKUPS = Number(process.env.BENCH_SERVE_LOOKUPS ?? 2_000);
const PAGE = 100;
const MAX_PAGES = 500;
const POST_CONCURRENCY = 16;
/**
 * Lookups and listing stop after this long (having done at least a few): the peer filters and
 * pages by walking every stored user, so a full run against it would take many minutes.
 */
const PHASE_SECONDS = Number(process.env.BENCH_SERVE_PHASE_SECONDS ?? 20);
const TOKEN = 'bench-serve-token-0123456789';
/** BENCH_SERVE_REUSE=1 keeps bench/out/serve/large from an earlier run instead of loading it again. */
const REUSE = process.env.BENCH_SERVE_REUSE === '1';
/** Lookups before measuring, on other users: JIT and page cache warm, as in a server that has been up a while. */
const WARMUP = 500;

interface Target {
  name: string;
  baseUrl: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return async () => {
    child.kill('SIGTERM');
    await exited;
  };
}

/** The real CLI: `scim-sync serve` over the state file in `dir`. */
async function startServe(dir: string, name: string): Promise<Target> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin', 'scim-sync.js'), 'serve', '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    env: { ...process.env, BENCH_TOKEN: TOKEN, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stderr! });
    const lines: string[] = [];
    rl.on('line', (l) => {
      lines.push(l);
      const m = /Serving SCIM 2\.0 at (\S+) /.exec(l);
      // The access log keeps coming; it is read and dropped, as a log shipper would.
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${lines.join('\n')}`)));
  });
  return { name, baseUrl, stop: stopper(child) };
}

async function startPeer(): Promise<Target> {
  const build = join(outDir, 'peer-build');
  const tsconfig = join(outDir, 'peer-tsconfig.json');
  await writeFile(
    tsconfig,
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: { noEmit: false, outDir: build, rootDir: root, sourceMap: false },
      include: [],
      files: [join(root, 'test', 'support', 'scimmy-peer.ts')],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`compiling the scimmy peer failed:\n${tsc.stdout}${tsc.stderr}`);
  const runner = join(outDir, 'peer-runner.mjs');
  await writeFile(
    runner,
    `import { startScimmyPeer } from ${JSON.stringify(join(build, 'test', 'support', 'scimmy-peer.js'))};
const peer = await startScimmyPeer({ token: ${JSON.stringify(TOKEN)} });
console.log(JSON.stringify({ baseUrl: peer.baseUrl }));
process.on('SIGTERM', () => peer.close().then(() => process.exit(0)));
`,
  );
  const child = spawn(process.execPath, [runner], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`scimmy peer exited ${code}`)));
  });
  return { name: 'scimmy peer', baseUrl: (JSON.parse(line) as { baseUrl: string }).baseUrl, stop: stopper(child) };
}

class Client {
  private readonly pool: Pool;
  private readonly prefix: string;

  constructor(baseUrl: string) {
    const url = new URL(baseUrl);
    this.pool = new Pool(url.origin, { connections: POST_CONCURRENCY });
    this.prefix = url.pathname.replace(/\/$/, '');
  }

  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await this.pool.request({
      method,
      path: this.prefix + path,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function userBody(i: number, prefix = 'user'): Record<string, unknown> {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
    userName: `${prefix}${i}@example.com`,
    externalId: `${prefix.toUpperCase()}${i}`,
    active: true,
    name: { givenName: `Given${i}`, familyName: `Family${i}` },
    displayName: `Given${i} Family${i}`,
    title: 'Engineer',
    emails: [{ value: `${prefix}${i}@example.com`, type: 'work', primary: true }],
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: `Dept ${i % 100}` },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function posts(client: Client, from: number, n: number, prefix: string): Promise<number> {
  let next = from;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: POST_CONCURRENCY }, async () => {
      while (next < from + n) {
        const i = next++;
        const r = await client.request('POST', '/Users', userBody(i, prefix));
        if (r.status !== 201) throw new Error(`POST user ${i}: ${r.status} ${JSON.stringify(r.json)}`);
      }
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

async function lookups(client: Client, total: number, prefix: string): Promise<{ p50: number; p99: number; n: number }> {
  for (let k = 0; k < Math.min(WARMUP, total); k++) {
    const r = await client.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${prefix}${(k * 104_729 + 13) % total}@example.com"`)}`);
    if (r.status !== 200) throw new Error(`warm-up lookup: ${r.status}`);
  }
  const times: number[] = [];
  const deadline = performance.now() + PHASE_SECONDS * 1000;
  for (let k = 0; k < LOOKUPS && (k < 50 || performance.now() < deadline); k++) {
    // Spread over the whole directory, deterministic.
    const i = (k * 7919) % total;
    const name = `${prefix}${i}@example.com`;
    const t = performance.now();
    const r = await client.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`);
    times.push(performance.now() - t);
    const found = (r.json.Resources as { userName: string }[] | undefined) ?? [];
    if (r.status !== 200 || found.length !== 1 || found[0]!.userName !== name) throw new Error(`lookup ${name}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), n: times.length };
}

/** Sequential pages of PAGE users from the start: users per second. */
async function listing(client: Client, total: number): Promise<{ usersPerSecond: number; pages: number }> {
  const pages = Math.min(MAX_PAGES, Math.ceil(total / PAGE));
  let seen = 0;
  const started = performance.now();
  const deadline = started + PHASE_SECONDS * 1000;
  for (let p = 0; p < pages && (p < 3 || performance.now() < deadline); p++) {
    const r = await client.request('GET', `/Users?startIndex=${p * PAGE + 1}&count=${PAGE}`);
    const n = ((r.json.Resources as unknown[] | undefined) ?? []).length;
    if (r.status !== 200 || n !== Math.min(PAGE, total - p * PAGE) || r.json.totalResults !== total) {
      throw new Error(`page ${p + 1}: ${r.status}, ${n} users, totalResults ${String(r.json.totalResults)}`);
    }
    seen += n;
  }
  return { usersPerSecond: seen / ((performance.now() - started) / 1000), pages };
}

interface Row {
  target: string;
  users: number;
  postPerSecond?: number;
  p50?: number;
  p99?: number;
  lookups?: number;
  listUsersPerSecond?: number;
  deepPageMs?: number;
}

async function sameSize(target: Target): Promise<Row> {
  const client = new Client(target.baseUrl);
  try {
    const postPerSecond = await posts(client, 0, PEER_USERS, 'peer');
    const { p50, p99, n } = await lookups(client, PEER_USERS, 'peer');
    const { usersPerSecond } = await listing(client, PEER_USERS);
    return { target: target.name, users: PEER_USERS, postPerSecond, p50, p99, lookups: n, listUsersPerSecond: usersPerSecond };
  } finally {
    await client.close();
    await target.stop();
  }
}

function bulkLoad(path: string): number {
  const started = performance.now();
  const store = new DirectoryStore(path);
  try {
    const ids: string[] = new Array<string>(USERS);
    const batch = 20_000;
    for (let start = 0; start < USERS; start += batch) {
      store.transaction(() => {
        for (let i = start; i < Math.min(USERS, start + batch); i++) {
          const body = userBody(i);
          ids[i] = store.createUser({
            userName: body.userName as string,
            externalId: body.externalId as string,
            active: true,
            name: { givenName: `Given${i}`, familyName: `Family${i}` },
            displayName: body.displayName as string,
            title: 'Engineer',
            emails: [{ value: body.userName as string, type: 'work', primary: true }],
            enterprise: { department: `Dept ${i % 100}` },
          });
        }
      });
    }
    for (let start = 0; start < GROUPS; start += 500) {
      store.transaction(() => {
        for (let g = start; g < Math.min(GROUPS, start + 500); g++) {
          const id = store.createGroup({ displayName: `Group ${g}`, externalId: `G${g}` });
          const members = [];
          for (let i = g; i < USERS; i += GROUPS) members.push({ type: 'User' as const, value: ids[i]! });
          store.addMembers(id, members);
        }
      });
    }
    store.db.exec('ANALYZE');
  } finally {
    store.close();
  }
  return (performance.now() - started) / 1000;
}

async function atScale(dir: string): Promise<{ row: Row; loadSeconds: number }> {
  const path = join(dir, 'serve.db');
  const loadSeconds = REUSE && existsSync(path) ? NaN : bulkLoad(path);
  const counted = new DirectoryStore(path);
  const total = counted.counts().users;
  counted.close();
  const target = await startServe(dir, `serve (embedded, ${USERS.toLocaleString('en')} users)`);
  const client = new Client(target.baseUrl);
  try {
    // Users 0 … USERS-1 are the bulk-loaded ones (a reused directory also has earlier POSTs).
    const { p50, p99, n } = await lookups(client, USERS, 'user');
    const { usersPerSecond } = await listing(client, total);
    // A page near the end, asked for directly (no sequential cursor to continue from).
    const t = performance.now();
    const deep = await client.request('GET', `/Users?startIndex=${total - PAGE + 1}&count=${PAGE}`);
    const deepPageMs = performance.now() - t;
    if (deep.status !== 200 || (deep.json.Resources as unknown[]).length !== PAGE) throw new Error(`deep page: ${deep.status}`);
    const postPerSecond = await posts(client, 0, 5_000, `new${Date.now().toString(36)}-`);
    return { row: { target: target.name, users: total, postPerSecond, p50, p99, lookups: n, listUsersPerSecond: usersPerSecond, deepPageMs }, loadSeconds };
  } finally {
    await client.close();
    await target.stop();
  }
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

async function main(): Promise<void> {
  await rm(join(outDir, 'small'), { recursive: true, force: true });
  if (!REUSE) await rm(outDir, { recursive: true, force: true });
  const small = join(outDir, 'small');
  const large = join(outDir, 'large');
  for (const d of [small, large]) {
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'scim-sync.config.yaml'), 'state: ./serve.db\nserver:\n  tokens: ["${env:BENCH_TOKEN}"]\n  maxResults: 1000\n');
  }
  const rows: Row[] = [];
  rows.push(await sameSize(await startServe(small, `serve (embedded, ${PEER_USERS.toLocaleString('en')} users)`)));
  rows.push(await sameSize(await startPeer()));
  const scale = await atScale(large);
  rows.push(scale.row);

  console.log(`\nscim-sync serve benchmark (node ${process.version}; page size ${PAGE}; up to ${LOOKUPS} sequential lookups and ${MAX_PAGES} sequential pages, each phase capped at ${PHASE_SECONDS} s; POST: ${POST_CONCURRENCY} concurrent)`);
  console.log(
    Number.isNaN(scale.loadSeconds)
      ? 'directory reused from an earlier run (BENCH_SERVE_REUSE=1)\n'
      : `bulk load of ${USERS.toLocaleString('en')} users and ${GROUPS.toLocaleString('en')} groups through the store: ${scale.loadSeconds.toFixed(1)} s\n`,
  );
  console.log('| server | users | POST /Users per s | userName eq p50 | p99 (lookups) | paged listing users/s | deep page |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.target} | ${fmt(r.users)} | ${fmt(r.postPerSecond)} | ${fmt(r.p50, 2)} ms | ${fmt(r.p99, 2)} ms (${fmt(r.lookups)}) | ${fmt(r.listUsersPerSecond)} | ${r.deepPageMs === undefined ? '–' : `${fmt(r.deepPageMs, 1)} ms`} |`);
  }
  const [ours, peer, big] = rows;
  const ratio = ours!.listUsersPerSecond! / peer!.listUsersPerSecond!;
  console.log(`\nlisting vs the peer at ${PEER_USERS.toLocaleString('en')} users: ${ratio.toFixed(1)}× (aim ≥ 3×); at ${USERS.toLocaleString('en')}: ${(big!.listUsersPerSecond! / peer!.listUsersPerSecond!).toFixed(1)}×`);
  console.log(`userName eq p99 at ${USERS.toLocaleString('en')} users: ${fmt(big!.p99, 2)} ms (aim ≤ 5 ms)`);
  await writeFile(join(outDir, 'results.json'), JSON.stringify({ rows, loadSeconds: scale.loadSeconds }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
