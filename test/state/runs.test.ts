import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, registerSecret } from '../../src/core/secrets.js';
import { openState } from '../../src/state/open.js';
import { tempStatePath } from './helpers.js';

afterEach(() => clearSecrets());

describe('runs', () => {
  it('records a run from start to finish', () => {
    const s = openState(tempStatePath());
    const id = s.startRun('a', 'manual', new Date('2026-01-02T03:04:05.000Z'));
    expect(s.listRuns({ limit: 10 })).toEqual([
      {
        id,
        job: 'a',
        trigger: 'manual',
        startedAt: '2026-01-02T03:04:05.000Z',
        endedAt: null,
        outcome: 'running',
        counts: {},
        errors: [],
        heldBack: 0,
      },
    ]);
    s.finishRun(id, {
      outcome: 'partial',
      counts: { 'create-user': 3 },
      errors: [{ object: 'create user x', message: 'boom' }],
      heldBack: 2,
      at: new Date('2026-01-02T03:05:00.000Z'),
    });
    const [run] = s.listRuns({ job: 'a', limit: 1 });
    expect(run).toMatchObject({
      endedAt: '2026-01-02T03:05:00.000Z',
      outcome: 'partial',
      counts: { 'create-user': 3 },
      errors: [{ object: 'create user x', message: 'boom' }],
      heldBack: 2,
    });
    s.close();
  });

  it('lists newest first, filters by job and limits', () => {
    const s = openState(tempStatePath());
    const at = new Date();
    const ids = ['a', 'b', 'a', 'a', 'b'].map((job) => s.startRun(job, 'schedule', at));
    expect(s.listRuns({ limit: 10 }).map((r) => r.id)).toEqual([...ids].reverse());
    expect(s.listRuns({ job: 'a', limit: 2 }).map((r) => r.id)).toEqual([ids[3], ids[2]]);
    expect(s.listRuns({ job: 'zzz', limit: 2 })).toEqual([]);
    expect(s.listRuns({ limit: 0 })).toEqual([]);
    s.close();
  });

  it('prunes old runs per job', () => {
    const s = openState(tempStatePath());
    const at = new Date();
    const ids = ['a', 'b', 'a', 'a', 'b', 'a'].map((job) => s.startRun(job, 'manual', at));
    expect(s.pruneRuns(2)).toBe(2);
    expect(s.listRuns({ limit: 10 }).map((r) => r.id)).toEqual([ids[5], ids[4], ids[3], ids[1]]);
    expect(s.pruneRuns(2)).toBe(0);
    s.close();
  });

  it('prunes runs older than a cutoff but keeps each job\'s newest run', () => {
    const s = openState(tempStatePath());
    const day = (d: number) => new Date(Date.UTC(2026, 0, d));
    const a1 = s.startRun('a', 'manual', day(1));
    const a2 = s.startRun('a', 'manual', day(2));
    const b1 = s.startRun('b', 'manual', day(3));
    const a3 = s.startRun('a', 'manual', day(20));
    expect(s.pruneRuns(100, day(10))).toBe(2);
    // b's only run is old, but it is b's newest: status and metrics still need it.
    expect(s.listRuns({ limit: 10 }).map((r) => r.id)).toEqual([a3, b1]);
    expect([a1, a2]).not.toContain(a3);
    s.close();
  });

  it('finds the newest finished and the newest successful run of a job', () => {
    const s = openState(tempStatePath());
    const finish = (id: number, outcome: 'success' | 'failed' | 'held') =>
      s.finishRun(id, { outcome, counts: {}, errors: [], heldBack: 0, at: new Date() });
    const ok = s.startRun('a', 'schedule', new Date());
    finish(ok, 'success');
    const held = s.startRun('a', 'schedule', new Date());
    finish(held, 'held');
    const bad = s.startRun('a', 'schedule', new Date());
    finish(bad, 'failed');
    s.startRun('a', 'schedule', new Date()); // running now
    expect(s.lastFinishedRun('a')?.id).toBe(bad);
    expect(s.lastSucceededRun('a')?.id).toBe(held);
    expect(s.lastSucceededRun('nope')).toBeUndefined();
    s.close();
  });

  it('redacts registered secrets in recorded errors', () => {
    registerSecret('s3cr3t-token');
    const s = openState(tempStatePath());
    const id = s.startRun('a', 'manual', new Date());
    s.finishRun(id, {
      outcome: 'failed',
      counts: {},
      errors: [{ object: 'source read', message: 'auth s3cr3t-token rejected' }],
      heldBack: 0,
      at: new Date(),
    });
    expect(s.listRuns({ limit: 1 })[0]?.errors[0]?.message).toBe('auth [REDACTED] rejected');
    s.close();
  });
});
