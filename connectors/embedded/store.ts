import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { getPath, setPath } from '../../src/core/attributes.js';
import type { UserAttribute } from '../../src/core/attributes.js';
import { RemoteError } from '../../src/core/errors.js';
import type { Group, GroupInput, MemberRef, MemberType, User, UserInput } from '../../src/core/model.js';
import type { FilterNode } from '../../src/scim/filter.js';
import { filterToSql, sortToSql, type ResourceKind } from './query.js';

/**
 * The embedded directory: users, groups and memberships kept in the SQLite state file.
 *
 * Connectors may import only src/core, so this opens the file with its own connection (WAL and a
 * busy timeout let it share the file with the state store) and versions its tables in `dir_schema`
 * (`PRAGMA user_version` belongs to src/state).
 *
 * Every method is synchronous and runs at most one transaction, never across an `await`: a write
 * transaction held over an await would make the state store's connection wait (busy_timeout is a
 * synchronous sleep that blocks the event loop), which could never end.
 */

/** SCIM `meta` material for a later server: when created, last modified, and an ETag version. */
export interface ObjectMeta {
  created: string;
  modified: string;
  version: number;
}

export interface StoredUser {
  user: User;
  meta: ObjectMeta;
}

/** A page of a listing: filter, optional sort (by a SCIM attribute path), 0-based offset. */
export interface DirectoryQuery {
  filter?: FilterNode;
  sortBy?: string;
  descending?: boolean;
  offset: number;
  limit: number;
}

export interface StoredGroup {
  group: Group;
  meta: ObjectMeta;
}

interface DirMigration {
  version: number;
  up(db: Database.Database): void;
}

