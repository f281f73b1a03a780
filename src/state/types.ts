import type { ReadWarning, SourceGroup, SourceUser } from '../core/connector.js';
import type { Link, Links } from '../plan/types.js';

export type RunTrigger = 'manual' | 'apply' | 'schedule' | 'dry-run';
export type RunOutcome = 'running' | 'success' | 'failed' | 'partial' | 'held' | 'interrupted';

export interface RunError {
  /** What the error concerns, e.g. `create user jdoe@example.com` or `source read`. */
  object: string;
  message: string;
}

export interface RunRecord {
  id: number;
  job: string;
  trigger: RunTrigger;
  startedAt: string;
  endedAt: string | null;
  outcome: RunOutcome;
  /** Applied changes by change kind, e.g. { 'create-user': 3 }. */
  counts: Record<string, number>;
  errors: RunError[];
  heldBack: number;
}

export interface LockInfo {
  job: string;
  pid: number;
  host: string;
  acquiredAt: string;
}

/** A full comparison that found nothing to do, recorded so identical inputs need not be read again. */
export interface VerifiedNoop {
  /** Hash of every input of that comparison; the engine computes it, state only stores it. */
  key: string;
  /** The warnings that comparison's plan carried, shown again when it is reused. */
  warnings: ReadWarning[];
  /** ISO time of the comparison. */
  verifiedAt: string;
}

/** What a job's stored source snapshot was read with, and when. */
export interface SourceSnapshotMeta {
  /** Hash of the source connector's config (and anything else the engine decides invalidates it). */
  configKey: string;
  /** The source connector's watermark taken before the read that produced the snapshot. */
  watermark: string;
  /** ISO time of the last full (non-delta) read. */
  fullReadAt: string;
  /** ISO time of the last read, full or delta. */
  readAt: string;
}

export interface StoredSourceSnapshot {
  meta: SourceSnapshotMeta;
  users: SourceUser[];
  groups: SourceGroup[];
}

/**
 * The engine's persistent memory, in one SQLite file. Every mutating call commits before it
 * returns, so a crash loses at most the write in flight (which the next run re-discovers through
 * the externalId anchor).
 */
export interface StateStore {
  readonly path: string;
  /** Increments whenever a job's links or fingerprints change; a saved plan records it to detect staleness. */
  serial(job: string): number;
  loadLinks(job: string): Links;
  /** Upsert the link for a source object (one target object per source object per job). */
  link(job: string, kind: 'user' | 'group', link: Link): void;
  /**
   * `link` for several objects in one transaction (one serial bump). For an applier that collects
   * the links of remote calls that finished together: one commit instead of one per object.
   */
  linkMany(job: string, kind: 'user' | 'group', links: readonly Link[]): void;
  /** Update only the fingerprint (after an update was written). */
  setFingerprint(job: string, kind: 'user' | 'group', sourceId: string, fingerprint: string | null): void;
  unlink(job: string, kind: 'user' | 'group', sourceId: string): void;
  /** The job's last verified no-op comparison, if one is recorded. */
  getVerifiedNoop(job: string): VerifiedNoop | undefined;
  /**
   * Record (replace) the job's verified no-op. The key must include the job's serial, so any
   * link change (link, linkMany, setFingerprint, unlink) invalidates it without a write here.
   */
  setVerifiedNoop(job: string, key: string, warnings: readonly ReadWarning[]): void;
  clearVerifiedNoop(job: string): void;
  /** The job's last complete source listing (for delta reads), or undefined if none is kept. */
  loadSourceSnapshot(job: string): StoredSourceSnapshot | undefined;
  sourceSnapshotMeta(job: string): SourceSnapshotMeta | undefined;
  /** Replace it with a complete listing (after a full read). */
  replaceSourceSnapshot(job: string, meta: SourceSnapshotMeta, users: Iterable<SourceUser>, groups: Iterable<SourceGroup>): void;
  /** Upsert changed objects into it (after a delta read) and move its watermark. */
  mergeSourceSnapshot(job: string, meta: SourceSnapshotMeta, users: Iterable<SourceUser>, groups: Iterable<SourceGroup>): void;
  clearSourceSnapshot(job: string): void;
  /** Throws LockHeldError naming the holder. A lock left by a dead process on this host is taken over. */
  acquireLock(job: string): () => void;
  readLock(job: string): LockInfo | undefined;
  startRun(job: string, trigger: RunTrigger, at: Date): number;
  finishRun(
    id: number,
    result: { outcome: RunOutcome; counts: Record<string, number>; errors: RunError[]; heldBack: number; at: Date },
  ): void;
  /** Newest first. */
  listRuns(opts: { job?: string; limit: number }): RunRecord[];
  /** The job's newest finished run (any outcome but `running`). */
  lastFinishedRun(job: string): RunRecord | undefined;
  /** The job's newest run that completed without errors (`success`, or `held`). */
  lastSucceededRun(job: string): RunRecord | undefined;
  /**
   * Keep the newest `keep` (at least 1) runs of each job and delete runs started before
   * `olderThan`, always keeping each job's newest run; returns the number deleted.
   */
  pruneRuns(keep: number, olderThan?: Date): number;
  close(): void;
}
