import type { UserAttribute } from '../../src/core/attributes.js';
import { describeMemberChange } from '../../src/core/describe.js';
import type { Created, DirectoryWriter } from '../../src/core/connector.js';
import { AlreadyExistsError, RemoteError } from '../../src/core/errors.js';
import type { GroupInput, MemberRef, UserInput } from '../../src/core/model.js';
import { redact } from '../../src/core/secrets.js';
import { describeScimError } from '../../src/scim/errors.js';
import { formatFilter } from '../../src/scim/filter.js';
import {
  addMembersBodies,
  applyPatchOperations,
  groupPatchOperations,
  patchBody,
  removeMembersBodies,
  userPatchOperations,
} from '../../src/scim/patch.js';
import type { MemberRemoveStyle, PatchOperation } from '../../src/scim/patch.js';
import { ENTERPRISE_USER_URN, parseListResponse, toScimGroup, toScimMember, toScimUser } from '../../src/scim/schemas.js';
import type { ScimClient, ScimResponse } from './client.js';
import { normalizeResource } from './profiles.js';

export interface WriterOptions {
  memberBatchSize: number;
  memberRemoveStyle: MemberRemoveStyle;
  /** How updates are sent; discovered from /ServiceProviderConfig once, on first use. */
  updateMethod: () => Promise<'patch' | 'put'>;
  /** Whether /ServiceProviderConfig advertises ETags: PUTs then carry `If-Match` with the version read. */
  etags?: () => Promise<boolean>;
  /** Look for an existing object (externalId, then userName/displayName) before each POST. */
  lookupBeforeCreate?: boolean;
  /** Profile alias written instead of the enterprise extension URN (ArkID: `enterprise_extension`). */
  enterpriseKey?: string;
}

/** What a lookup by filter found: one object (adoptable), several (ambiguous), or nothing. */
type Lookup =
  | { kind: 'one'; id: string; by: string; value: string; externalId?: string }
  | { kind: 'many'; by: string; value: string; ids: string[] }
  | { kind: 'none' };

type Endpoint = '/Users' | '/Groups';

const resourcePath = (endpoint: Endpoint, id: string) => `${endpoint}/${encodeURIComponent(id)}`;

/** The new resource's id: from the body, else from the `Location` header's last segment. */
function createdId(res: ScimResponse, object: string): string {
  const body = res.body;
  const id = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).id : undefined;
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'number') return String(id);
  const location = res.headers.location;
  const loc = Array.isArray(location) ? location[0] : location;
  const last = loc?.replace(/\/+$/, '').split('/').pop();
  if (last) return decodeURIComponent(last);
  throw new RemoteError(object, `${res.status}: the server answered without the new resource's id`, res.status);
}

