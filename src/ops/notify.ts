import { hostname } from 'node:os';
import type { WebhookEvent } from '../config/types.js';
import type { RunRecord } from '../state/types.js';

/** The webhook body's version; bumped when a field changes meaning or disappears. */
export const NOTIFICATION_VERSION = 1;

/** Most severe first: one run sends one notification, named by its most severe event. */
const SEVERITY: readonly WebhookEvent[] = ['failure', 'held', 'changes'];
const MAX_ERRORS = 20;

export interface Notification {
  version: typeof NOTIFICATION_VERSION;
  /** The most severe event of this run among those configured in `notify.webhook.on`. */
  event: WebhookEvent;
  /** Every configured event this run matched. */
  events: WebhookEvent[];
  job: string;
  runId: number;
  trigger: string;
  outcome: string;
  startedAt: string;
  endedAt: string | null;
  counts: Record<string, number>;
  heldBack: number;
  errorCount: number;
  /** The first 20 errors, each naming the object it concerns. */
  errors: { object: string; message: string }[];
  host: string;
  tool: string;
  /** One human line, so chat webhooks (Slack, Mattermost, Teams connectors) show something useful as is. */
  text: string;
}

/** Which events a finished run raises: `failure` (failed or partial), `held` (removals held back), `changes` (anything applied). */
export function runEvents(run: RunRecord): WebhookEvent[] {
  const events: WebhookEvent[] = [];
  if (run.outcome === 'failed' || run.outcome === 'partial') events.push('failure');
  if (run.heldBack > 0) events.push('held');
  if (Object.values(run.counts).some((n) => n > 0)) events.push('changes');
  return events;
}

/** The notification for a run, or undefined when it raised none of the configured events. */
export function buildNotification(run: RunRecord, on: readonly WebhookEvent[], tool: string): Notification | undefined {
  const events = runEvents(run).filter((e) => on.includes(e));
  const event = SEVERITY.find((e) => events.includes(e));
  if (!event) return undefined;
  const changes = Object.values(run.counts).reduce((a, b) => a + b, 0);
  const parts = [`scim-sync job ${run.job}: run #${run.id} ${run.outcome}`, `${changes} change${changes === 1 ? '' : 's'} applied`];
  if (run.errors.length) parts.push(`${run.errors.length} error${run.errors.length === 1 ? '' : 's'} (first: ${run.errors[0]!.object}: ${run.errors[0]!.message})`);
  if (run.heldBack) parts.push(`${run.heldBack} removal${run.heldBack === 1 ? '' : 's'} held back by the delete thresholds`);
  return {
    version: NOTIFICATION_VERSION,
    event,
    events,
    job: run.job,
    runId: run.id,
    trigger: run.trigger,
    outcome: run.outcome,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    counts: run.counts,
    heldBack: run.heldBack,
    errorCount: run.errors.length,
    errors: run.errors.slice(0, MAX_ERRORS),
    host: hostname(),
    tool,
    text: `${parts.join('; ')}.`,
  };
}
