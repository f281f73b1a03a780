import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// No types are published for this parser; it is only used to prove the text parses.
// @ts-expect-error untyped module
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { collectJobMetrics, renderPrometheus } from '../../src/ops/metrics.js';
import { writeMetricsFile } from '../../src/ops/metrics-file.js';
import { openState } from '../../src/state/index.js';
import { tempStatePath } from '../state/helpers.js';

interface ParsedFamily {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
const parse = parsePrometheusTextFormat as (text: string) => ParsedFamily[];

function seeded() {
  const state = openState(tempStatePath());
  const t = (s: number) => new Date(Date.UTC(2026, 10, 1, 0, 0, s));
  const ok = state.startRun('hr-to-app', 'schedule', t(0));
  state.finishRun(ok, { outcome: 'success', counts: { 'create-user': 3, 'update-user': 1 }, errors: [], heldBack: 0, at: t(12) });
  const bad = state.startRun('hr-to-app', 'schedule', t(60));
  state.finishRun(bad, {
    outcome: 'partial',
    counts: { 'update-user': 2 },
    errors: [{ object: 'update user "a\\b"', message: 'HTTP 400' }],
    heldBack: 7,
    at: t(65),
  });
  state.startRun('other "job"', 'manual', t(70)); // running, never finished
  return state;
}

describe('Prometheus metrics', () => {
  it('describe each job\'s last run and last success, and parse as Prometheus text', () => {
    const state = seeded();
    const release = state.acquireLock('other "job"');
    const text = renderPrometheus(collectJobMetrics(state, ['hr-to-app', 'other "job"', 'never-ran']));
    release();
    state.close();

    const families = new Map(parse(text).map((f) => [f.name, f]));
    const value = (name: string, labels: Record<string, string>) =>
      families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;
    expect([...families.values()].every((f) => f.type === 'GAUGE')).toBe(true);
    expect(value('scim_sync_last_run_timestamp_seconds', { job: 'hr-to-app' })).toBe(String(Date.UTC(2026, 10, 1, 0, 1, 5) / 1000));
    expect(value('scim_sync_last_success_timestamp_seconds', { job: 'hr-to-app' })).toBe(String(Date.UTC(2026, 10, 1, 0, 0, 12) / 1000));
    expect(value('scim_sync_last_run_outcome', { job: 'hr-to-app', outcome: 'partial' })).toBe('1');
    expect(value('scim_sync_last_run_outcome', { job: 'hr-to-app', outcome: 'success' })).toBe('0');
    expect(value('scim_sync_last_run_duration_seconds', { job: 'hr-to-app' })).toBe('5');
    expect(value('scim_sync_last_run_changes', { job: 'hr-to-app', kind: 'update-user' })).toBe('2');
    expect(value('scim_sync_last_run_errors', { job: 'hr-to-app' })).toBe('1');
    expect(value('scim_sync_last_run_held_back', { job: 'hr-to-app' })).toBe('7');
    // Quotes in a job name are escaped, so the label survives parsing intact.
    expect(value('scim_sync_job_running', { job: 'other "job"' })).toBe('1');
    expect(value('scim_sync_job_running', { job: 'never-ran' })).toBe('0');
    // A job that never finished a run has no last-run series (absent, not a fake 0 timestamp).
    expect(value('scim_sync_last_run_timestamp_seconds', { job: 'never-ran' })).toBeUndefined();
    expect(text).toContain('# TYPE scim_sync_last_run_outcome gauge\n');
  });

  it('writes the textfile collector file whole, replacing the previous one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scim-sync-metrics-'));
    try {
      const path = join(dir, 'sub', 'scim_sync.prom');
      await writeMetricsFile(path, 'a 1\n');
      await writeMetricsFile(path, 'a 2\n');
      expect(readFileSync(path, 'utf8')).toBe('a 2\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
