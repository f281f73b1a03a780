import type { GroupInput, MemberRef, UserInput } from '../core/model.js';
import { fromScimGroup, fromScimUser, ScimFormatError, toScimGroup, toScimUser, type ScimJson } from '../scim/schemas.js';
import type { ServedGroup, ServedMeta, ServedUser } from './backend.js';
import { badRequest } from './errors.js';

/** Stored objects as SCIM resources with `meta`, and request bodies as canonical inputs. */

export function isObject(v: unknown): v is ScimJson {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function meta(resourceType: string, location: string, m: ServedMeta): ScimJson {
  const out: ScimJson = { resourceType };
  if (m.created !== undefined) out.created = m.created;
  if (m.lastModified !== undefined) out.lastModified = m.lastModified;
  out.location = location;
  out.version = `W/"${m.version}"`;
  return out;
}

export const userLocation = (base: string, id: string) => `${base}/Users/${encodeURIComponent(id)}`;
export const groupLocation = (base: string, id: string) => `${base}/Groups/${encodeURIComponent(id)}`;

/** The resource without `meta` and `groups`: what PATCH works on. */
export function userJson(s: ServedUser): ScimJson {
  return toScimUser(s.user, s.user.id);
}

export function renderUser(s: ServedUser, base: string): ScimJson {
  const out = userJson(s);
  if (s.groups) {
    out.groups = s.groups.map((g) => ({ value: g.value, $ref: groupLocation(base, g.value), display: g.display, type: 'direct' }));
  }
  out.meta = meta('User', userLocation(base, s.user.id), s.meta);
  return out;
}

export function groupJson(s: ServedGroup, withMembers: boolean): ScimJson {
  return toScimGroup(s.group, s.group.id, withMembers ? s.group.members : undefined);
}

export function renderGroup(s: ServedGroup, base: string, withMembers: boolean): ScimJson {
  const out = groupJson(s, withMembers);
  if (withMembers) {
    out.members = s.group.members.map((m) => ({
      value: m.value,
      $ref: m.type === 'User' ? userLocation(base, m.value) : groupLocation(base, m.value),
      type: m.type,
    }));
  }
  out.meta = meta('Group', groupLocation(base, s.group.id), s.meta);
  return out;
}

function requireObject(body: unknown): ScimJson {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  const schemas = body.schemas;
  if (schemas !== undefined && (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string'))) {
    throw badRequest('invalidSyntax', '"schemas" must be a list of schema URNs');
  }
  return body;
}

/**
 * A User from a POST/PUT body. Read-only attributes (`id`, `meta`, `groups`) and attributes this
 * server does not store are ignored (RFC 7644 §3.5.1); wrongly typed ones are 400 invalidValue.
 */
export function parseUserInput(body: unknown): UserInput {
  const json = requireObject(body);
  try {
    const { id: _ignored, ...user } = fromScimUser({ ...json, id: 'new' });
    return user;
  } catch (err) {
    if (err instanceof ScimFormatError) throw badRequest('invalidValue', err.message.replace('user resource new', 'user'));
    throw err;
  }
}

/** A Group from a POST/PUT body; `members` undefined when the body has no `members` attribute. */
export function parseGroupInput(body: unknown): { input: GroupInput; members: MemberRef[] | undefined } {
  const json = requireObject(body);
  try {
    const { displayName, externalId, members } = fromScimGroup({ ...json, id: 'new' });
    const input: GroupInput = { displayName, ...(externalId !== undefined ? { externalId } : {}) };
    const hasMembers = Object.keys(json).some((k) => k.toLowerCase() === 'members');
    return { input, members: hasMembers ? members : undefined };
  } catch (err) {
    if (err instanceof ScimFormatError) throw badRequest('invalidValue', err.message.replace('group resource new', 'group'));
    throw err;
  }
}
