import { nextRun } from '../../schedule/next-runs.js';
import type { RunRecord } from '../../state/types.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { openContext } from '../context.js';
import type { GlobalOptions, Output } from '../output.js';

function duration(run: RunRecord): string {
  if (!run.endedAt) return 'running';
  const ms = Date.parse(run.endedAt) - Date.parse(run.startedAt);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function countsText(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'no changes';
}

function runLine(run: RunRecord): string {
  const held = run.heldBack ? `, ${run.heldBack} held back` : '';
  const errs = run.errors.length ? `, ${run.errors.length} errors` : '';
  return `#${run.id} ${run.job} ${run.startedAt} ${run.trigger} ${run.outcome} (${duration(run)}): ${countsText(run.counts)}${held}${errs}`;
}

/** `history [job]`: past runs, newest first, with their errors. */
export async function historyCommand(job: string | undefined, flags: { limit: number }, global: GlobalOptions, output: Output): Promise<ExitCode> {
  const ctx = await openContext(global, output);
  try {
    const runs = ctx.state.listRuns({ job, limit: flags.limit });
    if (output.json) {
      output.out(JSON.stringify(runs, null, 2), true);
      return EXIT.ok;
    }
    if (runs.length === 0) output.out(job ? `No runs of job ${job} yet.` : 'No runs yet.');
    for (const run of runs) {
      output.out(runLine(run));
      for (const e of run.errors.slice(0, 10)) output.out(`    error: ${e.object}: ${e.message}`);
      if (run.errors.length > 10) output.out(`    … and ${run.errors.length - 10} more errors (see --json)`);
    }
    return EXIT.ok;
  } finally {
    ctx.close();
  }
}

/** `status`: each configured job's last run and whether it is running now. */
export async function statusCommand(global: GlobalOptions, output: Output): Promise<ExitCode> {
  const ctx = await openContext(global, output);
  try {
    const rows = Object.values(ctx.config.jobs).map((job) => {
      const last = ctx.state.listRuns({ job: job.name, limit: 1 })[0];
      const lock = ctx.state.readLock(job.name);
      const next = job.schedule ? nextRun(job.schedule, job.timezone) : undefined;
      return {
        job: job.name,
        source: job.source,
        target: job.target,
        schedule: job.schedule ?? null,
        timezone: job.timezone ?? null,
        // When `scim-sync schedule` would start it next (it says nothing about whether one runs).
        nextRun: next?.toISOString() ?? null,
        lastRun: last ?? null,
        lastSuccess: ctx.state.lastSucceededRun(job.name) ?? null,
        lockedBy: lock ?? null,
      };
    });
    if (output.json) {
      output.out(JSON.stringify(rows, null, 2), true);
      return EXIT.ok;
    }
    for (const r of rows) {
      const lock = r.lockedBy ? ` — running now (pid ${r.lockedBy.pid} on ${r.lockedBy.host} since ${r.lockedBy.acquiredAt})` : '';
      output.out(`${r.job}: ${r.source} → ${r.target}${lock}`);
      output.out(r.lastRun ? `  last run: ${runLine(r.lastRun)}` : '  last run: never');
      if (r.lastRun && r.lastSuccess && r.lastSuccess.id !== r.lastRun.id) output.out(`  last success: ${runLine(r.lastSuccess)}`);
      if (r.schedule) output.out(`  schedule: "${r.schedule}"${r.timezone ? ` (${r.timezone})` : ''}, next run ${r.nextRun ?? 'unknown'} (when \`scim-sync schedule\` is running)`);
    }
    return EXIT.ok;
  } finally {
    ctx.close();
  }
}
