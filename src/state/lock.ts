import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { LockHeldError } from '../core/errors.js';
import type { LockInfo } from './types.js';

type LockRow = [string, number, string, string];

/**
 * Per-job run locks, stored in the state file so they hold across processes (cron, scheduler,
 * a manual run) on the same machine and, for a shared file, across hosts too.
 */
export class LockStore {
  private readonly select: Database.Statement<[string]>;
  private readonly upsert: Database.Statement<[string, number, string, string]>;
  private readonly release: Database.Statement<[string, number, string, string]>;
  private readonly host = hostname();

  constructor(
    private readonly db: Database.Database,
    /** Injectable for tests; the default asks the OS. */
    private readonly isAlive: (pid: number) => boolean = processAlive,
  ) {
    this.select = db.prepare('SELECT job, pid, host, acquired_at FROM locks WHERE job = ?');
    this.upsert = db.prepare(
      `INSERT INTO locks (job, pid, host, acquired_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (job) DO UPDATE SET pid = excluded.pid, host = excluded.host, acquired_at = excluded.acquired_at`,
    );
    this.release = db.prepare('DELETE FROM locks WHERE job = ? AND pid = ? AND host = ? AND acquired_at = ?');
  }

  acquire(job: string): () => void {
    const pid = process.pid;
    const acquiredAt = new Date().toISOString();
    // IMMEDIATE takes the write lock before reading, so two processes cannot both see "free".
    this.db
      .transaction(() => {
        const held = this.read(job);
        if (held) {
          // A pid means something only on its own host; a lock from another host is never taken
          // over automatically, because we cannot tell whether that process is still running.
          const stale = held.host === this.host && held.pid !== pid && !this.isAlive(held.pid);
          if (!stale) throw new LockHeldError(job, `pid ${held.pid} on host ${held.host} since ${held.acquiredAt}`);
        }
        this.upsert.run(job, pid, this.host, acquiredAt);
      })
      .immediate();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Delete only if the row is still ours: if our lock was taken over (we were presumed dead),
      // removing the new holder's row would let a third run overlap it.
      if (this.db.open) this.release.run(job, pid, this.host, acquiredAt);
    };
  }

  read(job: string): LockInfo | undefined {
    const row = this.select.raw().get(job) as LockRow | undefined;
    return row ? { job: row[0], pid: row[1], host: row[2], acquiredAt: row[3] } : undefined;
  }
}

/** True unless the OS says the process is gone (or is a zombie that will never run again). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM means it exists but belongs to someone else: alive.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Format: "pid (comm) S ..."; comm may contain spaces or parentheses, so find the last ')'.
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      // A zombie has exited but its parent has not reaped it yet; kill(0) still succeeds on it.
      if (state === 'Z' || state === 'X') return false;
    } catch {
      // /proc unreadable (hidepid, containers): fall back to what kill(0) said.
    }
  }
  return true;
}
