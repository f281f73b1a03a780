import type Database from 'better-sqlite3';
import type { ReadWarning } from '../core/connector.js';
import type { VerifiedNoop } from './types.js';

/**
 * The last full comparison per job that found nothing to do (see StateStore.getVerifiedNoop).
 * Each call is one statement, so it commits on its own.
 */
export class VerifiedNoopStore {
  private readonly select: Database.Statement<[string], { key: string; warnings: string; verified_at: string }>;
  private readonly upsert: Database.Statement<[string, string, string, string]>;
  private readonly remove: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    this.select = db.prepare('SELECT key, warnings, verified_at FROM verified_noop WHERE job = ?');
    this.upsert = db.prepare(
      `INSERT INTO verified_noop (job, key, warnings, verified_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (job) DO UPDATE SET key = excluded.key, warnings = excluded.warnings, verified_at = excluded.verified_at`,
    );
    this.remove = db.prepare('DELETE FROM verified_noop WHERE job = ?');
  }

  get(job: string): VerifiedNoop | undefined {
    const row = this.select.get(job);
    if (!row) return undefined;
    let warnings: unknown;
    try {
      warnings = JSON.parse(row.warnings);
    } catch {
      // A row damaged by hand is not worth failing the run over: without it the run compares in full.
      return undefined;
    }
    if (!Array.isArray(warnings)) return undefined;
    return { key: row.key, warnings: warnings as ReadWarning[], verifiedAt: row.verified_at };
  }

  set(job: string, key: string, warnings: readonly ReadWarning[], at: Date): void {
    this.upsert.run(job, key, JSON.stringify(warnings), at.toISOString());
  }

  clear(job: string): void {
    this.remove.run(job);
  }
}
