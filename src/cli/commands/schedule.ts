import { errorMessage, LockHeldError, UsageError } from '../../core/errors.js';
import { getJob, runJob } from '../../engine/run-job.js';
import { TOOL_VERSION } from '../../engine/tool-version.js';
import { afterRun } from '../../ops/after-run.js';
import { collectJobMetrics, renderPrometheus } from '../../ops/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../ops/metrics-server.js';
import { Scheduler } from '../../schedule/scheduler.js';
import type { EngineContext } from '../../engine/run-job.js';
import type { JobConfig } from '../../config/types.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { openContext } from '../context.js';
import type { GlobalOptions, Output } from '../output.js';
import { shutdownSignal } from '../shutdown.js';

export interface Scheduling {
  /** Jobs with a run in progress now. */
  busy(): string[];
  /** Stop firing; wait for runs in progress (aborted through `signal` by the caller's shutdown). */
  stop(): Promise<void>;
}

/**
 * Start every job that has a `schedule:` on node-cron (shared by `schedule` and `serve --schedule`).
 * Throws a UsageError when no job has one.
 */
export function startScheduling(ctx: EngineContext): Scheduling {
  const log = ctx.logger;
  const jobs = scheduledJobs(ctx);
  const scheduler = new Scheduler(
    jobs.map((j) => ({ name: j.name, schedule: j.schedule!, timezone: j.timezone, jitter: j.jitter, overlap: j.overlap })),
    { logger: log, run: (name, signal) => runScheduled(ctx, name, signal) },
  );
  scheduler.start();
  for (const [name, next] of scheduler.nextRuns()) {
    const job = getJob(ctx.config, name);
    log.info(`job ${name}: scheduled "${job.schedule}"${job.timezone ? ` (${job.timezone})` : ''}; next run ${next ? next.toISOString() : 'unknown'}`);
  }
  return {
    busy: () => jobs.filter((j) => scheduler.isRunning(j.name)).map((j) => j.name),
    stop: () => scheduler.stop(),
  };
}

function scheduledJobs(ctx: EngineContext): JobConfig[] {
  const jobs = Object.values(ctx.config.jobs).filter((j) => j.schedule !== undefined);
  if (jobs.length === 0) {
    throw new UsageError('no job has a `schedule:` (e.g. schedule: "*/30 * * * *"); add one, or run `scim-sync run` from cron or a systemd timer');
  }
  return jobs;
}

/** `metrics.listen`: serve /metrics from this process's state (by `schedule` and `serve`). */
export async function startMetricsIfConfigured(ctx: EngineContext): Promise<MetricsServer | undefined> {
  const listen = ctx.config.operations.metrics.listen;
  if (!listen) return undefined;
  const metrics = await startMetricsServer(listen, () => renderPrometheus(collectJobMetrics(ctx.state, Object.keys(ctx.config.jobs))));
  ctx.logger.info(`metrics at http://${metrics.address}/metrics`);
  return metrics;
}

/**
 * `schedule`: run every job that has a `schedule:` on it, until SIGTERM/SIGINT. One line per run
 * on the log; each run is recorded in history like a manual one (trigger `schedule`).
 */
export async function scheduleCommand(global: GlobalOptions, output: Output): Promise<ExitCode> {
  const ctx = await openContext(global, output);
  const log = ctx.logger;
  let metrics: MetricsServer | undefined;
  try {
    const shutdown = shutdownSignal();
    scheduledJobs(ctx); // before anything starts: a config with nothing to schedule is a usage error
    metrics = await startMetricsIfConfigured(ctx);
    if (shutdown.aborted) return EXIT.ok;
    const scheduling = startScheduling(ctx);
    await new Promise<void>((resolve) => shutdown.addEventListener('abort', () => resolve(), { once: true }));
    const busy = scheduling.busy();
    log.info(busy.length ? `stopping: waiting for the changes in flight of ${busy.join(', ')}` : 'stopping');
    await scheduling.stop();
    log.info('stopped');
    return EXIT.ok;
  } finally {
    await metrics?.close();
    ctx.close();
  }
}

async function runScheduled(ctx: EngineContext, name: string, signal: AbortSignal): Promise<void> {
  const log = ctx.logger;
  const job = getJob(ctx.config, name);
  try {
    const result = await runJob(ctx, name, {
      allowDeletes: false,
      trigger: 'schedule',
      signal,
      lockWait: job.overlap === 'wait' ? job.overlapTimeout : 0,
    });
    const counts = Object.entries(result.apply?.counts ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'no changes';
    const held = result.plan.summary.heldBack ? `; ${result.plan.summary.heldBack} removals held back` : '';
    const errors = result.apply?.errors.length ? `; ${result.apply.errors.length} errors` : '';
    const line = `job ${name}: run #${result.runId ?? '?'} ${result.outcome}: ${counts}${held}${errors}`;
    if (result.outcome === 'success') log.info(line);
    else if (result.outcome === 'held') log.warn(line);
    else log.error(line);
  } catch (err) {
    if (err instanceof LockHeldError) {
      log.info(`job ${name}: skipped a scheduled run: ${err.message}`);
      return;
    }
    log.error(`job ${name}: run failed: ${errorMessage(err)}`);
  }
  await afterRun({ config: ctx.config, state: ctx.state, logger: log, job: name, tool: `scim-sync ${TOOL_VERSION ?? 'unknown'}`, now: new Date() });
}
