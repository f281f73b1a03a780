import type Database from 'better-sqlite3';
import type { Link, Links } from '../plan/types.js';

type Kind = 'user' | 'group';

/** Links, fingerprints and the per-job serial. Every mutation is one transaction that bumps the serial. */
export class LinkStore {
  private readonly selectSerial: Database.Statement<[string], { serial: number }>;
  private readonly bumpSerial: Database.Statement<[string]>;
  private readonly selectLinks: Database.Statement<[string]>;
  private readonly deleteByTarget: Database.Statement<[string, Kind, string, string]>;
  private readonly upsert: Database.Statement<[string, Kind, string, string, string, string | null, string]>;
  private readonly updateFingerprint: Database.Statement<[string | null, string, string, Kind, string]>;
  private readonly deleteLink: Database.Statement<[string, Kind, string]>;

  constructor(private readonly db: Database.Database) {
    this.selectSerial = db.prepare('SELECT serial FROM job_serials WHERE job = ?');
    this.bumpSerial = db.prepare(
      'INSERT INTO job_serials (job, serial) VALUES (?, 1) ON CONFLICT (job) DO UPDATE SET serial = serial + 1',
    );
    // Columns in a fixed order for `.raw()` iteration, which skips building one object per row.
    this.selectLinks = db.prepare('SELECT kind, source_id, target_id, origin, fingerprint FROM links WHERE job = ?');
    this.deleteByTarget = db.prepare(
      'DELETE FROM links WHERE job = ? AND kind = ? AND target_id = ? AND source_id <> ?',
    );
    this.upsert = db.prepare(
      `INSERT INTO links (job, kind, source_id, target_id, origin, fingerprint, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (job, kind, source_id) DO UPDATE SET
         target_id = excluded.target_id, origin = excluded.origin,
         fingerprint = excluded.fingerprint, updated_at = excluded.updated_at`,
    );
    this.updateFingerprint = db.prepare(
      'UPDATE links SET fingerprint = ?, updated_at = ? WHERE job = ? AND kind = ? AND source_id = ?',
    );
    this.deleteLink = db.prepare('DELETE FROM links WHERE job = ? AND kind = ? AND source_id = ?');
  }

  serial(job: string): number {
    return this.selectSerial.get(job)?.serial ?? 0;
  }

  loadLinks(job: string): Links {
    const users = new Map<string, Link>();
    const groups = new Map<string, Link>();
    for (const row of this.selectLinks.raw().iterate(job) as IterableIterator<
      [Kind, string, string, Link['origin'], string | null]
    >) {
      const link: Link = { sourceId: row[1], targetId: row[2], origin: row[3], fingerprint: row[4] };
      (row[0] === 'user' ? users : groups).set(row[1], link);
    }
    return { users, groups };
  }

  link(job: string, kind: Kind, link: Link): void {
    this.linkMany(job, kind, [link]);
  }

  /**
   * Several links in one transaction and one serial bump: the commit, not the row, is what costs,
   * so an applier that collects the links of calls finished in the same tick saves most of it.
   */
  linkMany(job: string, kind: Kind, links: readonly Link[]): void {
    if (links.length === 0) return;
    this.db
      .transaction(() => {
        for (const link of links) this.upsertOne(job, kind, link);
        this.bumpSerial.run(job);
      })
      .immediate();
  }

  private upsertOne(job: string, kind: Kind, link: Link): void {
    // One target object per source object per job: if the target id is already linked to a
    // different source id (the source object was re-keyed, or an earlier run adopted the target for
    // another source object that has since gone), the newest link wins. Apply calls `link` only
    // after the target confirmed the object, so this call reflects the current truth and the old
    // row is the stale one; keeping it would break the UNIQUE (job, kind, target_id).
    this.deleteByTarget.run(job, kind, link.targetId, link.sourceId);
    this.upsert.run(job, kind, link.sourceId, link.targetId, link.origin, link.fingerprint, now());
  }

  setFingerprint(job: string, kind: Kind, sourceId: string, fingerprint: string | null): void {
    this.db
      .transaction(() => {
        // A missing link changes nothing, so the serial stays: a saved plan is not made stale by a no-op.
        if (this.updateFingerprint.run(fingerprint, now(), job, kind, sourceId).changes > 0) this.bumpSerial.run(job);
      })
      .immediate();
  }

  unlink(job: string, kind: Kind, sourceId: string): void {
    this.db
      .transaction(() => {
        if (this.deleteLink.run(job, kind, sourceId).changes > 0) this.bumpSerial.run(job);
      })
      .immediate();
  }
}

function now(): string {
  return new Date().toISOString();
}
