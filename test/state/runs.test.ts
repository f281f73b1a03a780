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
