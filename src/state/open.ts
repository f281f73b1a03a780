import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { ReadWarning, SourceGroup, SourceUser } from '../core/connector.js';
import { errorMessage } from '../core/errors.js';
import type { Link, Links } from '../plan/types.js';
import { StateError } from './errors.js';
import { LinkStore } from './links.js';
import { LockStore } from './lock.js';
import { migrate } from './migrations.js';
import { RunStore } from './runs.js';
import { SourceSnapshotStore } from './source-snapshots.js';
import type {
  LockInfo,
  RunError,
  RunOutcome,
  RunRecord,
  RunTrigger,
  SourceSnapshotMeta,
  StateStore,
  StoredSourceSnapshot,
  VerifiedNoop,
} from './types.js';
import { VerifiedNoopStore } from './verified.js';

/**
 * Open a SQLite connection configured the way every user of the state file needs it. Exported so
 * tests and tools open the file the same way; the embedded connector repeats these pragmas itself
 * because connectors may not import src/state.
 */
export function openDatabase(path: string): Database.Database {
  const file = resolve(path);
  let db: Database.Database;
  try {
    mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
    // busy_timeout first: the pragmas below may need a lock another process holds for a moment.
    db.pragma('busy_timeout = 5000');
    // WAL lets readers run alongside the writer, and the embedded directory's connection share the file.
    db.pragma('journal_mode = WAL');
    // With WAL, NORMAL is still crash-safe (a power loss may drop the last commits, never corrupt).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    throw new StateError(file, errorMessage(err));
  }
  return db;
}

export function openState(path: string): StateStore {
  const file = resolve(path);
  const db = openDatabase(file);
  try {
    migrate(db, file);
  } catch (err) {
    db.close();
    if (err instanceof StateError) throw err;
    throw new StateError(file, errorMessage(err));
  }
  return new SqliteStateStore(file, db);
}

class SqliteStateStore implements StateStore {
  private readonly links: LinkStore;
  private readonly runs: RunStore;
  private readonly locks: LockStore;
  private readonly verified: VerifiedNoopStore;
  private readonly sources: SourceSnapshotStore;

  constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {
    this.links = new LinkStore(db);
    this.runs = new RunStore(db);
    this.locks = new LockStore(db);
    this.verified = new VerifiedNoopStore(db);
    this.sources = new SourceSnapshotStore(db);
  }

  loadSourceSnapshot(job: string): StoredSourceSnapshot | undefined {
    return this.sources.load(job);
  }
  sourceSnapshotMeta(job: string): SourceSnapshotMeta | undefined {
    return this.sources.meta(job);
  }
  replaceSourceSnapshot(job: string, meta: SourceSnapshotMeta, users: Iterable<SourceUser>, groups: Iterable<SourceGroup>): void {
    this.sources.replace(job, meta, users, groups);
  }
  mergeSourceSnapshot(job: string, meta: SourceSnapshotMeta, users: Iterable<SourceUser>, groups: Iterable<SourceGroup>): void {
    this.sources.merge(job, meta, users, groups);
  }
  clearSourceSnapshot(job: string): void {
    this.sources.clear(job);
  }
  serial(job: string): number {
    return this.links.serial(job);
  }
  loadLinks(job: string): Links {
    return this.links.loadLinks(job);
  }
  link(job: string, kind: 'user' | 'group', link: Link): void {
    this.links.link(job, kind, link);
  }
  linkMany(job: string, kind: 'user' | 'group', links: readonly Link[]): void {
    this.links.linkMany(job, kind, links);
  }
  setFingerprint(job: string, kind: 'user' | 'group', sourceId: string, fingerprint: string | null): void {
    this.links.setFingerprint(job, kind, sourceId, fingerprint);
  }
  unlink(job: string, kind: 'user' | 'group', sourceId: string): void {
    this.links.unlink(job, kind, sourceId);
  }
  getVerifiedNoop(job: string): VerifiedNoop | undefined {
    return this.verified.get(job);
  }
  setVerifiedNoop(job: string, key: string, warnings: readonly ReadWarning[]): void {
    this.verified.set(job, key, warnings, new Date());
  }
  clearVerifiedNoop(job: string): void {
    this.verified.clear(job);
  }
  acquireLock(job: string): () => void {
    return this.locks.acquire(job);
  }
  readLock(job: string): LockInfo | undefined {
    return this.locks.read(job);
  }
  startRun(job: string, trigger: RunTrigger, at: Date): number {
    return this.runs.startRun(job, trigger, at);
  }
  finishRun(
    id: number,
    result: { outcome: RunOutcome; counts: Record<string, number>; errors: RunError[]; heldBack: number; at: Date },
  ): void {
    this.runs.finishRun(id, result);
  }
  listRuns(opts: { job?: string; limit: number }): RunRecord[] {
    return this.runs.listRuns(opts);
  }
  lastFinishedRun(job: string): RunRecord | undefined {
    return this.runs.lastFinishedRun(job);
  }
  lastSucceededRun(job: string): RunRecord | undefined {
    return this.runs.lastSucceededRun(job);
  }
  pruneRuns(keep: number, olderThan?: Date): number {
    return this.runs.pruneRuns(keep, olderThan);
  }
  close(): void {
    if (this.db.open) this.db.close();
  }
}
