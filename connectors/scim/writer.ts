import type { UserAttribute } from '../../src/core/attributes.js';
import type { Created, DirectoryWriter } from '../../src/core/connector.js';
import { RemoteError } from '../../src/core/errors.js';
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
import { parseListResponse, toScimGroup, toScimMember, toScimUser } from '../../src/scim/schemas.js';
import type { ScimClient, ScimResponse } from './client.js';

export interface WriterOptions {
  memberBatchSize: number;
  memberRemoveStyle: MemberRemoveStyle;
  /** How updates are sent; discovered from /ServiceProviderConfig once, on first use. */
  updateMethod: () => Promise<'patch' | 'put'>;
}

type Endpoint = '/Users' | '/Groups';

const resourcePath = (endpoint: Endpoint, id: string) => `${endpoint}/${encodeURIComponent(id)}`;

/** Member ids quoted in error messages, so a refusal names the member it is about. */
const MAX_NAMED_MEMBERS = 5;

function describeMembers(verb: 'add' | 'remove', groupId: string, members: readonly MemberRef[]): string {
  const named = members.slice(0, MAX_NAMED_MEMBERS).map((m) => `${m.type}:${m.value}`);
  const more = members.length > MAX_NAMED_MEMBERS ? `, … ${members.length - MAX_NAMED_MEMBERS} more` : '';
  const list = members.length ? ` (${named.join(', ')}${more})` : '';
  return `${verb} ${members.length} member${members.length === 1 ? '' : 's'} ${verb === 'add' ? 'to' : 'from'} group ${groupId}${list}`;
}

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
  /** The id of the resource whose `attr` equals `value`, when the server can filter on it. */
  async function findId(endpoint: Endpoint, attr: string, value: string): Promise<string | undefined> {
    const filter = formatFilter({ type: 'compare', op: 'eq', path: { name: attr }, value });
    try {
      const res = await client.request('GET', endpoint, { object: `find ${attr} ${value}`, query: { filter, count: 2 } });
      const first = parseListResponse(res.body).resources[0];
      const id = isJsonObject(first) ? first.id : undefined;
      return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
    } catch {
      // The lookup only enriches the 409 message; a server that cannot filter must not hide it.
      return undefined;
    }
  }

  async function create(endpoint: Endpoint, body: Record<string, unknown>, object: string, unique: { attr: string; value: string }): Promise<Created> {
    const res = await client.request('POST', endpoint, { object, body, accept: [409] });
    if (res.status !== 409) return { id: createdId(res, object) };
    const detail = redact(describeScimError(res.body, 409));
    const existing = await findId(endpoint, unique.attr, unique.value);
    // Adopting the existing object is the planner's decision (match settings); say which one it is.
    const hint = existing !== undefined ? `; existing ${endpoint === '/Users' ? 'user' : 'group'} ${existing} has ${unique.attr} ${JSON.stringify(unique.value)}` : '';
    throw new RemoteError(object, `${detail}${hint}`, 409);
  }

  async function fetchResource(endpoint: Endpoint, id: string, object: string): Promise<Record<string, unknown>> {
    const res = await client.request('GET', resourcePath(endpoint, id), { object });
    if (!isJsonObject(res.body)) throw new RemoteError(object, `${res.status}: the server answered without the resource`, res.status);
    return res.body;
  }

  /** PATCH, or GET + PUT of the whole resource with the same operations applied locally. */
  async function modify(endpoint: Endpoint, id: string, ops: PatchOperation[], object: string): Promise<void> {
    if (ops.length === 0) return;
    const path = resourcePath(endpoint, id);
    if ((await opts.updateMethod()) === 'patch') {
      await client.request('PATCH', path, { object, body: patchBody(ops) });
      return;
    }
    const current = await fetchResource(endpoint, id, object);
    // meta is read-only and some servers refuse a PUT that carries it.
    const { meta: _meta, ...rest } = applyPatchOperations(current, ops);
    await client.request('PUT', path, { object, body: rest });
  }

  /** Member changes without PATCH: read the group, change its member list, PUT it back. */
  async function putMembers(groupId: string, object: string, change: (members: Record<string, unknown>[]) => Record<string, unknown>[]): Promise<void> {
    const current = await fetchResource('/Groups', groupId, object);
    const members = Array.isArray(current.members) ? current.members.filter(isJsonObject) : [];
    const { meta: _meta, ...rest } = current;
    await client.request('PUT', resourcePath('/Groups', groupId), { object, body: { ...rest, members: change(members) } });
  }

  async function changeMembers(verb: 'add' | 'remove', groupId: string, members: readonly MemberRef[]): Promise<void> {
    const object = describeMembers(verb, groupId, members);
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
      await client.request('PATCH', resourcePath('/Groups', groupId), { object: describeMembers(verb, groupId, batch), body: bodies[b] });
    }
  }

  return {
    createUser: (user: UserInput) => create('/Users', toScimUser(user), `create user ${user.userName}`, { attr: 'userName', value: user.userName }),
    updateUser: (id: string, desired: UserInput, changed: readonly UserAttribute[]) =>
      modify('/Users', id, userPatchOperations(desired, changed), `update user ${id}`),
    deactivateUser: (id: string) => modify('/Users', id, [{ op: 'replace', path: 'active', value: false }], `deactivate user ${id}`),
    // A 404 stays an error (RemoteError, status 404), as the connector contract requires of every
    // connector; whether "already gone" counts as done is decided in one place, above connectors.
    deleteUser: async (id: string) => {
      await client.request('DELETE', resourcePath('/Users', id), { object: `delete user ${id}` });
    },
    createGroup: (group: GroupInput) =>
      create('/Groups', toScimGroup(group), `create group ${group.displayName}`, { attr: 'displayName', value: group.displayName }),
    updateGroup: (id: string, desired: GroupInput, changed: readonly ('displayName' | 'externalId')[]) =>
      modify('/Groups', id, groupPatchOperations(desired, changed), `update group ${id}`),
    deleteGroup: async (id: string) => {
      await client.request('DELETE', resourcePath('/Groups', id), { object: `delete group ${id}` });
    },
    addMembers: (groupId: string, members: readonly MemberRef[]) => changeMembers('add', groupId, members),
    removeMembers: (groupId: string, members: readonly MemberRef[]) => changeMembers('remove', groupId, members),
  };
}
