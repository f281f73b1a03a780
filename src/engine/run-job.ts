import { createHash } from 'node:crypto';
import { applyPlan, type ApplyResult } from '../apply/applier.js';
import { canonicalJson } from '../core/attributes.js';
import type { DirectoryReader, ReadWarning } from '../core/connector.js';
import { errorMessage, StalePlanError, UsageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { redact } from '../core/secrets.js';
import type { JobConfig, LoadedConfig } from '../config/types.js';
import { focusPlan } from '../plan/focus.js';
import { planJob } from '../plan/planner.js';
import { resolveObjectKey } from './object-key.js';
import { PLAN_VERSION, type Links, type Plan } from '../plan/types.js';
import type { RunOutcome, RunTrigger, StateStore } from '../state/types.js';
import { openConnector, type OpenedConnector } from './connectors.js';
import { prepareSource, type PreparedSource } from './prepare-source.js';
import { readSnapshot, type Snapshot } from './read.js';
import { readSource } from './source-read.js';
import { acquireLockWaiting } from './lock-wait.js';
import { TOOL_VERSION } from './tool-version.js';

/** For targets that do not say what suits them: polite to a remote server. */
const DEFAULT_CONCURRENCY = 8;

export interface EngineContext {
  config: LoadedConfig;
  state: StateStore;
  logger: Logger;
}

export interface PlanOptions {
  allowDeletes: boolean;
  /** `--full`: read both sides even when they are unchanged since a full comparison found nothing to do. */
  full?: boolean;
}

export interface RunOptions extends PlanOptions {
  trigger: RunTrigger;
  /** Stops the applier after the changes in flight (SIGTERM, scheduler shutdown). */
  signal?: AbortSignal;
  /** How long to wait for another run of the job to release its lock; 0 or unset: fail at once. */
  lockWait?: number;
  /** `run --only KEY`: apply only the changes concerning this user or group (see resolveObjectKey). */
  only?: string;
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

/**
 * Read source and target and compute the plan. Writes nothing to either side; in state it writes
 * only the verified no-op record (a cache of this function's own result).
 *
 * The planner is pure, so when every input is provably the same as in an earlier full comparison
 * that found nothing to do, the result is known without reading: both readers' snapshot tokens,
 * the config and the state serial go into a key (`noopKey`), and a key equal to the recorded one
 * returns an empty plan carrying that comparison's warnings.
 */
/** What a full comparison looked at, for `explain` and `run --only`. */
export interface PlanDetails {
  source: Snapshot;
  prepared: PreparedSource;
  target: Snapshot;
  links: Links;
}

async function computePlan(
  ctx: EngineContext,
  job: JobConfig,
  opts: PlanOptions,
  target: OpenedConnector,
  capture?: (details: PlanDetails) => void,
): Promise<Plan> {
  const warnings: ReadWarning[] = [];
  const warn = (w: ReadWarning) => warnings.push(w);
  const source = openConnector(ctx.config, job.source, ctx.logger, warn);
  try {
    const sourceReader = source.connector.reader;
    const targetReader = target.connector.reader;
    if (!sourceReader) throw new UsageError(`connector ${job.source} cannot be read, so it cannot be a job's source`);
    if (!targetReader) throw new UsageError(`connector ${job.target} cannot be read, so the plan cannot compare against it`);
    const timer = stopwatch();
    // Taken before reading: if a side changes during the read, this key describes the older
    // content, which the next run no longer sees, so it simply compares in full again.
    const keyBefore = await noopKey(ctx, job, opts, sourceReader, targetReader);
    if (keyBefore !== undefined && !opts.full) {
      const verified = ctx.state.getVerifiedNoop(job.name);
      if (verified?.key === keyBefore) {
        ctx.logger.debug(`job ${job.name}: source and target unchanged since ${verified.verifiedAt}; not read`, { ms: timer() });
        return unchangedPlan(ctx, job, verified.warnings, verified.verifiedAt);
      }
    }
    const sourceRead = await readSource({
      state: ctx.state,
      logger: ctx.logger,
      job,
      sourceName: job.source,
      sourceConfig: ctx.config.connectors[job.source],
      reader: sourceReader,
      delta: () => source.connector.delta,
      full: opts.full ?? false,
      now: new Date(),
    });
    const sourceSnapshot = sourceRead.snapshot;
    ctx.logger.debug(`job ${job.name}: read source ${job.source} (${sourceRead.mode})`, {
      users: sourceSnapshot.users.size,
      groups: sourceSnapshot.groups.size,
      ms: timer(),
    });
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
        deletes: { ...job.deletes, allow: opts.allowDeletes },
        // An empty source is never trusted for removals: it is far likelier a broken export
        // than a company with nobody left in it.
        sourceComplete: prepared.users.size > 0 || sourceSnapshot.users.size > 0,
      },
      warnings,
    });
    ctx.logger.debug(`job ${job.name}: planned`, { changes: plan.changes.length, ms: timer() });
    capture?.({ source: sourceSnapshot, prepared, target: targetSnapshot, links });
    sourceRead.commit();
    if (sourceRead.mode === 'delta') {
      const meta = ctx.state.sourceSnapshotMeta(job.name);
      if (meta) {
        plan.deltaRead = {
          ...sourceRead.changed,
          lastFullRead: meta.fullReadAt,
          nextFullRead: new Date(Date.parse(meta.fullReadAt) + job.delta.fullReadEvery).toISOString(),
        };
      }
    }
    if (plan.changes.length > 0 || plan.heldBack.length > 0) {
      ctx.state.clearVerifiedNoop(job.name);
    } else if (keyBefore !== undefined) {
      // Recorded only if nothing moved while reading. Tokens are content versions, and a content
      // hash (CSV) can return to an earlier value: a file edited A → B during the read and later
      // back to A would otherwise find "A is a no-op" recorded from a plan that really read B.
      const keyAfter = await noopKey(ctx, job, opts, sourceReader, targetReader);
      if (keyAfter === keyBefore) {
        ctx.state.setVerifiedNoop(job.name, keyBefore, plan.warnings);
        ctx.logger.debug(`job ${job.name}: recorded a verified no-op`, { ms: timer() });
      } else {
        ctx.state.clearVerifiedNoop(job.name);
      }
    }
    return plan;
  } finally {
    await source.connector.close();
  }
}

