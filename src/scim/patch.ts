import { getPath, normalizeValue } from '../core/attributes.js';
import type { UserAttribute } from '../core/attributes.js';
import type { GroupInput, MemberRef, UserInput } from '../core/model.js';
import { ENTERPRISE_USER_URN, PATCH_OP_URN, toScimMember } from './schemas.js';

/**
 * Building PatchOp request bodies (RFC 7644 §3.5.2) from the engine's "desired + changed" form.
 */

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace';
  path?: string;
  value?: unknown;
}

export interface PatchBody {
  schemas: [typeof PATCH_OP_URN];
  Operations: PatchOperation[];
}

export function patchBody(operations: PatchOperation[]): PatchBody {
  return { schemas: [PATCH_OP_URN], Operations: operations };
}

const ENTERPRISE_PREFIX = 'enterprise.';

/** The SCIM path of a canonical attribute: `enterprise.department` → `urn:…:enterprise:2.0:User:department`. */
export function scimUserPath(attr: UserAttribute): string {
  return attr.startsWith(ENTERPRISE_PREFIX) ? `${ENTERPRISE_USER_URN}:${attr.slice(ENTERPRISE_PREFIX.length)}` : attr;
}

function scimValue(attr: string, value: unknown): unknown {
  // The manager's displayName is read-only per RFC 7643 §4.3; sending it makes strict servers refuse.
  if (attr === 'enterprise.manager' && typeof value === 'object' && value !== null) {
    return { value: (value as { value: unknown }).value };
  }
  return value;
}

/**
 * One operation per changed attribute: `replace` with the desired value, or `remove` when the
 * desired value is unset (absent, empty string, empty list) — the engine's "cleared" signal.
 */
export function userPatchOperations(desired: UserInput, changed: readonly UserAttribute[]): PatchOperation[] {
  const ops: PatchOperation[] = [];
  for (const attr of new Set(changed)) {
    const value = getPath(desired as unknown as Record<string, unknown>, attr);
    const path = scimUserPath(attr);
    if (normalizeValue(value) === undefined && attr !== 'active') ops.push({ op: 'remove', path });
    else ops.push({ op: 'replace', path, value: scimValue(attr, value) });
  }
  return ops;
}

export function groupPatchOperations(desired: GroupInput, changed: readonly ('displayName' | 'externalId')[]): PatchOperation[] {
  return [...new Set(changed)].map((attr): PatchOperation => {
    const value = desired[attr];
    return value === undefined || value === '' ? { op: 'remove', path: attr } : { op: 'replace', path: attr, value };
  });
}

/**
 * How member removals are spelled. `filter` is RFC 7644's own form (`members[value eq "id"]`, one
 * operation per member); `value` (`path: members` with a value list) is what Entra and AWS
 * Identity Center document and some servers require.
 */
export type MemberRemoveStyle = 'filter' | 'value';

function chunks<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** PatchOp bodies adding `members`, at most `batchSize` members per body. */
export function addMembersBodies(members: readonly MemberRef[], batchSize: number): PatchBody[] {
  return chunks(members, batchSize).map((batch) => patchBody([{ op: 'add', path: 'members', value: batch.map(toScimMember) }]));
}

/** PatchOp bodies removing `members`, at most `batchSize` members per body. */
export function removeMembersBodies(members: readonly MemberRef[], batchSize: number, style: MemberRemoveStyle = 'filter'): PatchBody[] {
  return chunks(members, batchSize).map((batch) =>
    style === 'value'
      ? patchBody([{ op: 'remove', path: 'members', value: batch.map((m) => ({ value: m.value })) }])
      : patchBody(batch.map((m) => ({ op: 'remove', path: `members[value eq ${JSON.stringify(m.value)}]` }))),
  );
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The existing key spelled like `name` ignoring case (SCIM attribute names are case-insensitive), else `name`. */
function keyOf(obj: Json, name: string): string {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(obj).find((k) => k.toLowerCase() === lower) ?? name;
}

/** Splits `urn:…:User:manager.value` into the extension URN and `manager.value`. */
function splitUrn(path: string): { uri?: string; rest: string } {
  if (!/^urn:/i.test(path)) return { rest: path };
  const colon = path.lastIndexOf(':');
  return { uri: path.slice(0, colon), rest: path.slice(colon + 1) };
}

/**
 * Applies operations with simple paths (`attr`, `attr.sub`, `urn:…:attr[.sub]`, no value filters)
 * to a copy of a resource: how a full-resource PUT is built for servers without PATCH, from the
 * same operations a PATCH would carry, so both write exactly the same change. `add` appends to
 * multi-valued attributes (RFC 7644 §3.5.2.1); `replace` and `add` elsewhere set the value.
 */
export function applyPatchOperations(resource: Json, operations: readonly PatchOperation[]): Json {
  const out = structuredClone(resource);
  for (const op of operations) {
    if (op.path === undefined || op.path.includes('[')) {
      throw new RangeError(`cannot apply a PATCH operation with path ${JSON.stringify(op.path)} locally`);
    }
    const { uri, rest } = splitUrn(op.path);
    let container: Json = out;
    if (uri !== undefined) {
      const k = keyOf(out, uri);
      if (!isObject(out[k])) {
        if (op.op === 'remove') continue;
        out[k] = {};
        const schemas = Array.isArray(out.schemas) ? (out.schemas as unknown[]) : [];
        if (!schemas.includes(uri)) out.schemas = [...schemas, uri];
      }
      container = out[k] as Json;
    }
    const parts = rest.split('.');
    for (const part of parts.slice(0, -1)) {
      const k = keyOf(container, part);
      if (!isObject(container[k])) {
        if (op.op === 'remove') break;
        container[k] = {};
      }
      container = container[k] as Json;
    }
    const leaf = keyOf(container, parts[parts.length - 1]!);
    if (op.op === 'remove') delete container[leaf];
    else if (op.op === 'add' && Array.isArray(container[leaf]) && Array.isArray(op.value)) container[leaf] = [...(container[leaf] as unknown[]), ...op.value];
    else container[leaf] = structuredClone(op.value);
  }
  return out;
}
