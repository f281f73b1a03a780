import type { Group, User } from './model.js';

/**
 * Attribute paths the sync engine knows how to compare, map and write.
 *
 * Paths are SCIM-like dotted names. Multi-valued attributes (emails, phoneNumbers) are compared as
 * a whole, order-insensitively, because SCIM servers do not preserve order.
 */
export const USER_ATTRIBUTES = [
  'userName',
  'externalId',
  'active',
  'displayName',
  'nickName',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'name.formatted',
  'name.familyName',
  'name.givenName',
  'name.middleName',
  'name.honorificPrefix',
  'name.honorificSuffix',
  'emails',
  'phoneNumbers',
  'enterprise.employeeNumber',
  'enterprise.costCenter',
  'enterprise.organization',
  'enterprise.division',
  'enterprise.department',
  'enterprise.manager',
] as const;

export type UserAttribute = (typeof USER_ATTRIBUTES)[number];

export const GROUP_ATTRIBUTES = ['displayName', 'externalId'] as const;
export type GroupAttribute = (typeof GROUP_ATTRIBUTES)[number];

const userAttributeSet: ReadonlySet<string> = new Set(USER_ATTRIBUTES);

export function isUserAttribute(path: string): path is UserAttribute {
  return userAttributeSet.has(path);
}

/** Read a dotted path from a plain object; undefined when any step is missing. */
export function getPath(obj: User | Group | Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Write a dotted path, creating intermediate objects. Setting undefined removes the leaf and
 * prunes parents that became empty, so "cleared" and "never set" compare equal.
 */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  const parents: Record<string, unknown>[] = [];
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i]!;
    let next = cur[key];
    if (next === null || typeof next !== 'object') {
      if (value === undefined) return;
      next = {};
      cur[key] = next;
    }
    parents.push(cur);
    cur = next as Record<string, unknown>;
  }
  const leaf = parts[parts.length - 1]!;
  if (value === undefined) {
    delete cur[leaf];
    for (let i = parts.length - 2; i >= 0; i--) {
      const parent = parents[i]!;
      const child = parent[parts[i]!] as Record<string, unknown>;
      if (Object.keys(child).length === 0) delete parent[parts[i]!];
      else break;
    }
  } else {
    cur[leaf] = value;
  }
}

/**
 * Normalise a value for comparison: empty strings and empty arrays mean "unset", multi-valued
 * entries are sorted so order never produces a diff.
 */
export function normalizeValue(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    const items = value.map((v) => normalizeValue(v)).filter((v) => v !== undefined);
    const keyed = items.map((v) => [canonicalJson(v), v] as const);
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return keyed.map((k) => k[1]);
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as Record<string, unknown>).sort()) {
      const v = normalizeValue((value as Record<string, unknown>)[key]);
      if (v !== undefined) out[key] = v;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value;
}

/** JSON with sorted keys: equal values give equal strings (used for diffs and fingerprints). */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function valuesEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(normalizeValue(a)) === canonicalJson(normalizeValue(b));
}