function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function createWriter(client: ScimClient, opts: WriterOptions): DirectoryWriter {
  const enterpriseKey = opts.enterpriseKey;
  const noun = (endpoint: Endpoint) => (endpoint === '/Users' ? 'user' : 'group');

  /** A body as this server wants it: the enterprise extension under the profile's key (ArkID). */
  const outgoing = (body: Record<string, unknown>): Record<string, unknown> => {
    if (enterpriseKey === undefined || !(ENTERPRISE_USER_URN in body)) return body;
    const { [ENTERPRISE_USER_URN]: ext, ...rest } = body;
    return { ...rest, [enterpriseKey]: ext };
  };
  /** PATCH paths likewise: `urn:…:enterprise:2.0:User:department` → `enterprise_extension.department`. */
  const outgoingOps = (ops: PatchOperation[]): PatchOperation[] => {
    if (enterpriseKey === undefined) return ops;
    const prefix = `${ENTERPRISE_USER_URN}:`;
    return ops.map((op) =>
      op.path?.startsWith(prefix) ? { ...op, path: `${enterpriseKey}.${op.path.slice(prefix.length)}` } : op.path === ENTERPRISE_USER_URN ? { ...op, path: enterpriseKey } : op,
    );
  };

  /**
   * Resources whose `attr` equals `value` (at most two asked: one is adoptable, two are not).
   * `undefined` when the server refuses to filter on that attribute (400): not an answer.
   */
  async function findBy(endpoint: Endpoint, attr: string, value: string): Promise<Record<string, unknown>[] | undefined> {
    const filter = formatFilter({ type: 'compare', op: 'eq', path: { name: attr }, value });
    const res = await client.request('GET', endpoint, { object: `find ${noun(endpoint)} by ${attr} ${JSON.stringify(value)}`, query: { filter, count: 2 }, accept: [400] });
    if (res.status === 400) return undefined;
    // A resource without an id cannot be adopted or named; a server sending one is ignored for it.
    return parseListResponse(res.body).resources.filter((r): r is Record<string, unknown> => isJsonObject(r) && (typeof r.id === 'string' || typeof r.id === 'number') && r.id !== '');
  }

  /** The existing object a create would collide with: by externalId (the anchor) first, then the unique name. */
  async function lookup(endpoint: Endpoint, keys: { attr: string; value: string | undefined }[]): Promise<Lookup> {
    for (const { attr, value } of keys) {
      if (value === undefined || value === '') continue;
      const found = await findBy(endpoint, attr, value);
      if (found === undefined || found.length === 0) continue;
      const ids = found.map((r) => String(r.id));
      if (found.length > 1) return { kind: 'many', by: attr, value, ids };
      const theirs = found[0]!.externalId;
      return { kind: 'one', id: ids[0]!, by: attr, value, ...(typeof theirs === 'string' && theirs !== '' ? { externalId: theirs } : {}) };
    }
    return { kind: 'none' };
  }

  /** The error for an object that already exists; the applier adopts it or not (job match settings). */
  function existsError(endpoint: Endpoint, object: string, detail: string, found: Lookup, status: number | undefined): Error {
    if (found.kind === 'many') {
      return new RemoteError(object, `${detail}; several ${noun(endpoint)}s have ${found.by} ${JSON.stringify(found.value)} (${found.ids.join(', ')}): not adopted`, status);
    }
    if (found.kind === 'none') return new AlreadyExistsError(object, detail, undefined, status);
    const existing = { id: found.id, by: found.by, ...(found.externalId !== undefined ? { externalId: found.externalId } : {}) };
    return new AlreadyExistsError(object, `${detail}; existing ${noun(endpoint)} ${found.id} has ${found.by} ${JSON.stringify(found.value)}`, existing, status);
  }

  async function create(endpoint: Endpoint, body: Record<string, unknown>, object: string, unique: { attr: string; value: string }, externalId: string | undefined): Promise<Created> {
    const candidates = [
      { attr: 'externalId', value: externalId },
      { attr: unique.attr, value: unique.value },
    ];
    if (opts.lookupBeforeCreate) {
      // Errors other than "cannot filter on this" fail the create: creating blind could duplicate.
      const found = await lookup(endpoint, candidates);
      if (found.kind !== 'none') throw existsError(endpoint, object, 'found before creating', found, undefined);
    }
    const res = await client.request('POST', endpoint, { object, body: outgoing(body), accept: [409] });
    if (res.status !== 409) return { id: createdId(res, object) };
    const detail = redact(describeScimError(res.body, 409));
    let found: Lookup;
    try {
      found = await lookup(endpoint, candidates);
    } catch (err) {
      // The lookup only explains the 409; its own failure must not hide the server's answer.
      throw new RemoteError(object, `${detail}; looking up the existing ${noun(endpoint)} failed: ${err instanceof Error ? err.message : String(err)}`, 409);
    }
    throw existsError(endpoint, object, detail, found, 409);
  }

  async function fetchResource(endpoint: Endpoint, id: string, object: string): Promise<{ body: Record<string, unknown>; version: string | undefined }> {
    const res = await client.request('GET', resourcePath(endpoint, id), { object });
    if (!isJsonObject(res.body)) throw new RemoteError(object, `${res.status}: the server answered without the resource`, res.status);
    const etag = Array.isArray(res.headers.etag) ? res.headers.etag[0] : res.headers.etag;
    const meta = res.body.meta;
    const metaVersion = isJsonObject(meta) && typeof meta.version === 'string' ? meta.version : undefined;
    // Read with the profile's aliases renamed to the RFC names, so local PATCH paths apply.
    const body = normalizeResource(res.body, { enterpriseKey }) as Record<string, unknown>;
    return { body, version: etag ?? metaVersion };
  }

  /**
   * GET + PUT of a whole resource. With ETags advertised the PUT carries `If-Match`: a concurrent
   * change then answers 412 instead of being overwritten, and the resource is read again and the
   * change re-applied, once; a second 412 fails the object (someone keeps writing it).
   */
  async function put(endpoint: Endpoint, id: string, object: string, change: (current: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const path = resourcePath(endpoint, id);
    const versioned = (await opts.etags?.()) ?? false;
    for (let attempt = 1; ; attempt++) {
      const { body: current, version } = await fetchResource(endpoint, id, object);
      // meta is read-only and some servers refuse a PUT that carries it.
      const { meta: _meta, ...rest } = change(current);
      const headers = versioned && version !== undefined ? { 'if-match': version } : undefined;
      const res = await client.request('PUT', path, { object, body: outgoing(rest), ...(headers ? { headers, accept: [412] } : {}) });
      if (res.status !== 412) return;
      if (attempt >= 2) throw new RemoteError(object, `${redact(describeScimError(res.body, 412))}; the resource changed again after it was re-read`, 412);
    }
  }

  /** PATCH, or GET + PUT of the whole resource with the same operations applied locally. */
  async function modify(endpoint: Endpoint, id: string, ops: PatchOperation[], object: string): Promise<void> {
    if (ops.length === 0) return;
    if ((await opts.updateMethod()) === 'patch') {
      await client.request('PATCH', resourcePath(endpoint, id), { object, body: patchBody(outgoingOps(ops)) });
      return;
    }
    await put(endpoint, id, object, (current) => applyPatchOperations(current, ops));
  }

  /** Member changes without PATCH: read the group, change its member list, PUT it back. */
  async function putMembers(groupId: string, object: string, change: (members: Record<string, unknown>[]) => Record<string, unknown>[]): Promise<void> {
    await put('/Groups', groupId, object, (current) => {
      const members = Array.isArray(current.members) ? current.members.filter(isJsonObject) : [];
      return { ...current, members: change(members) };
    });
  }

  async function changeMembers(verb: 'add' | 'remove', groupId: string, members: readonly MemberRef[]): Promise<void> {
    const object = describeMemberChange(verb, groupId, members);
    if (members.length === 0) {
      // Nothing to send, but a call on a missing group must still fail like any other.
      await client.request('GET', resourcePath('/Groups', groupId), { object, query: { attributes: 'id' } });
      return;
    }
    if ((await opts.updateMethod()) === 'put') {
      const keys = new Set(members.map((m) => m.value));
      await putMembers(groupId, object, (current) => {
        const kept = current.filter((m) => !keys.has(String(m.value)));
        return verb === 'add' ? [...kept, ...members.map(toScimMember)] : kept;
      });
      return;
    }
    const bodies =
      verb === 'add' ? addMembersBodies(members, opts.memberBatchSize) : removeMembersBodies(members, opts.memberBatchSize, opts.memberRemoveStyle);
    // Batches in order, one at a time: a refusal then names the batch it concerns, and the target
    // is not flooded with concurrent writes to one group (servers serialise them anyway).
    for (let b = 0; b < bodies.length; b++) {
      const batch = members.slice(b * opts.memberBatchSize, (b + 1) * opts.memberBatchSize);
      await client.request('PATCH', resourcePath('/Groups', groupId), { object: describeMemberChange(verb, groupId, batch), body: bodies[b] });
    }
  }

  return {
    createUser: (user: UserInput) =>
      create('/Users', toScimUser(user), `create user ${user.userName}`, { attr: 'userName', value: user.userName }, user.externalId),
    updateUser: (id: string, desired: UserInput, changed: readonly UserAttribute[]) =>
      modify('/Users', id, userPatchOperations(desired, changed), `update user ${id}`),
    deactivateUser: (id: string) => modify('/Users', id, [{ op: 'replace', path: 'active', value: false }], `deactivate user ${id}`),
    // A 404 stays an error (RemoteError, status 404), as the connector contract requires of every
    // connector; whether "already gone" counts as done is decided in one place, above connectors.
    deleteUser: async (id: string) => {
      await client.request('DELETE', resourcePath('/Users', id), { object: `delete user ${id}` });
    },
    createGroup: (group: GroupInput) =>
      create('/Groups', toScimGroup(group), `create group ${group.displayName}`, { attr: 'displayName', value: group.displayName }, group.externalId),
    updateGroup: (id: string, desired: GroupInput, changed: readonly ('displayName' | 'externalId')[]) =>
      modify('/Groups', id, groupPatchOperations(desired, changed), `update group ${id}`),
    deleteGroup: async (id: string) => {
      await client.request('DELETE', resourcePath('/Groups', id), { object: `delete group ${id}` });
    },
    addMembers: (groupId: string, members: readonly MemberRef[]) => changeMembers('add', groupId, members),
    removeMembers: (groupId: string, members: readonly MemberRef[]) => changeMembers('remove', groupId, members),
  };
}
