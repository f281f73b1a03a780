/**
 * `npm run bench`: CSV HR export → embedded directory at 100,000 users in 2,000 departments.
 * Every figure is printed beside a floor measured in the same run on the same machine (reading and
 * parsing the CSV alone), because absolute times drift between machines and ratios carry over.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_HR_CONNECTOR_YAML, generateHrCsv } from './generate.js';
import { measureParseFloor } from './floor.js';
import { root, runCli as runCliIn } from './cli.js';
import type { CliRun } from './cli.js';

const outDir = join(root, 'bench', 'out');
const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const DEPTS = Number(process.env.BENCH_DEPTS ?? 2_000);

const runCli = (args: string[]): Promise<CliRun> => runCliIn(outDir, args);

function row(name: string, r: CliRun, floor: number): string {
  return `| ${name} | ${r.seconds.toFixed(2)} s | ${(r.seconds / floor).toFixed(1)}× | ${r.peakRssMb.toFixed(0)} MB | ${r.writes} | ${JSON.stringify(r.counts)} |`;
}

async function main(): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const csv = join(outDir, 'employees.csv');
  await generateHrCsv(csv, USERS, DEPTS);
  await writeFile(
    join(outDir, 'scim-sync.config.yaml'),
    `state: ./bench.db
connectors:
${BENCH_HR_CONNECTOR_YAML}jobs:
  bench:
    source: hr
    target: embedded
    deletes: { mode: deactivate, maxCount: 100000, maxPercent: 100 }
`,
  );

  const floor = await measureParseFloor(csv);
  console.log(`floor: read + parse ${USERS} CSV rows: ${floor.toFixed(2)} s`);

  const initial = await runCli(['run', 'bench']);
  console.log(`initial sync: ${initial.seconds.toFixed(2)} s, exit ${initial.exitCode}`);
  // The first no-op after writes compares everything; it records the verified no-op, so the
  // next one with identical inputs skips reading. Both are real operator situations.
  const noop = await runCli(['run', 'bench']);
  console.log(`no-op re-run (full compare): ${noop.seconds.toFixed(2)} s, exit ${noop.exitCode}`);
  const unchanged = await runCli(['run', 'bench']);
  console.log(`no-op re-run (inputs unchanged): ${unchanged.seconds.toFixed(2)} s, exit ${unchanged.exitCode}`);
  const forced = await runCli(['run', 'bench', '--full']);
  console.log(`no-op re-run (--full): ${forced.seconds.toFixed(2)} s, exit ${forced.exitCode}`);

  // 1% change: a different title for every 100th employee.
  await generateHrCsv(csv, USERS, DEPTS, (i) => (i % 100 === 1 ? ' II' : ''));
  // Terminated employees (every 97th) are never provisioned, so their title change writes nothing.
  let changed = 0;
  for (let i = 1; i < USERS; i += 100) if (!(i % 97 === 0)) changed++;
  const onePct = await runCli(['run', 'bench']);
  console.log(`1% change: ${onePct.seconds.toFixed(2)} s, exit ${onePct.exitCode}`);

  console.log('');
  console.log(`Node ${process.version}, ${USERS} users, ${DEPTS} departments; floor = reading and parsing the CSV alone (${floor.toFixed(2)} s)`);
  console.log('');
  console.log('| run | time | × floor | peak RSS | writes | applied |');
  console.log('|---|---|---|---|---|---|');
  console.log(row('initial sync', initial, floor));
  console.log(row('no-op re-run, full compare', noop, floor));
  console.log(row('no-op re-run, inputs unchanged', unchanged, floor));
  console.log(row('no-op re-run, --full', forced, floor));
  console.log(row(`1% changed (${changed} titles)`, onePct, floor));
  const problems: string[] = [];
  for (const [name, r] of [['no-op', noop], ['unchanged', unchanged], ['--full', forced]] as const) {
    if (r.writes !== 0 || r.exitCode !== 0) problems.push(`${name} re-run wrote ${r.writes} objects, exit ${r.exitCode} (expected 0, 0)`);
  }
  if (onePct.writes !== changed) problems.push(`1% change wrote ${onePct.writes} objects (expected exactly ${changed})`);
  if (problems.length) {
    console.log('\nFAILED: ' + problems.join('; '));
    process.exitCode = 1;
  }
}

await main();
