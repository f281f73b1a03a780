import { describe } from '../../apply/applier.js';
import { errorMessage, LockHeldError } from '../../core/errors.js';
import { applySavedPlan, planJobRun, runJob, type JobOutcome } from '../../engine/run-job.js';
import { parsePlanJson, planJsonValue, renderPlanJson } from '../../plan/render-json.js';
import { renderPlanText } from '../../plan/render-text.js';
import type { Plan } from '../../plan/types.js';
import { EXIT, exitCodeFor, worst, type ExitCode } from '../exit-codes.js';
import type { GlobalOptions, Output } from '../output.js';
import { openContext, selectJobs } from '../context.js';
import { progressReporter } from '../progress.js';
import { readFile, writeFile } from 'node:fs/promises';
import { UsageError } from '../../core/errors.js';
import { getJob } from '../../engine/run-job.js';
import { TOOL_VERSION } from '../../engine/tool-version.js';
import { afterRun } from '../../ops/after-run.js';
import { shutdownSignal } from '../shutdown.js';

function toolName(): string {
  return `scim-sync ${TOOL_VERSION ?? 'unknown'}`;
}

export interface RunFlags {
  dryRun?: boolean;
  only?: string;
  metricsFile?: string;
  allowDeletes?: boolean;
  full?: boolean;
  detailedExitcode?: boolean;
}

export interface PlanFlags {
  out?: string;
  allowDeletes?: boolean;
  full?: boolean;
  detailedExitcode?: boolean;
}

function hasChanges(plan: Plan): boolean {
  return plan.changes.length > 0;
}

/** `plan [job…]` and `run --dry-run`: show what would change, write nothing. */
export async function planCommand(jobs: string[], flags: PlanFlags, global: GlobalOptions, output: Output): Promise<ExitCode> {
  const ctx = await openContext(global, output);
  try {
    const names = selectJobs(ctx.config, jobs);
    if (flags.out && names.length !== 1) throw new UsageError('--out saves the plan of exactly one job; name the job');
    let code: ExitCode = EXIT.ok;
    const plans: Plan[] = [];
    for (const name of names) {
      try {
        const plan = await planJobRun(ctx, name, { allowDeletes: Boolean(flags.allowDeletes), full: Boolean(flags.full) });
        plans.push(plan);
        if (!output.json) printPlan(output, plan);
        if (plan.heldBack.length > 0) code = worst(code, EXIT.heldBack);
        else if (flags.detailedExitcode && hasChanges(plan)) code = worst(code, EXIT.changes);
      } catch (err) {
        output.err(`error: job ${name}: ${errorMessage(err)}`);
        code = worst(code, exitCodeFor(err));
      }
    }
    if (output.json) output.out(plans.length === 1 && jobs.length === 1 ? renderPlanJson(plans[0]!) : JSON.stringify(plans.map(planJsonValue), null, 2), true);
    if (flags.out && plans[0]) {
      // Plans contain personal data: readable by the owner only.
      await writeFile(flags.out, renderPlanJson(plans[0]), { mode: 0o600 });
      output.err(`Saved the plan to ${flags.out}. Apply it with: scim-sync apply ${flags.out}`);
    }
    return code;
  } finally {
    ctx.close();
  }
}

/** `run [job…]`: plan and apply each job in turn; one job's failure does not stop the others. */
export async function runCommand(jobs: string[], flags: RunFlags, global: GlobalOptions, output: Output): Promise<ExitCode> {
  if (flags.dryRun && flags.only !== undefined) throw new UsageError('--only with --dry-run: see what a run would do to one object with `scim-sync explain JOB KEY`');
  if (flags.dryRun) return planCommand(jobs, { allowDeletes: flags.allowDeletes, full: flags.full, detailedExitcode: flags.detailedExitcode }, global, output);
  const ctx = await openContext(global, output);
  try {
    if (flags.only !== undefined && selectJobs(ctx.config, jobs).length !== 1) {
      throw new UsageError('--only applies one object of one job; name the job (scim-sync run JOB --only KEY)');
    }
    let code: ExitCode = EXIT.ok;
    const outcomes: JobOutcome[] = [];
    const signal = shutdownSignal();
    for (const name of selectJobs(ctx.config, jobs)) {
      if (signal.aborted) {
        output.err(`job ${name}: not started (shutting down)`);
        code = worst(code, EXIT.error);
        continue;
      }
      const progress = progressReporter(output, `applying ${name}`);
      let ran = true;
      try {
        const job = getJob(ctx.config, name);
        const result = await runJob(ctx, name, {
          allowDeletes: Boolean(flags.allowDeletes),
          full: Boolean(flags.full),
          trigger: 'manual',
          onProgress: progress,
          signal,
          lockWait: job.overlap === 'wait' ? job.overlapTimeout : 0,
          ...(flags.only !== undefined ? { only: flags.only } : {}),
        });
        progress.end();
        outcomes.push(result);
        if (!output.json) printOutcome(output, result);
        // On stderr too, so `--quiet` cron runs still say why they exit 3.
        if (result.plan.heldBack.length > 0) output.err(`warning: job ${name}: ${result.plan.holdReason ?? `${result.plan.heldBack.length} removals held back`}`);
        code = worst(code, outcomeCode(result, Boolean(flags.detailedExitcode)));
      } catch (err) {
        progress.end();
        reportJobError(output, name, err);
        code = worst(code, exitCodeFor(err));
        // Skipped on the lock or an unknown job: there is no run of ours to report.
        if (err instanceof LockHeldError || err instanceof UsageError) ran = false;
      }
      if (ran) {
        await afterRun({ config: ctx.config, state: ctx.state, logger: ctx.logger, job: name, tool: toolName(), now: new Date(), metricsFile: flags.metricsFile });
      }
    }
    if (output.json) output.out(JSON.stringify(outcomes.map(outcomeJson), null, 2), true);
    return code;
  } finally {
    ctx.close();
  }
}

