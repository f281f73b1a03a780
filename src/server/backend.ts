import type { Group, GroupInput, MemberRef, User, UserInput } from '../core/model.js';
import type { FilterNode } from '../scim/filter.js';
import { ScimHttpError } from './errors.js';

/**
 * What the HTTP layer needs from a directory. The embedded directory implements all of it; any
 * other readable connector is served read-only (`writable: false`, the write methods refuse).
 */

export interface ServedMeta {
  created?: string;
  lastModified?: string;
  /** Opaque; changes with every change of the resource. The ETag is W/"version". */
  version: string;
}

export interface ServedUser {
  user: User;
  meta: ServedMeta;
  /** Direct group memberships, when asked for. */
  groups?: { value: string; display: string }[];
}

export interface ServedGroup {
  group: Group;
  meta: ServedMeta;
}

export interface ListRequest {
  filter?: FilterNode;
  sortBy?: string;
  descending: boolean;
  /** 0-based. */
  offset: number;
  limit: number;
  /** Load group members / users' groups (false when the response leaves them out anyway). */
  members: boolean;
  groups: boolean;
}

export interface Page<T> {
  total: number;
  items: T[];
}

export interface GroupChange {
  input: GroupInput;
  /** The complete new member list; undefined leaves members as they are. */
  members?: MemberRef[];
}

export interface Backend {
  readonly writable: boolean;
  /** For the start-up line, e.g. `embedded directory in ./state.db`. */
  readonly description: string;
  listUsers(q: ListRequest): Promise<Page<ServedUser>>;
  getUser(id: string, groups: boolean): Promise<ServedUser | undefined>;
  createUser(input: UserInput): Promise<string>;
  /** Read, check `ifMatch`, compute the change and write it as one atomic step. */
  updateUser(id: string, ifMatch: string | undefined, change: (current: ServedUser) => UserInput): Promise<void>;
  deleteUser(id: string, ifMatch: string | undefined): Promise<void>;
  listGroups(q: ListRequest): Promise<Page<ServedGroup>>;
  getGroup(id: string, members: boolean): Promise<ServedGroup | undefined>;
  createGroup(input: GroupInput, members: MemberRef[]): Promise<string>;
  updateGroup(id: string, ifMatch: string | undefined, change: (current: ServedGroup) => GroupChange): Promise<void>;
  deleteGroup(id: string, ifMatch: string | undefined): Promise<void>;
  close(): Promise<void>;
}

export function etag(version: string): string {
  return `W/"${version}"`;
}

/** RFC 7232 list of entity tags (or `*`), compared weakly: only the opaque part counts. */
export function etagMatches(header: string, version: string): boolean {
  const tags = header.split(',').map((t) => t.trim());
  return tags.some((t) => t === '*' || t.replace(/^W\//, '').replace(/^"|"$/g, '') === version);
}

/** 412 when an If-Match header does not name the current version. */
export function checkIfMatch(ifMatch: string | undefined, version: string, what: string): void {
  if (ifMatch !== undefined && !etagMatches(ifMatch, version)) {
    throw new ScimHttpError(412, `${what} has changed: its version is ${etag(version)}, not ${ifMatch}`);
  }
}
