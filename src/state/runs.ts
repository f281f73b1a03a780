import type Database from 'better-sqlite3';
import { redactDeep } from '../core/secrets.js';
import type { RunError, RunOutcome, RunRecord, RunTrigger } from './types.js';

type RunRow = [number, string, RunTrigger, string, string | null, RunOutcome, string, string, number];

const COLUMNS = 'id, job, trigger, started_at, ended_at, outcome, counts, errors, held_back';

/** Run history: one row per run, written at start (outcome `running`) and completed at the end. */
export class RunStore {
  private readonly insert: Database.Statement<[string, RunTrigger, string]>;
  private readonly finish: Database.Statement<[string, RunOutcome, string, string, number, number]>;
  private readonly listAll: Database.Statement<[number]>;
  private readonly listJob: Database.Statement<[string, number]>;
  private readonly prune: Database.Statement<[number, string]>;
  private readonly lastFinished: Database.Statement<[string]>;
  private readonly lastSucceeded: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    this.insert = db.prepare("INSERT INTO runs (job, trigger, started_at, outcome) VALUES (?, ?, ?, 'running')");
    this.finish = db.prepare(
      'UPDATE runs SET ended_at = ?, outcome = ?, counts = ?, errors = ?, held_back = ? WHERE id = ?',
    );
    this.listAll = db.prepare(`SELECT ${COLUMNS} FROM runs ORDER BY id DESC LIMIT ?`);
    this.listJob = db.prepare(`SELECT ${COLUMNS} FROM runs WHERE job = ? ORDER BY id DESC LIMIT ?`);
    // Each job's newest run survives any age limit, so `status` and the metrics always know it.
    this.prune = db.prepare(
      `DELETE FROM runs WHERE id IN (
         SELECT id FROM (SELECT id, started_at, ROW_NUMBER() OVER (PARTITION BY job ORDER BY id DESC) AS n FROM runs)
         WHERE n > ? OR (n > 1 AND started_at < ?))`,
    );
    this.lastFinished = db.prepare(`SELECT ${COLUMNS} FROM runs WHERE job = ? AND outcome <> 'running' ORDER BY id DESC LIMIT 1`);
    this.lastSucceeded = db.prepare(
      `SELECT ${COLUMNS} FROM runs WHERE job = ? AND outcome IN ('success', 'held') ORDER BY id DESC LIMIT 1`,
    );
  }

  startRun(job: string, trigger: RunTrigger, at: Date): number {
    return Number(this.insert.run(job, trigger, at.toISOString()).lastInsertRowid);
  }

  finishRun(
    id: number,
    result: { outcome: RunOutcome; counts: Record<string, number>; errors: RunError[]; heldBack: number; at: Date },
  ): void {
    // Error messages come from remote systems and may echo a secret back; history is printable, so
    // redact here as the last line of defence even if the caller already did.
    const errors = redactDeep(result.errors);
    this.finish.run(
      result.at.toISOString(),
      result.outcome,
      JSON.stringify(result.counts),
      JSON.stringify(errors),
      result.heldBack,
      id,
    );
  }

  listRuns(opts: { job?: string; limit: number }): RunRecord[] {
    const limit = Math.max(0, Math.trunc(opts.limit));
    const rows = (
      opts.job === undefined ? this.listAll.raw().all(limit) : this.listJob.raw().all(opts.job, limit)
    ) as RunRow[];
    return rows.map(toRecord);
  }

  /** The job's newest finished run (any outcome but `running`). */
  lastFinishedRun(job: string): RunRecord | undefined {
    const row = this.lastFinished.raw().get(job) as RunRow | undefined;
    return row && toRecord(row);
  }

  /** The job's newest run that completed without errors (`success`, or `held` with removals held back). */
  lastSucceededRun(job: string): RunRecord | undefined {
    const row = this.lastSucceeded.raw().get(job) as RunRow | undefined;
    return row && toRecord(row);
  }

  /**
   * Keep the newest `keep` runs of each job and drop runs started before `olderThan` (a job's
   * newest run is always kept); returns how many were deleted.
   */
  pruneRuns(keep: number, olderThan: Date = new Date(0)): number {
    return this.prune.run(Math.max(1, Math.trunc(keep)), olderThan.toISOString()).changes;
  }
}

function toRecord(r: RunRow): RunRecord {
  return {
    id: r[0],
    job: r[1],
    trigger: r[2],
    startedAt: r[3],
    endedAt: r[4],
    outcome: r[5],
    counts: JSON.parse(r[6]) as Record<string, number>,
    errors: JSON.parse(r[7]) as RunError[],
    heldBack: r[8],
  };
}