/** `apply plan.json`. */
export async function applyCommand(file: string, global: GlobalOptions, output: Output): Promise<ExitCode> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read plan file ${file}: ${errorMessage(err)}`);
  }
  const plan = parsePlanJson(text);
  const ctx = await openContext(global, output);
  try {
    const progress = progressReporter(output, `applying ${plan.job}`);
    try {
      const result = await applySavedPlan(ctx, plan, { allowDeletes: false, trigger: 'apply', onProgress: progress, signal: shutdownSignal() });
      progress.end();
      await afterRun({ config: ctx.config, state: ctx.state, logger: ctx.logger, job: plan.job, tool: toolName(), now: new Date() });
      if (output.json) output.out(JSON.stringify(outcomeJson(result), null, 2), true);
      else printOutcome(output, result);
      return outcomeCode(result, false);
    } catch (err) {
      progress.end();
      throw err;
    }
  } finally {
    ctx.close();
  }
}

function reportJobError(output: Output, job: string, err: unknown): void {
  if (err instanceof LockHeldError) output.err(`error: ${err.message}`);
  else output.err(`error: job ${job}: ${errorMessage(err)}`);
}

function outcomeCode(result: JobOutcome, detailed: boolean): ExitCode {
  if (result.outcome === 'failed' || result.outcome === 'partial' || result.outcome === 'interrupted') return EXIT.error;
  if (result.plan.heldBack.length > 0) return EXIT.heldBack;
  if (detailed && Object.keys(result.apply?.counts ?? {}).length > 0) return EXIT.changes;
  return EXIT.ok;
}

function printPlan(output: Output, plan: Plan): void {
  output.out(`Job ${plan.job}: ${plan.source} → ${plan.target}`);
  output.out(renderPlanText(plan, { color: output.color }));
}

function printOutcome(output: Output, result: JobOutcome): void {
  printPlan(output, result.plan);
  const apply = result.apply;
  if (!apply || result.plan.changes.length === 0) return;
  const c = apply.counts;
  const n = (...kinds: string[]) => kinds.reduce((sum, k) => sum + (c[k] ?? 0), 0);
  // Counted per member, as the plan's summary line counts them.
  const members = apply.results
    .filter((r) => r.status === 'applied' && (r.change.kind === 'add-members' || r.change.kind === 'remove-members'))
    .reduce((sum, r) => sum + (r.change.kind === 'add-members' || r.change.kind === 'remove-members' ? r.change.members.length : 0), 0);
  const failed = apply.results.filter((r) => r.status === 'failed').length;
  const skipped = apply.results.filter((r) => r.status === 'skipped').length;
  output.out(
    `Apply complete: ${n('create-user', 'create-group')} created, ${n('update-user', 'update-group')} updated, ` +
      `${n('adopt-user', 'adopt-group') ? `${n('adopt-user', 'adopt-group')} adopted, ` : ''}` +
      `${n('deactivate-user', 'delete-user', 'delete-group')} removed, ${members} membership change${members === 1 ? '' : 's'}` +
      `${failed ? `; ${failed} failed` : ''}${skipped ? `; ${skipped} skipped` : ''}.`,
    true,
  );
  for (const r of apply.results) {
    if (r.status === 'failed') output.err(`error: ${describe(r.change)}: ${r.message ?? 'failed'}`);
    else if (r.message && r.status === 'skipped') output.err(`skipped: ${describe(r.change)}: ${r.message}`);
    else if (r.message) output.err(`warning: ${describe(r.change)}: ${r.message}`);
  }
  if (apply.stoppedByBudget) output.err(`error: ${apply.stopReason ?? 'the error budget was exhausted'}; the remaining changes were not attempted`);
}

function outcomeJson(result: JobOutcome): unknown {
  return {
    job: result.job,
    outcome: result.outcome,
    runId: result.runId,
    plan: planJsonValue(result.plan),
    applied: result.apply?.counts ?? {},
    errors: result.apply?.errors ?? [],
    heldBack: result.plan.summary.heldBack,
  };
}
