import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/attributes.js';
import type { Connector } from '../core/connector.js';
import { errorMessage } from '../core/errors.js';
import type { Group, User } from '../core/model.js';
import { defaultResolver, matchesFilter } from '../scim/filter-eval.js';
import { toScimGroup, toScimUser, type ScimJson } from '../scim/schemas.js';
import type { Backend, GroupChange, ListRequest, Page, ServedGroup, ServedUser } from './backend.js';
import { ScimHttpError } from './errors.js';

/**
 * Any readable connector served read-only. Its listings are read whole (complete or the request
 * fails with 503: never a partial answer) and kept for `ttlMs`, so a client paging through does
 * not make the connector re-read for every page. Filters and sorting run in memory with
 * src/scim's evaluator; ETags are content hashes, since connectors report no versions.
 */

const CASE_EXACT = new Set(['id', 'externalid', 'members.value', 'groups.value', 'manager.value']);
const caseExact = (p: string) => CASE_EXACT.has(p.replace(/^urn:.*:/i, '').toLowerCase());

function version(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url').slice(0, 16);
}

interface Snapshot {
  at: number;
  users: { served: ServedUser; json: ScimJson }[];
  groups: { served: ServedGroup; json: ScimJson }[];
  usersById: Map<string, ServedUser>;
  groupsById: Map<string, ServedGroup>;
}

function readOnly(): never {
  throw new ScimHttpError(501, 'this server serves its directory read-only');
}

function compareBy(path: string, descending: boolean) {
  const key = (json: ScimJson): string | undefined => {
    const v = defaultResolver(path, json);
    const first = Array.isArray(v) ? v[0] : v;
    const scalar = first !== null && typeof first === 'object' ? (first as Record<string, unknown>).value : first;
    return scalar === undefined || scalar === null ? undefined : String(scalar).toLowerCase();
  };
  return (a: { json: ScimJson }, b: { json: ScimJson }) => {
    const x = key(a.json);
    const y = key(b.json);
    // Missing values last when ascending (first when descending), like the embedded directory.
    if (x === y) return 0;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return (x < y ? -1 : 1) * (descending ? -1 : 1);
  };
}

export class ConnectorBackend implements Backend {
  readonly writable = false;
  private snapshot?: Snapshot;
  private loading?: Promise<Snapshot>;

  constructor(
    private readonly connector: Connector,
    readonly description: string,
    private readonly ttlMs = 30_000,
  ) {}

  private async load(): Promise<Snapshot> {
    const reader = this.connector.reader!;
    const users: User[] = [];
    const groups: Group[] = [];
    try {
      for await (const u of reader.listUsers()) users.push(u);
      for await (const g of reader.listGroups()) groups.push(g);
    } catch (err) {
      throw new ScimHttpError(503, `the directory could not be read: ${errorMessage(err)}`, undefined, { 'Retry-After': '10' });
    }
    const memberOf = new Map<string, { value: string; display: string }[]>();
    for (const g of groups) {
      for (const m of g.members) {
        if (m.type !== 'User') continue;
        let list = memberOf.get(m.value);
        if (!list) memberOf.set(m.value, (list = []));
        list.push({ value: g.id, display: g.displayName });
      }
    }
    const servedUsers = users.map((raw) => {
      // Only canonical attributes are served (a connector's raw source fields stay private).
      const { raw: _raw, ...user } = raw as User & { raw?: unknown };
      const served: ServedUser = { user, meta: { version: version(user) }, groups: memberOf.get(user.id) ?? [] };
      return { served, json: { ...toScimUser(user, user.id), groups: served.groups } };
    });
    const servedGroups = groups.map((raw) => {
      const { raw: _raw, ...group } = raw as Group & { raw?: unknown };
      const served: ServedGroup = { group, meta: { version: version(group) } };
      return { served, json: toScimGroup(group, group.id, group.members) };
    });
    return {
      at: Date.now(),
      users: servedUsers,
      groups: servedGroups,
      usersById: new Map(servedUsers.map((u) => [u.served.user.id, u.served])),
      groupsById: new Map(servedGroups.map((g) => [g.served.group.id, g.served])),
    };
  }

  private async current(): Promise<Snapshot> {
    if (this.snapshot && Date.now() - this.snapshot.at < this.ttlMs) return this.snapshot;
    // One read at a time; concurrent requests wait for the same one.
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    this.snapshot = await this.loading;
    return this.snapshot;
  }

  private page<T>(items: { served: T; json: ScimJson }[], q: ListRequest): Page<T> {
    let matched = q.filter ? items.filter((i) => matchesFilter(q.filter!, i.json, defaultResolver, { caseExact })) : items;
    if (q.sortBy !== undefined) matched = [...matched].sort(compareBy(q.sortBy, q.descending));
    return { total: matched.length, items: matched.slice(q.offset, q.offset + Math.max(0, q.limit)).map((i) => i.served) };
  }

  async listUsers(q: ListRequest): Promise<Page<ServedUser>> {
    return this.page((await this.current()).users, q);
  }

  async getUser(id: string): Promise<ServedUser | undefined> {
    return (await this.current()).usersById.get(id);
  }

  async listGroups(q: ListRequest): Promise<Page<ServedGroup>> {
    return this.page((await this.current()).groups, q);
  }

  async getGroup(id: string): Promise<ServedGroup | undefined> {
    return (await this.current()).groupsById.get(id);
  }

  createUser(): Promise<string> {
    return readOnly();
  }
  updateUser(_id: string, _ifMatch: string | undefined, _change: (current: ServedUser) => unknown): Promise<void> {
    return readOnly();
  }
  deleteUser(): Promise<void> {
    return readOnly();
  }
  createGroup(): Promise<string> {
    return readOnly();
  }
  updateGroup(_id: string, _ifMatch: string | undefined, _change: (current: ServedGroup) => GroupChange): Promise<void> {
    return readOnly();
  }
  deleteGroup(): Promise<void> {
    return readOnly();
  }

  async close(): Promise<void> {
    await this.connector.close();
  }
}
