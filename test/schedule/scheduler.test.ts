import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import { Scheduler } from '../../src/schedule/scheduler.js';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, debug: push, info: push, warn: push, error: push };
}

/** These run on real node-cron ticks (every second), so each test takes a few seconds of wall time. */
describe('Scheduler', () => {
  it('runs a job on every tick and reports its next run', async () => {
    const runs: number[] = [];
    const logger = recordingLogger();
    const s = new Scheduler([{ name: 'fast', schedule: '* * * * * *', overlap: 'skip' }], {
      logger,
      run: async () => void runs.push(Date.now()),
    });
    s.start();
    const next = s.nextRuns().get('fast');
    expect(next).toBeInstanceOf(Date);
    expect(next!.getTime()).toBeGreaterThan(Date.now() - 1000);
    await sleep(3500);
    await s.stop();
    const count = runs.length;
    expect(count).toBeGreaterThanOrEqual(2);
    await sleep(1200);
    expect(runs.length).toBe(count); // stopped means stopped
  });

  it('skips ticks while the previous run is still going (overlap: skip)', async () => {
    let started = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const logger = recordingLogger();
    const s = new Scheduler([{ name: 'slow', schedule: '* * * * * *', overlap: 'skip' }], {
      logger,
      run: async () => {
        started++;
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        await sleep(2300);
        concurrent--;
      },
    });
    s.start();
    await sleep(3600);
    await s.stop();
    expect(maxConcurrent).toBe(1);
    expect(started).toBeLessThanOrEqual(2);
    expect(logger.lines.some((l) => l === 'job slow: skipped a scheduled run: the previous run is still going')).toBe(true);
  });

  it('queues one run behind a running one (overlap: wait), and stop() waits for the run in flight', async () => {
    const events: string[] = [];
    const logger = recordingLogger();
    let n = 0;
    const s = new Scheduler([{ name: 'q', schedule: '* * * * * *', overlap: 'wait' }], {
      logger,
      run: async (_job, signal) => {
        const id = ++n;
        events.push(`start ${id}`);
        // A run that honours the signal like the applier: finishes what is in flight, then stops.
        for (let i = 0; i < 15 && !signal.aborted; i++) await sleep(100);
        events.push(`end ${id}${signal.aborted ? ' (aborted)' : ''}`);
      },
    });
    s.start();
    await sleep(2600);
    await s.stop();
    // Runs never overlap: every start follows the previous end.
    for (let i = 1; i < events.length; i += 2) expect(events[i]).toMatch(/^end /);
    expect(events.filter((e) => e.startsWith('start')).length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toMatch(/^end \d+( \(aborted\))?$/);
    expect(logger.lines).toContain('job q: the previous run is still going; this run starts when it ends');
  });

  it('a jitter delay is cut short by stop(), and the run never starts', async () => {
    let ran = 0;
    const s = new Scheduler([{ name: 'j', schedule: '* * * * * *', overlap: 'skip', jitter: 60_000 }], {
      logger: recordingLogger(),
      run: async () => void ran++,
      random: () => 0.99,
    });
    s.start();
    await sleep(1500);
    const stopped = Date.now();
    await s.stop();
    // Far less than the 60 s jitter: the wait was aborted, not sat out.
    expect(Date.now() - stopped).toBeLessThan(30_000);
    expect(ran).toBe(0);
  });
});
