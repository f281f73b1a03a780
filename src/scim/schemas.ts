import type { EnterpriseAttributes, Group, GroupInput, ManagerRef, MemberRef, MemberType, MultiValue, Name, User, UserInput } from '../core/model.js';
import { CORE_GROUP_URN, CORE_USER_URN, ENTERPRISE_USER_URN } from './filter-eval.js';

/**
 * SCIM 2.0 resource JSON (RFC 7643) ↔ the canonical model. Shared by the SCIM connector (client)
 * and, later, `serve`, so both speak the same dialect.
 *
 * Parsing takes `unknown` and returns precise types or throws `ScimFormatError`: a remote server's
 * body is untrusted input, and a wrongly typed attribute must fail loudly rather than reach the
 * planner as a diff. Real servers send `null` for unset attributes, omit `meta`, and spell `$ref`
 * as `ref`; all of those are tolerated.
 */

export { CORE_GROUP_URN, CORE_USER_URN, ENTERPRISE_USER_URN };
export const LIST_RESPONSE_URN = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SERVICE_PROVIDER_CONFIG_URN = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';

export type ScimJson = Record<string, unknown>;

/** A SCIM body did not have the shape RFC 7643/7644 requires. */
export class ScimFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScimFormatError';
  }
}

function isObject(v: unknown): v is ScimJson {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own property by exact name, else case-insensitively: attribute names are case-insensitive in SCIM. */
function prop(obj: ScimJson, key: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, key)) return obj[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

function describe(obj: ScimJson): string {
  const id = prop(obj, 'id');
  return typeof id === 'string' || typeof id === 'number' ? `resource ${String(id)}` : 'resource';
}

/** Optional string: null/undefined mean unset. Numbers are accepted as text (numeric ids, employee numbers). */
function optString(obj: ScimJson, key: string, where: string): string | undefined {
  const v = prop(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new ScimFormatError(`${where}: "${key}" must be a string, got ${typeof v}`);
}

function optBoolean(obj: ScimJson, key: string, where: string): boolean | undefined {
  const v = prop(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  // Some servers serialise booleans as text; accept exactly the two spellings, nothing looser.
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new ScimFormatError(`${where}: "${key}" must be a boolean, got ${JSON.stringify(v)}`);
}

function optObject(obj: ScimJson, key: string, where: string): ScimJson | undefined {
  const v = prop(obj, key);
  if (v === undefined || v === null) return undefined;
  if (isObject(v)) return v;
  throw new ScimFormatError(`${where}: "${key}" must be an object`);
}

function optArray(obj: ScimJson, key: string, where: string): unknown[] | undefined {
  const v = prop(obj, key);
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v;
  throw new ScimFormatError(`${where}: "${key}" must be an array`);
}

function requiredString(obj: ScimJson, key: string, kind: string): string {
  const v = optString(obj, key, kind);
  if (v === undefined || v === '') {
    throw new ScimFormatError(`${kind} ${describe(obj)} has no "${key}"; a SCIM ${kind} must carry one`);
  }
  return v;
}

/** Drops undefined keys so parsed objects compare equal to ones that never had them. */
function compact<T extends object>(obj: T): T | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return Object.keys(out).length === 0 ? undefined : (out as T);
}

const NAME_KEYS = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'] as const;
const USER_STRING_KEYS = ['displayName', 'nickName', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone'] as const;
const ENTERPRISE_STRING_KEYS = ['employeeNumber', 'costCenter', 'organization', 'division', 'department'] as const;

function parseMultiValues(list: unknown[] | undefined, where: string): MultiValue[] | undefined {
  if (!list) return undefined;
  const out: MultiValue[] = [];
  list.forEach((item, i) => {
    if (item === null) return;
    if (!isObject(item)) throw new ScimFormatError(`${where}[${i}] must be an object`);
    const value = optString(item, 'value', `${where}[${i}]`);
    // An entry without a value carries nothing comparable (some servers send placeholders).
    if (value === undefined || value === '') return;
    const type = optString(item, 'type', `${where}[${i}]`);
    const primary = optBoolean(item, 'primary', `${where}[${i}]`);
    out.push({ value, ...(type !== undefined ? { type } : {}), ...(primary !== undefined ? { primary } : {}) });
  });
  return out.length > 0 ? out : undefined;
}

function parseEnterprise(ext: ScimJson | undefined, where: string): EnterpriseAttributes | undefined {
  if (!ext) return undefined;
  const out: EnterpriseAttributes = {};
  for (const key of ENTERPRISE_STRING_KEYS) out[key] = optString(ext, key, where);
  const manager = prop(ext, 'manager');
  if (typeof manager === 'string' && manager !== '') {
    // Older servers put the manager's id directly where RFC 7643 puts a complex value.
    out.manager = { value: manager };
  } else if (isObject(manager)) {
    const value = optString(manager, 'value', `${where}.manager`);
    const displayName = optString(manager, 'displayName', `${where}.manager`);
    if (value) out.manager = compact<ManagerRef>({ value, displayName });
  } else if (manager !== undefined && manager !== null) {
    throw new ScimFormatError(`${where}: "manager" must be an object`);
  }
  return compact(out);
}

/**
 * A SCIM User resource into the canonical model. `active` missing means active: RFC 7643 leaves it
 * optional and servers that omit it have no notion of disabled accounts.
 */
export function fromScimUser(json: unknown): User {
  if (!isObject(json)) throw new ScimFormatError('user resource must be a JSON object');
  const where = `user ${describe(json)}`;
  const id = requiredString(json, 'id', 'user');
  const userName = requiredString(json, 'userName', 'user');
  const user: User = { id, userName, active: optBoolean(json, 'active', where) ?? true };
  const externalId = optString(json, 'externalId', where);
  if (externalId !== undefined && externalId !== '') user.externalId = externalId;
  const nameObj = optObject(json, 'name', where);
  if (nameObj) {
    const name: Name = {};
    for (const key of NAME_KEYS) name[key] = optString(nameObj, key, `${where}.name`);
    const n = compact(name);
    if (n) user.name = n;
  }
  for (const key of USER_STRING_KEYS) {
    const v = optString(json, key, where);
    if (v !== undefined && v !== '') user[key] = v;
  }
  const emails = parseMultiValues(optArray(json, 'emails', where), `${where}.emails`);
  if (emails) user.emails = emails;
  const phones = parseMultiValues(optArray(json, 'phoneNumbers', where), `${where}.phoneNumbers`);
  if (phones) user.phoneNumbers = phones;
  const enterprise = parseEnterprise(optObject(json, ENTERPRISE_USER_URN, where), `${where}.enterprise`);
  if (enterprise) user.enterprise = enterprise;
  return user;
}

/** Member type from `type`, else from the `$ref` (or `ref`) URL's resource endpoint, else User. */
function memberType(item: ScimJson, where: string): MemberType {
  const type = optString(item, 'type', where);
  if (type !== undefined && type !== '') {
    if (/^user$/i.test(type)) return 'User';
    if (/^group$/i.test(type)) return 'Group';
    throw new ScimFormatError(`${where}: member type must be "User" or "Group", got ${JSON.stringify(type)}`);
  }
  const ref = optString(item, '$ref', where) ?? optString(item, 'ref', where);
  if (ref !== undefined && /\/Groups\/[^/]+\/?$/i.test(ref)) return 'Group';
  // Without a type or a Groups reference, a member is a user: RFC 7643 §4.2 members are users
  // unless a server supports nesting, and nesting servers send `type` or `$ref`.
  return 'User';
}

export function fromScimGroup(json: unknown): Group {
  if (!isObject(json)) throw new ScimFormatError('group resource must be a JSON object');
  const where = `group ${describe(json)}`;
  const id = requiredString(json, 'id', 'group');
  const displayName = requiredString(json, 'displayName', 'group');
  const group: Group = { id, displayName, members: [] };
  const externalId = optString(json, 'externalId', where);
  if (externalId !== undefined && externalId !== '') group.externalId = externalId;
  const seen = new Set<string>();
  (optArray(json, 'members', where) ?? []).forEach((item, i) => {
    if (item === null) return;
    const w = `${where}.members[${i}]`;
    if (!isObject(item)) throw new ScimFormatError(`${w} must be an object`);
    const value = optString(item, 'value', w);
    if (value === undefined || value === '') throw new ScimFormatError(`${w} has no "value"`);
    const member: MemberRef = { type: memberType(item, w), value };
    const key = `${member.type}:${member.value}`;
    // Servers have been seen listing a member twice; the canonical model holds a set.
    if (seen.has(key)) return;
    seen.add(key);
    group.members.push(member);
  });
  return group;
}

function setIfDefined(out: ScimJson, key: string, value: unknown): void {
  if (value !== undefined) out[key] = value;
}

/** The canonical user as a SCIM User resource (for POST and PUT). Unset attributes are left out. */
export function toScimUser(user: UserInput, id?: string): ScimJson {
  const enterprise = user.enterprise && compact(user.enterprise);
  const out: ScimJson = { schemas: enterprise ? [CORE_USER_URN, ENTERPRISE_USER_URN] : [CORE_USER_URN] };
  setIfDefined(out, 'id', id);
  setIfDefined(out, 'externalId', user.externalId);
  out.userName = user.userName;
  out.active = user.active;
  const name = user.name && compact(user.name);
  setIfDefined(out, 'name', name);
  for (const key of USER_STRING_KEYS) setIfDefined(out, key, user[key]);
  if (user.emails?.length) out.emails = user.emails.map((e) => ({ ...e }));
  if (user.phoneNumbers?.length) out.phoneNumbers = user.phoneNumbers.map((p) => ({ ...p }));
  if (enterprise) {
    const ext: ScimJson = {};
    for (const key of ENTERPRISE_STRING_KEYS) setIfDefined(ext, key, enterprise[key]);
    if (enterprise.manager) ext.manager = { value: enterprise.manager.value };
    out[ENTERPRISE_USER_URN] = ext;
  }
  return out;
}

export function toScimMember(m: MemberRef): ScimJson {
  return { value: m.value, type: m.type };
}

/** The canonical group as a SCIM Group resource; members only when given (PUT carries them all). */
export function toScimGroup(group: GroupInput, id?: string, members?: readonly MemberRef[]): ScimJson {
  const out: ScimJson = { schemas: [CORE_GROUP_URN] };
  setIfDefined(out, 'id', id);
  setIfDefined(out, 'externalId', group.externalId);
  out.displayName = group.displayName;
  if (members) out.members = members.map(toScimMember);
  return out;
}

/** A ListResponse page (RFC 7644 §3.4.2), numbers left undefined when absent or not numbers. */
export interface ListPage {
  resources: unknown[];
  totalResults?: number;
  itemsPerPage?: number;
  startIndex?: number;
}

function optInt(obj: ScimJson, key: string): number | undefined {
  const v = prop(obj, key);
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function parseListResponse(json: unknown): ListPage {
  if (!isObject(json)) throw new ScimFormatError('list response must be a JSON object');
  const resources = prop(json, 'Resources');
  if (resources !== undefined && resources !== null && !Array.isArray(resources)) {
    throw new ScimFormatError('list response: "Resources" must be an array');
  }
  // RFC 7644 lets an empty result omit Resources entirely.
  const page: ListPage = { resources: Array.isArray(resources) ? resources : [] };
  const total = optInt(json, 'totalResults');
  if (total !== undefined) page.totalResults = total;
  const per = optInt(json, 'itemsPerPage');
  if (per !== undefined) page.itemsPerPage = per;
  const start = optInt(json, 'startIndex');
  if (start !== undefined) page.startIndex = start;
  return page;
}
