import type { Logger } from '../core/logger.js';
import { redactDeep } from '../core/secrets.js';
import type { LoadedConfig } from '../config/types.js';
import type { StateStore } from '../state/types.js';
import { collectJobMetrics, renderPrometheus } from './metrics.js';
import { writeMetricsFile } from './metrics-file.js';
import { buildNotification } from './notify.js';
import { postWebhook } from './webhook.js';

export interface AfterRunInput {
  config: LoadedConfig;
  state: StateStore;
  logger: Logger;
  /** The job whose run just finished (successfully or not). */
  job: string;
  tool: string;
  now: Date;
  /** `run --metrics-file`: rewrite this file with every job's metrics. */
  metricsFile?: string;
  signal?: AbortSignal;
}

/**
 * What happens after every run, however it was started (`run`, `apply`, `schedule`): history
 * retention, the webhook, and the metrics file. Each step is best-effort and logged: none of
 * them may change the run's outcome or exit code.
 */
export async function afterRun(input: AfterRunInput): Promise<void> {
  const { config, state, logger, job } = input;
  const { history, notify } = config.operations;

  try {
    const pruned = state.pruneRuns(history.keepRuns, new Date(input.now.getTime() - history.keepFor));
    if (pruned > 0) logger.debug(`pruned ${pruned} old run record${pruned === 1 ? '' : 's'}`);
  } catch (err) {
    logger.warn(`could not prune run history: ${String(err)}`);
  }

  const webhook = notify.webhook;
  const run = state.lastFinishedRun(job);
  if (webhook && run) {
    const body = buildNotification(run, webhook.on, input.tool);
    if (body) {
      const result = await postWebhook(webhook.url, redactDeep(body), {
        headers: webhook.headers,
        timeout: webhook.timeout,
        retries: webhook.retries,
        signal: input.signal,
      });
      if (result.ok) logger.debug(`job ${job}: webhook notified (${body.event})`, { attempts: result.attempts });
      else logger.warn(`job ${job}: webhook notification (${body.event}) failed after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}: ${result.error ?? 'unknown error'}`);
    }
  }

  if (input.metricsFile) {
    try {
      await writeMetricsFile(input.metricsFile, renderPrometheus(collectJobMetrics(state, Object.keys(config.jobs))));
    } catch (err) {
      logger.warn(`could not write the metrics file ${input.metricsFile}: ${String(err)}`);
    }
  }
}