const DIR_MIGRATIONS: readonly DirMigration[] = [
  {
    version: 1,
    up(db) {
      db.exec(`
        CREATE TABLE dir_users (
          id          TEXT PRIMARY KEY,
          user_name   TEXT NOT NULL UNIQUE COLLATE NOCASE,
          external_id TEXT,
          active      INTEGER NOT NULL,
          data        TEXT NOT NULL,
          created     TEXT NOT NULL,
          modified    TEXT NOT NULL,
          version     INTEGER NOT NULL
        );
        CREATE INDEX dir_users_external_id ON dir_users (external_id) WHERE external_id IS NOT NULL;

        -- displayName unique (case-insensitively) like most SCIM servers, so adoption by displayName
        -- is never ambiguous.
        CREATE TABLE dir_groups (
          id           TEXT PRIMARY KEY,
          display_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
          external_id  TEXT,
          data         TEXT NOT NULL,
          created      TEXT NOT NULL,
          modified     TEXT NOT NULL,
          version      INTEGER NOT NULL
        );
        CREATE INDEX dir_groups_external_id ON dir_groups (external_id) WHERE external_id IS NOT NULL;

        CREATE TABLE dir_members (
          group_id    TEXT NOT NULL REFERENCES dir_groups (id) ON DELETE CASCADE,
          member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
          member_id   TEXT NOT NULL,
          PRIMARY KEY (group_id, member_type, member_id)
        ) WITHOUT ROWID;
        CREATE INDEX dir_members_member ON dir_members (member_id, member_type);

        -- member_id points at dir_users or dir_groups depending on member_type, which a foreign key
        -- cannot express; these triggers give the same ON DELETE CASCADE for the member side.
        CREATE TRIGGER dir_users_delete_members AFTER DELETE ON dir_users BEGIN
          DELETE FROM dir_members WHERE member_id = OLD.id AND member_type = 'User';
        END;
        CREATE TRIGGER dir_groups_delete_members AFTER DELETE ON dir_groups BEGIN
          DELETE FROM dir_members WHERE member_id = OLD.id AND member_type = 'Group';
        END;
      `);
    },
  },
  {
    version: 2,
    up(db) {
      // The content version behind the reader's snapshot token. Triggers rather than bumps in this
      // class's methods, because the directory is also written from outside the connector (the
      // sqlite3 CLI, the SCIM server sharing the store): a version only the connector bumped
      // would let the engine skip a read that would have seen such a change. `instance` is new for
      // every directory created, so a deleted and re-created directory, whose counter starts again
      // at 0, never repeats an earlier token.
      db.exec(`
        CREATE TABLE dir_meta (
          id       INTEGER PRIMARY KEY CHECK (id = 1),
          instance TEXT NOT NULL,
          version  INTEGER NOT NULL
        );
      `);
      db.prepare('INSERT INTO dir_meta (id, instance, version) VALUES (1, ?, 0)').run(randomUUID());
      for (const table of ['dir_users', 'dir_groups', 'dir_members']) {
        for (const event of ['INSERT', 'UPDATE', 'DELETE']) {
          db.exec(`
            CREATE TRIGGER ${table}_${event.toLowerCase()}_bump AFTER ${event} ON ${table} BEGIN
              UPDATE dir_meta SET version = version + 1 WHERE id = 1;
            END;
          `);
        }
      }
    },
  },
  {
    version: 3,
    up(db) {
      // For `serve`: filters on emails and on users' displayName answered from indexes. Emails are
      // copied into a side table by triggers (a multi-valued attribute cannot be indexed in the
      // JSON document), so writes from anywhere keep it in step; no content-version bump for it,
      // since it only mirrors dir_users.data.
      const emailsOf = (row: string) => `
        SELECT ${row}.id, json_extract(e.value, '$.value'), json_extract(e.value, '$.type'), json_extract(e.value, '$.primary')
        FROM json_each(${row}.data, '$.emails') e WHERE json_extract(e.value, '$.value') IS NOT NULL`;
      // Dropped first so that a directory whose dir_schema was set back by hand rebuilds cleanly.
      db.exec(`
        DROP TRIGGER IF EXISTS dir_users_emails_insert;
        DROP TRIGGER IF EXISTS dir_users_emails_update;
        DROP TRIGGER IF EXISTS dir_users_emails_delete;
        DROP INDEX IF EXISTS dir_users_display_name;
        DROP TABLE IF EXISTS dir_user_emails;
        CREATE TABLE dir_user_emails (
          user_id   TEXT NOT NULL,
          value     TEXT NOT NULL COLLATE NOCASE,
          type      TEXT COLLATE NOCASE,
          "primary" INTEGER
        );
        CREATE INDEX dir_user_emails_value ON dir_user_emails (value);
        CREATE INDEX dir_user_emails_user ON dir_user_emails (user_id);
        INSERT INTO dir_user_emails SELECT * FROM (${emailsOf('u').replace('FROM json_each', 'FROM dir_users u, json_each')});
        CREATE TRIGGER dir_users_emails_insert AFTER INSERT ON dir_users BEGIN
          INSERT INTO dir_user_emails ${emailsOf('NEW')};
        END;
        CREATE TRIGGER dir_users_emails_update AFTER UPDATE OF data ON dir_users BEGIN
          DELETE FROM dir_user_emails WHERE user_id = OLD.id;
          INSERT INTO dir_user_emails ${emailsOf('NEW')};
        END;
        CREATE TRIGGER dir_users_emails_delete AFTER DELETE ON dir_users BEGIN
          DELETE FROM dir_user_emails WHERE user_id = OLD.id;
        END;
        -- Same expression as the displayName filter in query.ts, or the index is not used.
        CREATE INDEX dir_users_display_name ON dir_users (json_extract(data, '$.displayName') COLLATE NOCASE);
      `);
    },
  },
];

export const DIR_SCHEMA_VERSION = DIR_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** Only these keys of a User are stored: anything else a caller passes along (raw, id) is dropped. */
const USER_KEYS = [
  'userName',
  'externalId',
  'active',
  'name',
  'displayName',
  'nickName',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'emails',
  'phoneNumbers',
  'enterprise',
] as const satisfies readonly (keyof UserInput)[];

type UserRow = [string, string, string, string, number];
type GroupRow = [string, string, string, string, number];

