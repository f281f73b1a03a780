import type Database from 'better-sqlite3';
import { StateError } from './errors.js';

/**
 * The state schema, versioned with `PRAGMA user_version`. Forward-only: a migration is never edited
 * once released; changes go into a new entry. The embedded directory keeps its own version in
 * `dir_schema`, because `user_version` is a single number and belongs to this list alone.
 */
export interface Migration {
  version: number;
  description: string;
  up(db: Database.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'links, job serials, runs, locks',
    up(db) {
      db.exec(`
        CREATE TABLE links (
          job         TEXT NOT NULL,
          kind        TEXT NOT NULL CHECK (kind IN ('user', 'group')),
          source_id   TEXT NOT NULL,
          target_id   TEXT NOT NULL,
          origin      TEXT NOT NULL CHECK (origin IN ('created', 'adopted')),
          fingerprint TEXT,
          updated_at  TEXT NOT NULL,
          PRIMARY KEY (job, kind, source_id),
          UNIQUE (job, kind, target_id)
        ) WITHOUT ROWID;

        CREATE TABLE job_serials (
          job    TEXT PRIMARY KEY,
          serial INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE runs (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          job        TEXT NOT NULL,
          trigger    TEXT NOT NULL,
          started_at TEXT NOT NULL,
          ended_at   TEXT,
          outcome    TEXT NOT NULL,
          counts     TEXT NOT NULL DEFAULT '{}',
          errors     TEXT NOT NULL DEFAULT '[]',
          held_back  INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX runs_job ON runs (job, id);

        CREATE TABLE locks (
          job         TEXT PRIMARY KEY,
          pid         INTEGER NOT NULL,
          host        TEXT NOT NULL,
          acquired_at TEXT NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 2,
    description: 'verified no-op comparisons',
    up(db) {
      // One row per job: the key of the inputs (tool version, config, both sides' snapshot tokens,
      // state serial) of the last full comparison that found nothing to do, and its warnings. A
      // run whose inputs have the same key may skip reading: the planner is pure, so it would
      // find nothing again.
      db.exec(`
        CREATE TABLE verified_noop (
          job         TEXT PRIMARY KEY,
          key         TEXT NOT NULL,
          warnings    TEXT NOT NULL DEFAULT '[]',
          verified_at TEXT NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 3,
    description: 'source snapshots for delta reads',
    up(db) {
      // The last complete source listing per job, kept so a delta read (only what changed since a
      // watermark) can be merged into a full snapshot: the planner always sees the whole source.
      // `source_delta.config_key` pins the source connector's config the snapshot was read with;
      // a different config (another base DN, another filter) makes the next read a full one.
      db.exec(`
        CREATE TABLE source_objects (
          job  TEXT NOT NULL,
          kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
          id   TEXT NOT NULL,
          body TEXT NOT NULL,
          PRIMARY KEY (job, kind, id)
        ) WITHOUT ROWID;

        CREATE TABLE source_delta (
          job          TEXT PRIMARY KEY,
          config_key   TEXT NOT NULL,
          watermark    TEXT NOT NULL,
          full_read_at TEXT NOT NULL,
          read_at      TEXT NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
];

export const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Bring the file up to LATEST_VERSION. Each migration runs in its own IMMEDIATE transaction (the
 * version bump included), and the version is re-read inside it so two processes opening a fresh
 * file at once cannot both apply the same step.
 */
export function migrate(db: Database.Database, path: string, migrations: readonly Migration[] = MIGRATIONS): void {
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  const current = schemaVersion(db);
  if (current > latest) throw newerError(path, current, latest);
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      const now = schemaVersion(db);
      if (now > latest) throw newerError(path, now, latest);
      if (now >= m.version) return;
      m.up(db);
      // PRAGMA takes no bound parameters; the version is an integer from our own list.
      db.pragma(`user_version = ${Math.trunc(m.version)}`);
    }).immediate();
  }
}

function newerError(path: string, found: number, known: number): StateError {
  return new StateError(
    path,
    `schema version ${found} is newer than this scim-sync understands (${known}); ` +
      'upgrade scim-sync, or point `state:` at another file',
  );
}
