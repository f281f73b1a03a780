import { setTimeout as sleep } from 'node:timers/promises';
import { createTask, type ScheduledTask } from 'node-cron';
import type { Logger } from '../core/logger.js';

export interface ScheduledJob {
  name: string;
  schedule: string;
  timezone?: string;
  /** Longest random delay (ms) before a run starts. */
  jitter?: number;
  /** A tick while the previous run of this job is still going: `skip` it, or `wait` and run once after. */
  overlap: 'skip' | 'wait';
}

export interface SchedulerOptions {
  logger: Logger;
  /** Runs one job; must not throw (the caller reports its own failures). */
  run(job: string, signal: AbortSignal): Promise<void>;
  /** Injectable for tests; 0 ≤ random() < 1. */
  random?: () => number;
}

/**
 * Runs jobs on their cron schedules (node-cron), never two runs of one job at once in this
 * process. Across processes the state lock keeps a `schedule` and a cron or manual `run` apart;
 * this in-process guard only saves a tick from queueing behind its own previous run.
 */
export class Scheduler {
  private readonly tasks = new Map<string, ScheduledTask>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly pending = new Set<string>();
  private readonly controller = new AbortController();

  constructor(
    private readonly jobs: readonly ScheduledJob[],
    private readonly opts: SchedulerOptions,
  ) {}

  start(): void {
    for (const job of this.jobs) {
      const task = createTask(job.schedule, () => this.tick(job), {
        name: job.name,
        ...(job.timezone ? { timezone: job.timezone } : {}),
        // node-cron's own missed-execution warnings go to console; ticks missed while the
        // event loop was busy are simply the next tick's business.
        suppressMissedWarning: true,
      });
      this.tasks.set(job.name, task);
      void task.start();
    }
  }

  /** When each job runs next (undefined once stopped). */
  nextRuns(): Map<string, Date | undefined> {
    const out = new Map<string, Date | undefined>();
    for (const [name, task] of this.tasks) out.set(name, task.getNextRun() ?? undefined);
    return out;
  }

  /** Whether a run of `job` is going on in this process now. */
  isRunning(job: string): boolean {
    return this.running.has(job);
  }

  /**
   * Stop firing, abort jitter waits and queued runs, and wait for the runs in progress: they got
   * `signal` aborted by the caller (shutdown) or finish on their own.
   */
  async stop(): Promise<void> {
    this.controller.abort();
    this.pending.clear();
    for (const task of this.tasks.values()) await task.stop();
    await Promise.allSettled([...this.running.values()]);
    for (const task of this.tasks.values()) await task.destroy();
    this.tasks.clear();
  }

  private tick(job: ScheduledJob): void {
    if (this.controller.signal.aborted) return;
    if (this.running.has(job.name)) {
      if (job.overlap === 'wait') {
        if (!this.pending.has(job.name)) this.opts.logger.info(`job ${job.name}: the previous run is still going; this run starts when it ends`);
        this.pending.add(job.name);
      } else {
        this.opts.logger.info(`job ${job.name}: skipped a scheduled run: the previous run is still going`);
      }
      return;
    }
    const done = this.runOnce(job).finally(() => {
      this.running.delete(job.name);
      if (this.pending.delete(job.name) && !this.controller.signal.aborted) this.tick(job);
    });
    this.running.set(job.name, done);
  }

  private async runOnce(job: ScheduledJob): Promise<void> {
    const signal = this.controller.signal;
    if (job.jitter) {
      const delay = Math.floor((this.opts.random ?? Math.random)() * job.jitter);
      if (delay > 0) {
        this.opts.logger.debug(`job ${job.name}: starting in ${delay} ms (jitter)`);
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return;
        }
      }
    }
    if (signal.aborted) return;
    await this.opts.run(job.name, signal);
  }
}