/**
 * JSONata functions whose result depends on when (or by chance) they run: a mapping using one is
 * not a pure function of the inputs, so a no-op verified earlier proves nothing about now (a rule
 * like `$now() > hireDate` flips without any input changing). Matched on the config text, so a
 * literal mentioning one also disables the shortcut: a lost optimisation, never a wrong plan.
 */
const IMPURE_MAPPING = /\$(?:now|millis|random)\b/;

/**
 * The key of every input the plan depends on, or undefined when one of them cannot be pinned
 * down (a reader without a token, an impure mapping, an unknown tool version): then the engine
 * always reads in full.
 */
async function noopKey(
  ctx: EngineContext,
  job: JobConfig,
  opts: PlanOptions,
  sourceReader: DirectoryReader,
  targetReader: DirectoryReader,
): Promise<string | undefined> {
  if (TOOL_VERSION === undefined) return undefined;
  if (!sourceReader.snapshotToken || !targetReader.snapshotToken) return undefined;
  const sourceConfig = ctx.config.connectors[job.source];
  const targetConfig = ctx.config.connectors[job.target];
  if (IMPURE_MAPPING.test(JSON.stringify([job.mapping, sourceConfig, targetConfig]))) return undefined;
  const sourceToken = await sourceReader.snapshotToken();
  if (sourceToken === undefined) return undefined;
  const targetToken = await targetReader.snapshotToken();
  if (targetToken === undefined) return undefined;
  const inputs = {
    tool: TOOL_VERSION,
    // Mapping runs on the runtime's string and Unicode functions; an upgrade recompares once.
    runtime: process.version,
    job,
    // Only the empty plan is ever recorded, which --allow-deletes could not change; kept in the key
    // anyway so that reuse never rests on that argument.
    allowDeletes: opts.allowDeletes,
    source: { connector: sourceConfig, token: sourceToken },
    target: { connector: targetConfig, token: targetToken },
    // Relative paths in connector config resolve against configDir; the embedded directory lives
    // at statePath. The tokens already cover content; these make the key describe the location too.
    configDir: ctx.config.configDir,
    statePath: ctx.config.statePath,
    // Bumped by every change to the job's links and fingerprints, the planner's third input.
    serial: ctx.state.serial(job.name),
  };
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex');
}

