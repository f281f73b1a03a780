import { errorMessage, LockHeldError, UsageError } from '../../core/errors.js';
import { getJob, runJob } from '../../engine/run-job.js';
import { TOOL_VERSION } from '../../engine/tool-version.js';
import { afterRun } from '../../ops/after-run.js';
import { collectJobMetrics, renderPrometheus } from '../../ops/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../ops/metrics-server.js';
import { Scheduler } from '../../schedule/scheduler.js';
import type { EngineContext } from '../../engine/run-job.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { openContext } from '../context.js';
import type { GlobalOptions, Output } from '../output.js';
import { shutdownSignal } from '../shutdown.js';

/**
 * `schedule`: run every job that has a `schedule:` on it, until SIGTERM/SIGINT. One line per run
 * on the log; each run is recorded in history like a manual one (trigger `schedule`).
 */
export async function scheduleCommand(global: GlobalOptions, output: Output): Promise<ExitCode> {
  const ctx = await openContext(global, output);
  const log = ctx.logger;
  let metrics: MetricsServer | undefined;
  try {
    const jobs = Object.values(ctx.config.jobs).filter((j) => j.schedule !== undefined);
    if (jobs.length === 0) {
      throw new UsageError('no job has a `schedule:` (e.g. schedule: "*/30 * * * *"); add one, or run `scim-sync run` from cron or a systemd timer');
    }
    const listen = ctx.config.operations.metrics.listen;
    if (listen) {
      metrics = await startMetricsServer(listen, () => renderPrometheus(collectJobMetrics(ctx.state, Object.keys(ctx.config.jobs))));
      log.info(`metrics at http://${metrics.address}/metrics`);
    }
    const scheduler = new Scheduler(
      jobs.map((j) => ({ name: j.name, schedule: j.schedule!, timezone: j.timezone, jitter: j.jitter, overlap: j.overlap })),
      { logger: log, run: (name, signal) => runScheduled(ctx, name, signal) },
    );
    const shutdown = shutdownSignal();
    if (shutdown.aborted) return EXIT.ok;
    scheduler.start();
    for (const [name, next] of scheduler.nextRuns()) {
      const job = getJob(ctx.config, name);
      log.info(`job ${name}: scheduled "${job.schedule}"${job.timezone ? ` (${job.timezone})` : ''}; next run ${next ? next.toISOString() : 'unknown'}`);
    }
    await new Promise<void>((resolve) => shutdown.addEventListener('abort', () => resolve(), { once: true }));
    const busy = jobs.filter((j) => scheduler.isRunning(j.name)).map((j) => j.name);
    log.info(busy.length ? `stopping: waiting for the changes in flight of ${busy.join(', ')}` : 'stopping');
    await scheduler.stop();
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
