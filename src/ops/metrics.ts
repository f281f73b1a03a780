import type { RunOutcome, RunRecord, StateStore } from '../state/types.js';

/**
 * Per-job metrics in the Prometheus text exposition format (version 0.0.4), computed from run
 * history in state. The same text is served at `/metrics` by `schedule` and written by
 * `run --metrics-file` for node_exporter's textfile collector, so cron users get the same series.
 *
 * Everything is a gauge describing the *last* run: counters would have to survive history
 * pruning and process restarts, and alerting rules want "last success older than X" and
 * "last outcome is failed" anyway.
 */

const OUTCOMES: readonly Exclude<RunOutcome, 'running'>[] = ['success', 'held', 'partial', 'failed', 'interrupted'];

interface Family {
  name: string;
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

export interface JobMetricsInput {
  job: string;
  lastRun: RunRecord | undefined;
  lastSuccess: RunRecord | undefined;
  running: boolean;
}

export function collectJobMetrics(state: StateStore, jobs: readonly string[]): JobMetricsInput[] {
  return jobs.map((job) => ({
    job,
    lastRun: state.lastFinishedRun(job),
    lastSuccess: state.lastSucceededRun(job),
    running: state.readLock(job) !== undefined,
  }));
}

export function renderPrometheus(inputs: readonly JobMetricsInput[]): string {
  const family = (name: string, help: string): Family => ({ name: `scim_sync_${name}`, help, samples: [] });
  const running = family('job_running', 'Whether a run of the job holds its lock now (1) or not (0).');
  const lastEnd = family('last_run_timestamp_seconds', "When the job's last finished run ended, Unix time.");
  const lastSuccess = family('last_success_timestamp_seconds', "When the job's last run without errors (success or held) ended, Unix time.");
  const outcome = family('last_run_outcome', "The job's last finished run's outcome: 1 for the outcome it had, 0 for the others.");
  const duration = family('last_run_duration_seconds', "How long the job's last finished run took.");
  const changes = family('last_run_changes', 'Changes applied by the last finished run, by kind of change.');
  const errors = family('last_run_errors', 'Failed changes (or a failed read) in the last finished run.');
  const heldBack = family('last_run_held_back', 'Removals held back by deletes.maxCount / maxPercent in the last finished run.');

  for (const m of inputs) {
    const job = { job: m.job };
    running.samples.push({ labels: job, value: m.running ? 1 : 0 });
    const run = m.lastRun;
    if (m.lastSuccess?.endedAt) lastSuccess.samples.push({ labels: job, value: seconds(m.lastSuccess.endedAt) });
    if (!run || !run.endedAt) continue;
    lastEnd.samples.push({ labels: job, value: seconds(run.endedAt) });
    for (const o of OUTCOMES) outcome.samples.push({ labels: { ...job, outcome: o }, value: run.outcome === o ? 1 : 0 });
    duration.samples.push({ labels: job, value: seconds(run.endedAt) - seconds(run.startedAt) });
    for (const [kind, n] of Object.entries(run.counts).sort(([a], [b]) => a.localeCompare(b))) {
      changes.samples.push({ labels: { ...job, kind }, value: n });
    }
    errors.samples.push({ labels: job, value: run.errors.length });
    heldBack.samples.push({ labels: job, value: run.heldBack });
  }

  const lines: string[] = [];
  for (const f of [running, lastEnd, lastSuccess, outcome, duration, changes, errors, heldBack]) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`);
    for (const s of f.samples) lines.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

function seconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return String(n);
}
