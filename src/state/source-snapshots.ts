import type Database from 'better-sqlite3';
import type { SourceGroup, SourceUser } from '../core/connector.js';
import type { SourceSnapshotMeta, StoredSourceSnapshot } from './types.js';

interface Row {
  kind: 'user' | 'group';
  body: string;
}

/**
 * The last complete source listing per job, for delta reads (see StateStore.loadSourceSnapshot).
 * Bodies are the reader's objects as JSON, `raw` included, because mapping templates read it.
 */
export class SourceSnapshotStore {
  private readonly selectMeta: Database.Statement<[string], { config_key: string; watermark: string; full_read_at: string; read_at: string }>;
  private readonly selectObjects: Database.Statement<[string], Row>;
  private readonly upsertMeta: Database.Statement<[string, string, string, string, string]>;
  private readonly upsertObject: Database.Statement<[string, string, string, string]>;
  private readonly clearObjects: Database.Statement<[string]>;
  private readonly clearMeta: Database.Statement<[string]>;

  constructor(private readonly db: Database.Database) {
    this.selectMeta = db.prepare('SELECT config_key, watermark, full_read_at, read_at FROM source_delta WHERE job = ?');
    this.selectObjects = db.prepare('SELECT kind, body FROM source_objects WHERE job = ?');
    this.upsertMeta = db.prepare(
      `INSERT INTO source_delta (job, config_key, watermark, full_read_at, read_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (job) DO UPDATE SET config_key = excluded.config_key, watermark = excluded.watermark,
         full_read_at = excluded.full_read_at, read_at = excluded.read_at`,
    );
    this.upsertObject = db.prepare(
      `INSERT INTO source_objects (job, kind, id, body) VALUES (?, ?, ?, ?)
       ON CONFLICT (job, kind, id) DO UPDATE SET body = excluded.body`,
    );
    this.clearObjects = db.prepare('DELETE FROM source_objects WHERE job = ?');
    this.clearMeta = db.prepare('DELETE FROM source_delta WHERE job = ?');
  }

  meta(job: string): SourceSnapshotMeta | undefined {
    const row = this.selectMeta.get(job);
    if (!row) return undefined;
    return { configKey: row.config_key, watermark: row.watermark, fullReadAt: row.full_read_at, readAt: row.read_at };
  }

  load(job: string): StoredSourceSnapshot | undefined {
    const meta = this.meta(job);
    if (!meta) return undefined;
    const users: SourceUser[] = [];
    const groups: SourceGroup[] = [];
    try {
      for (const row of this.selectObjects.iterate(job)) {
        if (row.kind === 'user') users.push(JSON.parse(row.body) as SourceUser);
        else groups.push(JSON.parse(row.body) as SourceGroup);
      }
    } catch {
      // A row damaged by hand costs a full read, not a failed run.
      return undefined;
    }
    return { meta, users, groups };
  }

  /** Replace the job's snapshot with a complete listing, in one transaction. */
  replace(job: string, meta: SourceSnapshotMeta, users: Iterable<SourceUser>, groups: Iterable<SourceGroup>): void {
    this.db.transaction(() => {
      this.clearObjects.run(job);
      this.put(job, users, groups);
      this.writeMeta(job, meta);
    })();
  }

  /** Merge changed objects into the job's snapshot and move its watermark, in one transaction. */
  merge(job: string, meta: SourceSnapshotMeta, users: Iterable<SourceUser>, groups: Iterable<SourceGroup>): void {
    this.db.transaction(() => {
      this.put(job, users, groups);
      this.writeMeta(job, meta);
    })();
  }

  clear(job: string): void {
    this.db.transaction(() => {
      this.clearObjects.run(job);
      this.clearMeta.run(job);
    })();
  }

  private put(job: string, users: Iterable<SourceUser>, groups: Iterable<SourceGroup>): void {
    for (const u of users) this.upsertObject.run(job, 'user', u.id, JSON.stringify(u));
    for (const g of groups) this.upsertObject.run(job, 'group', g.id, JSON.stringify(g));
  }

  private writeMeta(job: string, meta: SourceSnapshotMeta): void {
    this.upsertMeta.run(job, meta.configKey, meta.watermark, meta.fullReadAt, meta.readAt);
  }
}