export function openDirectoryDatabase(path: string): Database.Database {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Needed for ON DELETE CASCADE from dir_groups to dir_members.
    db.pragma('foreign_keys = ON');
    migrateDirectory(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function migrateDirectory(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS dir_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)');
  const read = db.prepare<[], { version: number }>('SELECT version FROM dir_schema WHERE id = 1');
  const write = db.prepare<[number]>(
    'INSERT INTO dir_schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version',
  );
  const check = (): number => {
    const v = read.get()?.version ?? 0;
    if (v > DIR_SCHEMA_VERSION) {
      throw new Error(
        `embedded directory schema version ${v} is newer than this scim-sync understands (${DIR_SCHEMA_VERSION}); upgrade scim-sync`,
      );
    }
    return v;
  };
  if (check() >= DIR_SCHEMA_VERSION) return;
  for (const m of DIR_MIGRATIONS) {
    // One IMMEDIATE transaction per step, version re-read inside, so concurrent openers don't race.
    db.transaction(() => {
      if (check() >= m.version) return;
      m.up(db);
      write.run(m.version);
    }).immediate();
  }
}

function isUniqueViolation(err: unknown): boolean {
  return (
    err instanceof Database.SqliteError &&
    (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
  );
}

function pickUser(input: UserInput | Record<string, unknown>): Record<string, unknown> {
  const src = input as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of USER_KEYS) if (src[key] !== undefined) out[key] = src[key];
  return out;
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

export class DirectoryStore {
  readonly db: Database.Database;
  private readonly s;

  constructor(path: string) {
    this.db = openDirectoryDatabase(path);
    const db = this.db;
    const userCols = 'id, data, created, modified, version';
    const groupCols = 'id, data, created, modified, version';
    this.s = {
      contentVersion: db.prepare<[], { instance: string; version: number }>(
        'SELECT instance, version FROM dir_meta WHERE id = 1',
      ),
      countUsers: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM dir_users'),
      countGroups: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM dir_groups'),
      allUsers: db.prepare('SELECT id, data FROM dir_users ORDER BY rowid'),
      allGroups: db.prepare('SELECT id, data FROM dir_groups ORDER BY rowid'),
      // Each group's members as one JSON array of {type, value}: one JSON.parse per group instead
      // of a native call and a row array per membership (≈100k of them in a big directory).
      allMembers: db.prepare(
        `SELECT group_id, json_group_array(json_object('type', member_type, 'value', member_id))
         FROM dir_members GROUP BY group_id`,
      ),
      groupMembers: db.prepare<[string]>('SELECT member_type, member_id FROM dir_members WHERE group_id = ?'),
      userById: db.prepare<[string]>(`SELECT ${userCols} FROM dir_users WHERE id = ?`),
      userByName: db.prepare<[string]>(`SELECT ${userCols} FROM dir_users WHERE user_name = ?`),
      usersByExternalId: db.prepare<[string]>(`SELECT ${userCols} FROM dir_users WHERE external_id = ? ORDER BY rowid`),
      groupById: db.prepare<[string]>(`SELECT ${groupCols} FROM dir_groups WHERE id = ?`),
      groupByName: db.prepare<[string]>(`SELECT ${groupCols} FROM dir_groups WHERE display_name = ?`),
      groupsByExternalId: db.prepare<[string]>(
        `SELECT ${groupCols} FROM dir_groups WHERE external_id = ? ORDER BY rowid`,
      ),
      userExists: db.prepare<[string]>('SELECT 1 FROM dir_users WHERE id = ?'),
      groupExists: db.prepare<[string]>('SELECT 1 FROM dir_groups WHERE id = ?'),
      idByUserName: db.prepare<[string], { id: string }>('SELECT id FROM dir_users WHERE user_name = ?'),
      idByDisplayName: db.prepare<[string], { id: string }>('SELECT id FROM dir_groups WHERE display_name = ?'),
      insertUser: db.prepare<[string, string, string | null, number, string, string, string]>(
        `INSERT INTO dir_users (id, user_name, external_id, active, data, created, modified, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
      ),
      updateUser: db.prepare<[string, string | null, number, string, string, string]>(
        `UPDATE dir_users SET user_name = ?, external_id = ?, active = ?, data = ?, modified = ?,
         version = version + 1 WHERE id = ?`,
      ),
      deleteUser: db.prepare<[string]>('DELETE FROM dir_users WHERE id = ?'),
      insertGroup: db.prepare<[string, string, string | null, string, string, string]>(
        `INSERT INTO dir_groups (id, display_name, external_id, data, created, modified, version)
         VALUES (?, ?, ?, ?, ?, ?, 1)`,
      ),
      updateGroup: db.prepare<[string, string | null, string, string, string]>(
        `UPDATE dir_groups SET display_name = ?, external_id = ?, data = ?, modified = ?,
         version = version + 1 WHERE id = ?`,
      ),
      touchGroup: db.prepare<[string, string]>(
        'UPDATE dir_groups SET modified = ?, version = version + 1 WHERE id = ?',
      ),
      deleteGroup: db.prepare<[string]>('DELETE FROM dir_groups WHERE id = ?'),
      insertMember: db.prepare<[string, MemberType, string]>(
        'INSERT OR IGNORE INTO dir_members (group_id, member_type, member_id) VALUES (?, ?, ?)',
      ),
      deleteMember: db.prepare<[string, MemberType, string]>(
        'DELETE FROM dir_members WHERE group_id = ? AND member_type = ? AND member_id = ?',
      ),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Run `fn` in one IMMEDIATE transaction (a savepoint when already inside one). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---- reads -------------------------------------------------------------------------------

  /**
   * `instance:version`, changed by every committed change to users, groups or memberships, by
   * whomever made it (see migration 2). Undefined if the meta row was removed by hand: the engine
   * then reads in full rather than trust a token it cannot vouch for.
   */
  contentToken(): string | undefined {
    const row = this.s.contentVersion.get();
    return row ? `${row.instance}:${row.version}` : undefined;
  }

  counts(): { users: number; groups: number } {
    return { users: this.s.countUsers.get()?.n ?? 0, groups: this.s.countGroups.get()?.n ?? 0 };
  }

  /**
   * Every user, in creation order. Iterated to the end before returning, so the statement never
   * stays open across a caller's writes; row by row rather than `.all()` so each row's JSON text
   * can be collected young instead of 40 MB of it (at 100k users) surviving into the old
   * generation until the last row is parsed.
   */
  allUsers(): User[] {
    const out: User[] = [];
    for (const row of this.s.allUsers.raw().iterate() as IterableIterator<[string, string]>) {
      const user = JSON.parse(row[1]) as User;
      user.id = row[0];
      out.push(user);
    }
    return out;
  }

  /** Every group with its members; memberships come from one query, grouped in memory. */
  allGroups(): Group[] {
    // Both reads in one transaction so members and groups come from the same snapshot.
    return this.db.transaction(() => {
      const members = new Map<string, MemberRef[]>();
      for (const row of this.s.allMembers.raw().all() as [string, string][]) members.set(row[0], JSON.parse(row[1]) as MemberRef[]);
      const rows = this.s.allGroups.raw().all() as [string, string][];
      return rows.map((row) => {
        const group = JSON.parse(row[1]) as Group;
        group.id = row[0];
        group.members = members.get(row[0]) ?? [];
        return group;
      });
    })();
  }

  getUser(id: string): StoredUser | undefined {
    return this.toStoredUser(this.s.userById.raw().get(id) as UserRow | undefined);
  }

  /** userName comparison is case-insensitive, as SCIM specifies for userName. */
  findUserByUserName(userName: string): StoredUser | undefined {
    return this.toStoredUser(this.s.userByName.raw().get(userName) as UserRow | undefined);
  }

  findUsersByExternalId(externalId: string): StoredUser[] {
    return (this.s.usersByExternalId.raw().all(externalId) as UserRow[]).map((r) => this.toStoredUser(r)!);
  }

  getGroup(id: string): StoredGroup | undefined {
    return this.toStoredGroup(this.s.groupById.raw().get(id) as GroupRow | undefined);
  }

  findGroupByDisplayName(displayName: string): StoredGroup | undefined {
    return this.toStoredGroup(this.s.groupByName.raw().get(displayName) as GroupRow | undefined);
  }

  findGroupsByExternalId(externalId: string): StoredGroup[] {
    return (this.s.groupsByExternalId.raw().all(externalId) as GroupRow[]).map((r) => this.toStoredGroup(r)!);
  }

  private toStoredUser(row: UserRow | undefined): StoredUser | undefined {
    if (!row) return undefined;
    const user = { id: row[0], ...(JSON.parse(row[1]) as UserInput) };
    return { user, meta: { created: row[2], modified: row[3], version: row[4] } };
  }

  private toStoredGroup(row: GroupRow | undefined, withMembers = true): StoredGroup | undefined {
    if (!row) return undefined;
    const members = withMembers
      ? (this.s.groupMembers.raw().all(row[0]) as [MemberType, string][]).map(([type, value]): MemberRef => ({ type, value }))
      : [];
    const group: Group = { id: row[0], ...(JSON.parse(row[1]) as GroupInput), members };
    return { group, meta: { created: row[2], modified: row[3], version: row[4] } };
  }

  // ---- queries for the SCIM server -----------------------------------------------------------

  private readonly statements = new Map<string, Database.Statement>();
  /** totalResults by query, valid while the content token is unchanged. */
  private readonly totals = new Map<string, { token: string; total: number }>();
  /**
   * Where the page ending at a given offset stopped (its last rowid), so the next page of a
   * sequential listing starts with `rowid > ?` instead of stepping over `OFFSET` rows again.
   */
  private readonly cursors = new Map<string, { token: string; rowid: number }>();

  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      // Filters differ in shape, so the cache is bounded; a busy server sees few distinct shapes.
      if (this.statements.size >= 500) this.statements.clear();
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= 1000) map.clear();
    map.set(key, value);
  }

  /** The SQL of a listing, for EXPLAIN QUERY PLAN in tests. */
  explainQuery(kind: ResourceKind, filter: FilterNode | undefined): string[] {
    const where = filterToSql(kind, filter);
    const table = kind === 'user' ? 'dir_users u' : 'dir_groups g';
    return (this.db.prepare(`EXPLAIN QUERY PLAN SELECT 1 FROM ${table} WHERE ${where.sql}`).all(...where.params) as { detail: string }[]).map(
      (r) => r.detail,
    );
  }

  /**
   * One page of users or groups matching a filter, and how many match in all. Throws
   * FilterTranslationError (from query.ts) for a filter or sort the directory cannot run.
   */
  queryUsers(q: DirectoryQuery): { total: number; items: StoredUser[] } {
    const { total, rows } = this.query('user', q);
    return { total, items: rows.map((r) => this.toStoredUser(r as UserRow)!) };
  }

  queryGroups(q: DirectoryQuery & { members: boolean }): { total: number; items: StoredGroup[] } {
    const { total, rows } = this.query('group', q);
    return { total, items: rows.map((r) => this.toStoredGroup(r as GroupRow, q.members)!) };
  }

  private query(kind: ResourceKind, q: DirectoryQuery): { total: number; rows: unknown[][] } {
    const where = filterToSql(kind, q.filter);
    const alias = kind === 'user' ? 'u' : 'g';
    const table = kind === 'user' ? 'dir_users u' : 'dir_groups g';
    const order = q.sortBy !== undefined ? sortToSql(kind, q.sortBy) : undefined;
    // Both reads see one snapshot, so totalResults and the page agree.
    return this.db.transaction(() => {
      const token = this.contentToken() ?? '';
      const key = `${kind}\u0000${where.sql}\u0000${JSON.stringify(where.params)}`;
      let total = this.totals.get(key);
      if (total?.token !== token) {
        const n = (this.statement(`SELECT count(*) FROM ${table} WHERE ${where.sql}`).raw().get(...where.params) as [number])[0];
        total = { token, total: n };
        this.remember(this.totals, key, total);
      }
      if (q.limit <= 0 || q.offset >= total.total) return { total: total.total, rows: [] };
      const cols = `${alias}.id, ${alias}.data, ${alias}.created, ${alias}.modified, ${alias}.version, ${alias}.rowid`;
      let rows: unknown[][];
      if (order !== undefined) {
        const dir = q.descending ? 'DESC NULLS FIRST' : 'ASC NULLS LAST';
        rows = this.statement(`SELECT ${cols} FROM ${table} WHERE ${where.sql} ORDER BY ${order} ${dir}, ${alias}.rowid LIMIT ? OFFSET ?`)
          .raw()
          .all(...where.params, q.limit, q.offset) as unknown[][];
      } else {
        const cursor = q.offset > 0 ? this.cursors.get(`${key}\u0000${q.offset}`) : undefined;
        rows =
          cursor?.token === token
            ? (this.statement(`SELECT ${cols} FROM ${table} WHERE (${where.sql}) AND ${alias}.rowid > ? ORDER BY ${alias}.rowid LIMIT ?`)
                .raw()
                .all(...where.params, cursor.rowid, q.limit) as unknown[][])
            : (this.statement(`SELECT ${cols} FROM ${table} WHERE ${where.sql} ORDER BY ${alias}.rowid LIMIT ? OFFSET ?`)
                .raw()
                .all(...where.params, q.limit, q.offset) as unknown[][]);
        const last = rows[rows.length - 1];
        if (last) this.remember(this.cursors, `${key}\u0000${q.offset + rows.length}`, { token, rowid: last[5] as number });
      }
      return { total: total.total, rows };
    })();
  }

  /** The groups each of `userIds` is a direct member of (SCIM's read-only `groups` of a user). */
  groupsOfUsers(userIds: readonly string[]): Map<string, { value: string; display: string }[]> {
    const out = new Map<string, { value: string; display: string }[]>();
    if (userIds.length === 0) return out;
    const rows = this.statement(
      `SELECT m.member_id, g.id, g.display_name FROM dir_members m JOIN dir_groups g ON g.id = m.group_id
       WHERE m.member_type = 'User' AND m.member_id IN (SELECT value FROM json_each(?)) ORDER BY g.rowid`,
    )
      .raw()
      .all(JSON.stringify(userIds)) as [string, string, string][];
    for (const [user, value, display] of rows) {
      let list = out.get(user);
      if (!list) out.set(user, (list = []));
      list.push({ value, display });
    }
    return out;
  }

  /** A group with or without its members (a group of 100k members is not read to show its name). */
  getGroupWith(id: string, members: boolean): StoredGroup | undefined {
    return this.toStoredGroup(this.s.groupById.raw().get(id) as GroupRow | undefined, members);
  }

  /** Replaces every attribute of a user (SCIM PUT): what `input` leaves out is cleared. */
  replaceUser(id: string, input: UserInput): void {
    this.transaction(() => {
      const what = `replace user ${String(input.userName)} (id ${id})`;
      if (!this.s.userExists.get(id)) throw new RemoteError(what, 'no such user', 404);
      if (!nonEmpty(input.userName)) throw new RemoteError(what, 'userName is required', 400);
      const data = pickUser(input);
      if (typeof data.active !== 'boolean') data.active = true;
      this.writeUser(id, data, what);
    });
  }

  /** A group and its members in one transaction; every member must exist (400 otherwise). */
  createGroupWithMembers(input: GroupInput, members: readonly MemberRef[]): string {
    return this.transaction(() => {
      const id = this.createGroup(input);
      this.checkMembers(id, members, `create group ${input.displayName}`);
      for (const m of members) this.s.insertMember.run(id, m.type, m.value);
      return id;
    });
  }

  /**
   * Replaces a group's displayName and externalId and, when `members` is given, sets its members
   * to exactly that list (SCIM PUT, and PATCH results). One version bump for the whole change.
   */
  replaceGroup(id: string, input: GroupInput, members?: readonly MemberRef[]): void {
    this.transaction(() => {
      const what = `replace group ${String(input.displayName)} (id ${id})`;
      if (!this.s.groupExists.get(id)) throw new RemoteError(what, 'no such group', 404);
      if (!nonEmpty(input.displayName)) throw new RemoteError(what, 'displayName is required', 400);
      const data: Record<string, unknown> = { displayName: input.displayName };
      if (input.externalId !== undefined) data.externalId = input.externalId;
      try {
        this.s.updateGroup.run(input.displayName, input.externalId ?? null, JSON.stringify(data), new Date().toISOString(), id);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const existing = this.s.idByDisplayName.get(input.displayName)?.id;
        throw new RemoteError(what, `displayName ${input.displayName} already exists (id ${existing ?? 'unknown'})`, 409);
      }
      if (!members) return;
      const wanted = new Map(members.map((m) => [`${m.type}:${m.value}`, m]));
      const current = this.s.groupMembers.raw().all(id) as [MemberType, string][];
      for (const [type, value] of current) {
        if (!wanted.delete(`${type}:${value}`)) this.s.deleteMember.run(id, type, value);
      }
      const added = [...wanted.values()];
      this.checkMembers(id, added, what);
      for (const m of added) this.s.insertMember.run(id, m.type, m.value);
    });
  }

  /** Every member must exist and a group cannot contain itself: 400, since the request is at fault. */
  private checkMembers(groupId: string, members: readonly MemberRef[], what: string): void {
    for (const m of members) {
      if (m.type === 'Group' && m.value === groupId) throw new RemoteError(what, 'a group cannot contain itself', 400);
      const exists = m.type === 'User' ? this.s.userExists : m.type === 'Group' ? this.s.groupExists : undefined;
      if (!exists) throw new RemoteError(what, `unknown member type ${String(m.type)}`, 400);
      if (exists.get(m.value) === undefined) throw new RemoteError(what, `member ${m.value}: no such ${m.type.toLowerCase()}`, 400);
    }
  }

  // ---- writes ------------------------------------------------------------------------------

  createUser(input: UserInput): string {
    const what = `create user ${String(input.userName)}`;
    if (!nonEmpty(input.userName)) throw new RemoteError(what, 'userName is required', 400);
    const data = pickUser(input);
    // SCIM treats an absent `active` as active; storing it explicitly keeps the column honest.
    if (typeof data.active !== 'boolean') data.active = true;
    const id = randomUUID();
    const now = new Date().toISOString();
    try {
      this.s.insertUser.run(
        id,
        input.userName,
        (data.externalId as string | undefined) ?? null,
        data.active ? 1 : 0,
        JSON.stringify(data),
        now,
        now,
      );
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const existing = this.s.idByUserName.get(input.userName)?.id;
      throw new RemoteError(what, `userName already exists (id ${existing ?? 'unknown'})`, 409);
    }
    return id;
  }

  /** Write only the `changed` paths, each taken from `desired` (absent there = cleared). */
  updateUser(id: string, desired: UserInput, changed: readonly UserAttribute[]): void {
    this.transaction(() => {
      const row = this.s.userById.raw().get(id) as UserRow | undefined;
      if (!row) throw new RemoteError(`update user ${id}`, 'no such user', 404);
      const data = JSON.parse(row[1]) as Record<string, unknown>;
      const what = `update user ${String(data.userName)} (id ${id})`;
      for (const path of changed) setPath(data, path, getPath(desired, path));
      if (!nonEmpty(data.userName)) throw new RemoteError(what, 'userName is required', 400);
      if (typeof data.active !== 'boolean') data.active = true;
      this.writeUser(id, data, what);
    });
  }

  deactivateUser(id: string): void {
    this.transaction(() => {
      const row = this.s.userById.raw().get(id) as UserRow | undefined;
      if (!row) throw new RemoteError(`deactivate user ${id}`, 'no such user', 404);
      const data = JSON.parse(row[1]) as Record<string, unknown>;
      // Already inactive: nothing to write, and version/modified stay as they are.
      if (data.active === false) return;
      data.active = false;
      this.writeUser(id, data, `deactivate user ${String(data.userName)} (id ${id})`);
    });
  }

  private writeUser(id: string, data: Record<string, unknown>, what: string): void {
    const userName = data.userName as string;
    try {
      this.s.updateUser.run(
        userName,
        (data.externalId as string | undefined) ?? null,
        data.active ? 1 : 0,
        JSON.stringify(data),
        new Date().toISOString(),
        id,
      );
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const existing = this.s.idByUserName.get(userName)?.id;
      throw new RemoteError(what, `userName ${userName} already exists (id ${existing ?? 'unknown'})`, 409);
    }
  }

  deleteUser(id: string): void {
    // Memberships go with it (trigger dir_users_delete_members).
    if (this.s.deleteUser.run(id).changes === 0) throw new RemoteError(`delete user ${id}`, 'no such user', 404);
  }

  createGroup(input: GroupInput): string {
    const what = `create group ${String(input.displayName)}`;
    if (!nonEmpty(input.displayName)) throw new RemoteError(what, 'displayName is required', 400);
    const data: Record<string, unknown> = { displayName: input.displayName };
    if (input.externalId !== undefined) data.externalId = input.externalId;
    const id = randomUUID();
    const now = new Date().toISOString();
    try {
      this.s.insertGroup.run(id, input.displayName, input.externalId ?? null, JSON.stringify(data), now, now);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const existing = this.s.idByDisplayName.get(input.displayName)?.id;
      throw new RemoteError(what, `displayName already exists (id ${existing ?? 'unknown'})`, 409);
    }
    return id;
  }

  updateGroup(id: string, desired: GroupInput, changed: readonly ('displayName' | 'externalId')[]): void {
    this.transaction(() => {
      const row = this.s.groupById.raw().get(id) as GroupRow | undefined;
      if (!row) throw new RemoteError(`update group ${id}`, 'no such group', 404);
      const data = JSON.parse(row[1]) as Record<string, unknown>;
      const what = `update group ${String(data.displayName)} (id ${id})`;
      for (const path of changed) setPath(data, path, getPath(desired, path));
      if (!nonEmpty(data.displayName)) throw new RemoteError(what, 'displayName is required', 400);
      const displayName = data.displayName;
      try {
        this.s.updateGroup.run(
          displayName,
          (data.externalId as string | undefined) ?? null,
          JSON.stringify(data),
          new Date().toISOString(),
          id,
        );
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const existing = this.s.idByDisplayName.get(displayName)?.id;
        throw new RemoteError(what, `displayName ${displayName} already exists (id ${existing ?? 'unknown'})`, 409);
      }
    });
  }

  deleteGroup(id: string): void {
    // Its own memberships go by ON DELETE CASCADE, its membership in other groups by trigger.
    if (this.s.deleteGroup.run(id).changes === 0) throw new RemoteError(`delete group ${id}`, 'no such group', 404);
  }

  /** Idempotent: members already present are skipped. All or nothing: every member must exist. */
  addMembers(groupId: string, members: readonly MemberRef[]): void {
    this.transaction(() => {
      const group = this.requireGroup(groupId, 'add members to');
      for (const m of members) {
        const what = `add ${m.type} ${m.value} to group ${group}`;
        if (m.type === 'Group' && m.value === groupId) throw new RemoteError(what, 'a group cannot contain itself', 400);
        const exists = m.type === 'User' ? this.s.userExists : m.type === 'Group' ? this.s.groupExists : undefined;
        if (!exists) throw new RemoteError(what, `unknown member type ${String(m.type)}`, 400);
        if (exists.get(m.value) === undefined) throw new RemoteError(what, `no such ${m.type.toLowerCase()}`, 404);
      }
      let added = 0;
      for (const m of members) added += this.s.insertMember.run(groupId, m.type, m.value).changes;
      if (added > 0) this.s.touchGroup.run(new Date().toISOString(), groupId);
    });
  }

  /** Idempotent: removing a non-member is not an error. */
  removeMembers(groupId: string, members: readonly MemberRef[]): void {
    this.transaction(() => {
      this.requireGroup(groupId, 'remove members from');
      let removed = 0;
      for (const m of members) removed += this.s.deleteMember.run(groupId, m.type, m.value).changes;
      if (removed > 0) this.s.touchGroup.run(new Date().toISOString(), groupId);
    });
  }

  /** Returns a label for messages: the displayName and id. */
  private requireGroup(groupId: string, verb: string): string {
    const row = this.s.groupById.raw().get(groupId) as GroupRow | undefined;
    if (!row) throw new RemoteError(`${verb} group ${groupId}`, 'no such group', 404);
    const data = JSON.parse(row[1]) as { displayName?: string };
    return `${data.displayName ?? ''} (id ${groupId})`;
  }
}
