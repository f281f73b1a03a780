import type Database from 'better-sqlite3';
import type { Link, Links } from '../plan/types.js';

type Kind = 'user' | 'group';

/** Links per page when loading (≈150 bytes of JSON each). */
const LINK_PAGE = 20_000;

interface LinkPage {
  /** JSON array of Link objects. */
  links: string;
  n: number;
  /** Greatest source id in the page: where the next page starts. Null for an empty page. */
  last: string | null;
}

/** Links, fingerprints and the per-job serial. Every mutation is one transaction that bumps the serial. */
export class LinkStore {
  private readonly selectSerial: Database.Statement<[string], { serial: number }>;
  private readonly bumpSerial: Database.Statement<[string]>;
  private readonly firstLinkPage: Database.Statement<[string, Kind, number]>;
  private readonly nextLinkPage: Database.Statement<[string, Kind, string, number]>;
  private readonly deleteByTarget: Database.Statement<[string, Kind, string, string]>;
  private readonly upsert: Database.Statement<[string, Kind, string, string, string, string | null, string]>;
  private readonly updateFingerprint: Database.Statement<[string | null, string, string, Kind, string]>;
  private readonly deleteLink: Database.Statement<[string, Kind, string]>;

  constructor(private readonly db: Database.Database) {
    this.selectSerial = db.prepare('SELECT serial FROM job_serials WHERE job = ?');
    this.bumpSerial = db.prepare(
      'INSERT INTO job_serials (job, serial) VALUES (?, 1) ON CONFLICT (job) DO UPDATE SET serial = serial + 1',
    );
    // Links are read as JSON text a page at a time: one JSON.parse per page builds the Link objects
    // directly, where reading row by row costs a native call and a row array per link (about a
    // third of loadLinks at 100k links). Pages (by primary key order) keep every string small.
    const page = (where: string) =>
      `SELECT json_group_array(json_object('sourceId', source_id, 'targetId', target_id, 'origin', origin,
         'fingerprint', fingerprint)) AS links, count(*) AS n, max(source_id) AS last
       FROM (SELECT source_id, target_id, origin, fingerprint FROM links
             WHERE job = ? AND kind = ? ${where} ORDER BY source_id LIMIT ?)`;
    this.firstLinkPage = db.prepare(page(''));
    this.nextLinkPage = db.prepare(page('AND source_id > ?'));
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
    // One read transaction, so the pages of both kinds come from the same snapshot.
    return this.db.transaction(() => ({ users: this.loadKind(job, 'user'), groups: this.loadKind(job, 'group') }))();
  }

  private loadKind(job: string, kind: Kind): Map<string, Link> {
    const out = new Map<string, Link>();
    let row = this.firstLinkPage.get(job, kind, LINK_PAGE) as LinkPage;
    for (;;) {
      for (const link of JSON.parse(row.links) as Link[]) out.set(link.sourceId, link);
      if (row.n < LINK_PAGE) return out;
      row = this.nextLinkPage.get(job, kind, row.last!, LINK_PAGE) as LinkPage;
    }
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
    const at = now();
    this.db
      .transaction(() => {
        for (const link of links) this.upsertOne(job, kind, link, at);
        this.bumpSerial.run(job);
      })
      .immediate();
  }

  private upsertOne(job: string, kind: Kind, link: Link, at: string): void {
    // One target object per source object per job: if the target id is already linked to a
    // different source id (the source object was re-keyed, or an earlier run adopted the target for
    // another source object that has since gone), the newest link wins. Apply calls `link` only
    // after the target confirmed the object, so this call reflects the current truth and the old
    // row is the stale one; keeping it would break the UNIQUE (job, kind, target_id).
    this.deleteByTarget.run(job, kind, link.targetId, link.sourceId);
    this.upsert.run(job, kind, link.sourceId, link.targetId, link.origin, link.fingerprint, at);
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
