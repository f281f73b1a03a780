import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/*.ts is compiled to dist/bench/*.js). */
export const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export interface CliRun {
  seconds: number;
  peakRssMb: number;
  writes: number;
  counts: Record<string, number>;
  exitCode: number;
  stderr: string;
}

/** Runs the real CLI in a fresh process with `--json --verbose`, in `cwd`. */
export async function runCli(cwd: string, args: string[], nodeArgs: string[] = []): Promise<CliRun> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'bin', 'scim-sync.js'), ...args, '--json', '--verbose'], { cwd });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exitCode: number = await new Promise((res) => child.on('close', (c) => res(c ?? 1)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
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
  return { seconds, peakRssMb: finished?.maxRssMb ?? NaN, writes, counts, exitCode, stderr };
}