/** The plan a full comparison would produce, known without reading: nothing to do. */
function unchangedPlan(ctx: EngineContext, job: JobConfig, warnings: ReadWarning[], verifiedAt: string): Plan {
  return {
    version: PLAN_VERSION,
    job: job.name,
    source: job.source,
    target: job.target,
    stateSerial: ctx.state.serial(job.name),
    changes: [],
    heldBack: [],
    warnings,
    summary: { create: 0, update: 0, remove: 0, memberships: 0, heldBack: 0 },
    unchangedSince: verifiedAt,
  };
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

/**
 * `plan` and `run --dry-run`: no lock, no history, no writes to either side. State may get a
 * verified no-op record: it describes its inputs exactly, so it is valid whoever records it.
 */
export async function planJobRun(ctx: EngineContext, jobName: string, opts: PlanOptions): Promise<Plan> {
  const job = getJob(ctx.config, jobName);
  const target = openConnector(ctx.config, job.target, ctx.logger, () => {});
  try {
    return await computePlan(ctx, job, opts, target);
  } finally {
    await target.connector.close();
  }
}

/**
 * `explain`: a full comparison (never the unchanged-inputs shortcut) with what it looked at.
 * Writes nothing to either side.
 */
export async function planWithDetails(ctx: EngineContext, jobName: string): Promise<{ plan: Plan; details: PlanDetails }> {
  const job = getJob(ctx.config, jobName);
  const target = openConnector(ctx.config, job.target, ctx.logger, () => {});
  try {
    let details: PlanDetails | undefined;
    const plan = await computePlan(ctx, job, { allowDeletes: false, full: true }, target, (d) => (details = d));
    if (!details) throw new Error('a full comparison did not report what it read');
    return { plan, details };
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
  const only = opts.only;
  if (only === undefined) {
    return withJobRun(ctx, job, opts, async (target) => computePlan(ctx, job, { allowDeletes: opts.allowDeletes, full: opts.full }, target));
  }
  // Provision on demand: the full plan, narrowed to the changes that concern one object.
  return withJobRun(ctx, job, opts, async (target) => {
    let details: PlanDetails | undefined;
    const plan = await computePlan(ctx, job, { allowDeletes: opts.allowDeletes, full: true }, target, (d) => (details = d));
    if (!details) throw new Error('a full comparison did not report what it read');
    return focusPlan(plan, resolveObjectKey(details, only));
  });
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
  const release = await acquireLockWaiting(ctx.state, job.name, opts.lockWait ?? 0, {
    signal: opts.signal,
    onWait: (err) => ctx.logger.info(`job ${job.name}: waiting for the lock (held by ${err.holder}) for up to ${Math.round((opts.lockWait ?? 0) / 1000)} s`),
  });
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
    // A run about to write must not leave a verified no-op behind, not even for a moment or if it
    // dies half-way (computePlan clears it too, but a saved plan from `apply` never went there).
    // The serial and the target's token would change anyway; this does not rely on that.
    if (plan.changes.length > 0) ctx.state.clearVerifiedNoop(job.name);
    const apply = await applyPlan({
      job: job.name,
      plan,
      writer,
      state: ctx.state,
      concurrency: job.concurrency ?? target.definition.defaultConcurrency ?? DEFAULT_CONCURRENCY,
      errorBudget: job.errorBudget,
      match: job.match,
      ...(job.onMissing !== undefined ? { onMissing: job.onMissing } : {}),
      ...(job.maxConsecutiveFailures !== undefined ? { maxConsecutiveFailures: job.maxConsecutiveFailures } : {}),
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
    ctx.state.finishRun(runId, { outcome, counts: apply.counts, errors: apply.errors, heldBack: plan.summary.heldBack, at: new Date() });
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
