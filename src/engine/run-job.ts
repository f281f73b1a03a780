import { applyPlan, type ApplyResult } from '../apply/applier.js';
import type { ReadWarning } from '../core/connector.js';
import { errorMessage, StalePlanError, UsageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { redact } from '../core/secrets.js';
import type { JobConfig, LoadedConfig } from '../config/types.js';
import { planJob } from '../plan/planner.js';
import type { Links, Plan } from '../plan/types.js';
import type { RunOutcome, RunTrigger, StateStore } from '../state/types.js';
import { openConnector, type OpenedConnector } from './connectors.js';
import { prepareSource } from './prepare-source.js';
import { readSnapshot } from './read.js';

export interface EngineContext {
  config: LoadedConfig;
  state: StateStore;
  logger: Logger;
}

export interface RunOptions {
  allowDeletes: boolean;
  trigger: RunTrigger;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface JobOutcome {
  job: string;
  plan: Plan;
  /** Absent for dry runs. */
  apply?: ApplyResult;
  outcome: RunOutcome;
  runId?: number;
}

export function getJob(config: LoadedConfig, name: string): JobConfig {
  const job = config.jobs[name];
  if (!job) {
    const known = Object.keys(config.jobs);
    throw new UsageError(`no job named "${name}"; jobs in this configuration: ${known.length ? known.join(', ') : '(none)'}`);
  }
  return job;
}

/** Read source and target and compute the plan. Writes nothing. */
async function computePlan(ctx: EngineContext, job: JobConfig, allowDeletes: boolean, target: OpenedConnector): Promise<Plan> {
  const warnings: ReadWarning[] = [];
  const warn = (w: ReadWarning) => warnings.push(w);
  const source = openConnector(ctx.config, job.source, ctx.logger, warn);
  try {
    const sourceReader = source.connector.reader;
    const targetReader = target.connector.reader;
    if (!sourceReader) throw new UsageError(`connector ${job.source} cannot be read, so it cannot be a job's source`);
    if (!targetReader) throw new UsageError(`connector ${job.target} cannot be read, so the plan cannot compare against it`);
    const timer = stopwatch();
    const sourceSnapshot = await readSnapshot(job.source, sourceReader);
    ctx.logger.debug(`job ${job.name}: read source ${job.source}`, { users: sourceSnapshot.users.size, groups: sourceSnapshot.groups.size, ms: timer() });
    const targetSnapshot = await readSnapshot(job.target, targetReader);
    ctx.logger.debug(`job ${job.name}: read target ${job.target}`, { users: targetSnapshot.users.size, groups: targetSnapshot.groups.size, ms: timer() });
    const prepared = await prepareSource(job, sourceSnapshot, sourceReader.userAttributes(), target.definition.capabilities.nestedGroups);
    const links = withoutExcluded(ctx.state.loadLinks(job.name), warnings);
    ctx.logger.debug(`job ${job.name}: mapped, scoped, loaded links`, { ms: timer() });
    const plan = planJob({
      job: job.name,
      source: job.source,
      target: job.target,
      stateSerial: ctx.state.serial(job.name),
      sourceUsers: prepared.users,
      sourceGroups: prepared.groups,
      outOfScope: prepared.outOfScope,
      targetUsers: targetSnapshot.users,
      targetGroups: targetSnapshot.groups,
      links,
      userAttributes: prepared.userAttributes,
      policy: {
        matchUsers: job.match.users.filter((m): m is 'userName' | 'emails.value' => m !== 'externalId'),
        matchGroups: job.match.groups.filter((m): m is 'displayName' => m !== 'externalId'),
        deletes: { ...job.deletes, allow: allowDeletes },
        // An empty source is never trusted for removals: it is far likelier a broken export
        // than a company with nobody left in it.
        sourceComplete: prepared.users.size > 0 || sourceSnapshot.users.size > 0,
      },
      warnings,
    });
    ctx.logger.debug(`job ${job.name}: planned`, { changes: plan.changes.length, ms: timer() });
    return plan;
  } finally {
    await source.connector.close();
  }
}

/** Milliseconds since the previous call (or creation). */
function stopwatch(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const ms = Math.round(now - last);
    last = now;
    return ms;
  };
}

/**
 * Objects a reader left out on purpose (duplicate ids, unusable rows) are not "gone": hiding their
 * links makes the planner treat their target accounts as unmanaged, so this run neither updates
 * nor removes them. The links themselves stay in state for the next run.
 */
function withoutExcluded(links: Links, warnings: readonly ReadWarning[]): Links {
  const users = warnings.filter((w) => w.excluded?.kind === 'user').map((w) => w.excluded!.id);
  const groups = warnings.filter((w) => w.excluded?.kind === 'group').map((w) => w.excluded!.id);
  if (users.length === 0 && groups.length === 0) return links;
  const drop = <T>(map: ReadonlyMap<string, T>, ids: string[]) => {
    const copy = new Map(map);
    for (const id of ids) copy.delete(id);
    return copy;
  };
  return { users: drop(links.users, users), groups: drop(links.groups, groups) };
}

/** `plan` and `run --dry-run`: no lock, no history, no writes. */
export async function planJobRun(ctx: EngineContext, jobName: string, allowDeletes: boolean): Promise<Plan> {
  const job = getJob(ctx.config, jobName);
  const target = openConnector(ctx.config, job.target, ctx.logger, () => {});
  try {
    return await computePlan(ctx, job, allowDeletes, target);
  } finally {
    await target.connector.close();
  }
}

/**
 * `run`: lock → read → plan → apply → record. The lock is taken before reading so two runs never
 * plan against the same state and both write.
 */
export async function runJob(ctx: EngineContext, jobName: string, opts: RunOptions): Promise<JobOutcome> {
  const job = getJob(ctx.config, jobName);
  return withJobRun(ctx, job, opts, async (target) => computePlan(ctx, job, opts.allowDeletes, target));
}

/** `apply plan.json`: the saved plan is applied only if state has not moved on since it was made. */
export async function applySavedPlan(ctx: EngineContext, plan: Plan, opts: RunOptions): Promise<JobOutcome> {
  const job = getJob(ctx.config, plan.job);
  if (plan.source !== job.source || plan.target !== job.target) {
    throw new StalePlanError(
      `the saved plan was made for ${plan.source} → ${plan.target}, but job ${job.name} now syncs ${job.source} → ${job.target}; run "scim-sync plan ${job.name}" again`,
    );
  }
  return withJobRun(ctx, job, opts, async () => {
    const serial = ctx.state.serial(job.name);
    if (serial !== plan.stateSerial) {
      throw new StalePlanError(
        `the saved plan for job ${job.name} is stale: state has changed since it was made (serial ${plan.stateSerial} → ${serial}); run "scim-sync plan ${job.name}" again`,
      );
    }
    return plan;
  });
}

async function withJobRun(
  ctx: EngineContext,
  job: JobConfig,
  opts: RunOptions,
  makePlan: (target: OpenedConnector) => Promise<Plan>,
): Promise<JobOutcome> {
  const release = ctx.state.acquireLock(job.name);
  // Holding the lock proves no earlier run of this job is alive: any still marked running died.
  for (const run of ctx.state.listRuns({ job: job.name, limit: 20 })) {
    if (run.outcome === 'running') {
      ctx.state.finishRun(run.id, { outcome: 'interrupted', counts: run.counts, errors: run.errors, heldBack: run.heldBack, at: new Date() });
    }
  }
  const runId = ctx.state.startRun(job.name, opts.trigger, new Date());
  let recorded = false;
  const target = openConnector(ctx.config, job.target, ctx.logger, () => {});
  try {
    const plan = await makePlan(target);
    const writer = target.connector.writer;
    if (!writer) throw new UsageError(`connector ${job.target} cannot be written, so it cannot be a job's target`);
    const apply = await applyPlan({
      job: job.name,
      plan,
      writer,
      state: ctx.state,
      concurrency: job.concurrency,
      errorBudget: job.errorBudget,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
    const outcome: RunOutcome = apply.interrupted
      ? 'interrupted'
      : apply.stoppedByBudget
        ? 'failed'
        : apply.errors.length > 0
          ? 'partial'
          : plan.heldBack.length > 0
            ? 'held'
            : 'success';
    ctx.state.finishRun(runId, { outcome, counts: apply.counts, errors: apply.errors, heldBack: plan.heldBack.length, at: new Date() });
    recorded = true;
    return { job: job.name, plan, apply, outcome, runId };
  } catch (err) {
    if (!recorded) {
      ctx.state.finishRun(runId, {
        outcome: 'failed',
        counts: {},
        errors: [{ object: `job ${job.name}`, message: redact(errorMessage(err)) }],
        heldBack: 0,
        at: new Date(),
      });
    }
    throw err;
  } finally {
    await target.connector.close();
    release();
  }
}
