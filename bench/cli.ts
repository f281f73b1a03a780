import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/*.ts is compiled to dist/bench/*.js). */
export const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export interface CliRun {
  seconds: number;
  /** CPU (user + system) the CLI process used, from this process's reaped-children times (Linux); NaN elsewhere. */
  cpuSeconds: number;
  peakRssMb: number;
  writes: number;
  counts: Record<string, number>;
  exitCode: number;
  stderr: string;
}

/**
 * User + system CPU seconds of this process's children that have exited and been reaped
 * (`cutime` + `cstime` of /proc/self/stat, in clock ticks of 1/100 s). A CLI run's CPU is the
 * difference around it; a child still running (the bench server) is not counted until it exits.
 */
function reapedChildrenCpu(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return NaN;
  }
}

/** Runs the real CLI in a fresh process with `--json --verbose`, in `cwd`. */
export async function runCli(cwd: string, args: string[], nodeArgs: string[] = []): Promise<CliRun> {
  const cpuBefore = reapedChildrenCpu();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'bin', 'scim-sync.js'), ...args, '--json', '--verbose'], { cwd });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exitCode: number = await new Promise((res) => child.on('close', (c) => res(c ?? 1)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuSeconds = reapedChildrenCpu() - cpuBefore;
  const finished = stderr
    .split('\n')
    .filter((l) => l.includes('"msg":"finished"'))
    .map((l) => JSON.parse(l) as { maxRssMb: number })[0];
  let counts: Record<string, number> = {};
  try {
    const outcomes = JSON.parse(stdout) as { applied: Record<string, number> }[];
    counts = outcomes[0]?.applied ?? {};
  } catch {
    throw new Error(`scim-sync ${args.join(' ')} exited ${exitCode} without JSON output:\n${stderr.slice(0, 2000)}`);
  }
  const writes = Object.values(counts).reduce((a, b) => a + b, 0);
  return { seconds, cpuSeconds, peakRssMb: finished?.maxRssMb ?? NaN, writes, counts, exitCode, stderr };
}
