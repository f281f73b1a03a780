import { DirectoryStore, FilterTranslationError, SortTranslationError } from '../../connectors/embedded/index.js';
import type { ObjectMeta, StoredGroup, StoredUser } from '../../connectors/embedded/index.js';
import type { GroupInput, MemberRef, UserInput } from '../core/model.js';
import { checkIfMatch, type Backend, type GroupChange, type ListRequest, type Page, type ServedGroup, type ServedUser } from './backend.js';
import { badRequest, notFound } from './errors.js';

/**
 * The embedded directory behind the server. Every request is one synchronous SQLite call or
 * transaction: a read-check-write (If-Match, PATCH) cannot interleave with another request, and
 * IMMEDIATE transactions keep it atomic against other processes sharing the file (a sync run).
 */

function served(meta: ObjectMeta): ServedUser['meta'] {
  return { created: meta.created, lastModified: meta.modified, version: String(meta.version) };
}

const toUser = (s: StoredUser): ServedUser => ({ user: s.user, meta: served(s.meta) });
const toGroup = (s: StoredGroup): ServedGroup => ({ group: s.group, meta: served(s.meta) });

function translateQueryError(err: unknown): never {
  if (err instanceof SortTranslationError) throw badRequest('invalidValue', err.message);
  if (err instanceof FilterTranslationError) throw badRequest('invalidFilter', err.message);
  throw err;
}

export class EmbeddedBackend implements Backend {
  readonly description: string;

  constructor(
    private readonly store: DirectoryStore,
    readonly writable: boolean,
    path: string,
  ) {
    this.description = `embedded directory in ${path}`;
  }

  static open(statePath: string, writable: boolean): EmbeddedBackend {
    return new EmbeddedBackend(new DirectoryStore(statePath), writable, statePath);
  }

  private withGroups(users: ServedUser[]): ServedUser[] {
    const map = this.store.groupsOfUsers(users.map((u) => u.user.id));
    for (const u of users) u.groups = map.get(u.user.id) ?? [];
    return users;
  }

  async listUsers(q: ListRequest): Promise<Page<ServedUser>> {
    try {
      const page = this.store.queryUsers(q);
      const items = page.items.map(toUser);
      return { total: page.total, items: q.groups ? this.withGroups(items) : items };
    } catch (err) {
      return translateQueryError(err);
    }
  }

  async getUser(id: string, groups: boolean): Promise<ServedUser | undefined> {
    const s = this.store.getUser(id);
    if (!s) return undefined;
    const u = toUser(s);
    return groups ? this.withGroups([u])[0] : u;
  }

  async createUser(input: UserInput): Promise<string> {
    return this.store.createUser(input);
  }

  async updateUser(id: string, ifMatch: string | undefined, change: (current: ServedUser) => UserInput): Promise<void> {
    this.store.transaction(() => {
      const s = this.store.getUser(id);
      if (!s) throw notFound(`no user with id ${id}`);
      checkIfMatch(ifMatch, String(s.meta.version), `user ${id}`);
      this.store.replaceUser(id, change(this.withGroups([toUser(s)])[0]!));
    });
  }

  async deleteUser(id: string, ifMatch: string | undefined): Promise<void> {
    this.store.transaction(() => {
      const s = this.store.getUser(id);
      if (!s) throw notFound(`no user with id ${id}`);
      checkIfMatch(ifMatch, String(s.meta.version), `user ${id}`);
      this.store.deleteUser(id);
    });
  }

  async listGroups(q: ListRequest): Promise<Page<ServedGroup>> {
    try {
      const page = this.store.queryGroups(q);
      return { total: page.total, items: page.items.map(toGroup) };
    } catch (err) {
      return translateQueryError(err);
    }
  }

  async getGroup(id: string, members: boolean): Promise<ServedGroup | undefined> {
    const s = this.store.getGroupWith(id, members);
    return s ? toGroup(s) : undefined;
  }

  async createGroup(input: GroupInput, members: MemberRef[]): Promise<string> {
    return this.store.createGroupWithMembers(input, members);
  }

  async updateGroup(id: string, ifMatch: string | undefined, change: (current: ServedGroup) => GroupChange): Promise<void> {
    this.store.transaction(() => {
      const s = this.store.getGroupWith(id, true);
      if (!s) throw notFound(`no group with id ${id}`);
      checkIfMatch(ifMatch, String(s.meta.version), `group ${id}`);
      const next = change(toGroup(s));
      this.store.replaceGroup(id, next.input, next.members);
    });
  }

  async deleteGroup(id: string, ifMatch: string | undefined): Promise<void> {
    this.store.transaction(() => {
      const s = this.store.getGroupWith(id, false);
      if (!s) throw notFound(`no group with id ${id}`);
      checkIfMatch(ifMatch, String(s.meta.version), `group ${id}`);
      this.store.deleteGroup(id);
    });
  }

  async close(): Promise<void> {
    this.store.close();
  }
}
