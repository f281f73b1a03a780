import { attrPathToString, type CompareValue, type FilterNode } from './filter.js';

/**
 * Evaluating a filter AST against plain objects.
 *
 * Semantics (RFC 7644 §3.4.2.2, tuned for scoping source data, which is often all strings):
 * - string comparisons ignore case unless `caseExact` says otherwise for that attribute;
 * - a multi-valued attribute matches when any of its values matches;
 * - `ne` is the negation of `eq`, so it is true for a missing attribute;
 * - `pr` is false for missing, null, "" and empty lists/objects;
 * - a string compared with a number or boolean is coerced ("42" gt 7, "TRUE" eq true), because CSV
 *   and LDAP sources deliver every value as text.
 */

export type AttrResolver = (attrPath: string, obj: Record<string, unknown>) => unknown;

export interface MatchOptions {
  /** Attributes compared case-sensitively (SCIM `caseExact`), by path string. Default: none. */
  caseExact?: (attrPath: string) => boolean;
}

export const CORE_USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const CORE_GROUP_URN = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** Own-property lookup ignoring case; exact match first so differently-cased twins stay distinct. */
export function getIgnoreCase(obj: Record<string, unknown>, key: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, key)) return obj[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

/** Walks dotted parts case-insensitively, fanning out over arrays (multi-valued attributes). */
export function walkPath(start: unknown, parts: readonly string[]): unknown {
  let cur: unknown = start;
  for (const part of parts) {
    if (Array.isArray(cur)) {
      const collected: unknown[] = [];
      for (const item of cur) {
        if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
          const v = getIgnoreCase(item as Record<string, unknown>, part);
          if (Array.isArray(v)) collected.push(...v);
          else if (v !== undefined) collected.push(v);
        }
      }
      cur = collected;
    } else if (cur !== null && typeof cur === 'object') {
      cur = getIgnoreCase(cur as Record<string, unknown>, part);
    } else {
      return undefined;
    }
  }
  return cur;
}

function splitUri(attrPath: string): { uri?: string; rest: string } {
  const colon = attrPath.lastIndexOf(':');
  if (colon < 0) return { rest: attrPath };
  return { uri: attrPath.slice(0, colon), rest: attrPath.slice(colon + 1) };
}

/**
 * Resolves a path on a SCIM-shaped object. A schema URN prefix is looked up as a key (SCIM JSON
 * puts extension attributes under their URN), with the enterprise extension also found under
 * `enterprise` (the canonical model's name for it) and core URNs meaning the object itself.
 */
export const defaultResolver: AttrResolver = (attrPath, obj) => {
  const { uri, rest } = splitUri(attrPath);
  const parts = rest.split('.');
  if (uri === undefined) return walkPath(obj, parts);
  const lowerUri = uri.toLowerCase();
  if (lowerUri === CORE_USER_URN.toLowerCase() || lowerUri === CORE_GROUP_URN.toLowerCase()) return walkPath(obj, parts);
  const underUri = getIgnoreCase(obj, uri);
  if (underUri !== undefined) return walkPath(underUri, parts);
  if (lowerUri === ENTERPRISE_USER_URN.toLowerCase()) return walkPath(obj, ['enterprise', ...parts]);
  return undefined;
};

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.every(isEmptyValue);
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/** The scalar candidates of a resolved value; a complex value stands for its `value` sub-attribute. */
function candidates(v: unknown): unknown[] {
  const list = Array.isArray(v) ? v : [v];
  const out: unknown[] = [];
  for (const item of list) {
    if (item === undefined || item === null) continue;
    if (typeof item === 'object' && !Array.isArray(item)) {
      const inner = getIgnoreCase(item as Record<string, unknown>, 'value');
      if (inner !== undefined && inner !== null) out.push(inner);
    } else if (!Array.isArray(item)) {
      out.push(item);
    }
  }
  return out;
}

const NUMERIC = /^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** -1/0/1, or undefined when the two cannot be ordered. */
function compareValues(actual: unknown, expected: CompareValue, caseExact: boolean): number | undefined {
  if (typeof expected === 'number') {
    let n: number | undefined;
    if (typeof actual === 'number') n = actual;
    else if (typeof actual === 'string' && NUMERIC.test(actual)) n = Number(actual);
    if (n === undefined || Number.isNaN(n)) return undefined;
    return n < expected ? -1 : n > expected ? 1 : 0;
  }
  if (typeof expected === 'boolean') {
    let b: boolean | undefined;
    if (typeof actual === 'boolean') b = actual;
    else if (typeof actual === 'string' && /^(true|false)$/i.test(actual.trim())) b = actual.trim().toLowerCase() === 'true';
    if (b === undefined) return undefined;
    return b === expected ? 0 : b ? 1 : -1;
  }
  if (typeof expected === 'string') {
    if (typeof actual !== 'string' && typeof actual !== 'number' && typeof actual !== 'boolean') return undefined;
    let a = String(actual);
    let e = expected;
    if (!caseExact) {
      a = a.toLowerCase();
      e = e.toLowerCase();
    }
    return a < e ? -1 : a > e ? 1 : 0;
  }
  return undefined;
}

function asText(actual: unknown, caseExact: boolean): string | undefined {
  if (typeof actual !== 'string' && typeof actual !== 'number') return undefined;
  const s = String(actual);
  return caseExact ? s : s.toLowerCase();
}

function testOne(op: string, actual: unknown, expected: CompareValue, caseExact: boolean): boolean {
  switch (op) {
    case 'eq':
      return compareValues(actual, expected, caseExact) === 0;
    case 'co':
    case 'sw':
    case 'ew': {
      if (typeof expected !== 'string') return false;
      const a = asText(actual, caseExact);
      if (a === undefined) return false;
      const e = caseExact ? expected : expected.toLowerCase();
      return op === 'co' ? a.includes(e) : op === 'sw' ? a.startsWith(e) : a.endsWith(e);
    }
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le': {
      // Ordering booleans is meaningless (RFC 7644 makes it an error); never match.
      if (typeof expected === 'boolean' || expected === null) return false;
      const c = compareValues(actual, expected, caseExact);
      if (c === undefined) return false;
      return op === 'gt' ? c > 0 : op === 'ge' ? c >= 0 : op === 'lt' ? c < 0 : c <= 0;
    }
    default:
      return false;
  }
}

function evaluate(node: FilterNode, obj: Record<string, unknown>, resolve: AttrResolver, opts: MatchOptions): boolean {
  switch (node.type) {
    case 'and':
      return node.filters.every((f) => evaluate(f, obj, resolve, opts));
    case 'or':
      return node.filters.some((f) => evaluate(f, obj, resolve, opts));
    case 'not':
      return !evaluate(node.filter, obj, resolve, opts);
    case 'present':
      return !isEmptyValue(resolve(attrPathToString(node.path), obj));
    case 'valuePath': {
      const value = resolve(attrPathToString(node.path), obj);
      const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
      // Sub-attributes inside [] are relative to each value, so the plain resolver applies there.
      return items.some(
        (item) =>
          item !== null &&
          typeof item === 'object' &&
          !Array.isArray(item) &&
          evaluate(node.filter, item as Record<string, unknown>, defaultResolver, opts),
      );
    }
    case 'compare': {
      const pathText = attrPathToString(node.path);
      const values = candidates(resolve(pathText, obj));
      if (node.value === null) {
        // "eq null": unassigned; "ne null": has a value.
        if (node.op === 'eq') return values.length === 0;
        if (node.op === 'ne') return values.length > 0;
        return false;
      }
      const caseExact = opts.caseExact?.(pathText) ?? false;
      if (node.op === 'ne') return !values.some((v) => testOne('eq', v, node.value, caseExact));
      return values.some((v) => testOne(node.op, v, node.value, caseExact));
    }
  }
}

export function matchesFilter(
  node: FilterNode,
  obj: Record<string, unknown>,
  resolve: AttrResolver = defaultResolver,
  opts: MatchOptions = {},
): boolean {
  return evaluate(node, obj, resolve, opts);
}

/** Path without a schema prefix, or undefined for a schema this model does not know. */
function canonicalPath(attrPath: string): { path: string; enterprise: boolean } | undefined {
  const { uri, rest } = splitUri(attrPath);
  if (uri === undefined) return { path: rest, enterprise: false };
  const lower = uri.toLowerCase();
  if (lower === CORE_USER_URN.toLowerCase() || lower === CORE_GROUP_URN.toLowerCase()) return { path: rest, enterprise: false };
  if (lower === ENTERPRISE_USER_URN.toLowerCase()) return { path: rest, enterprise: true };
  return undefined;
}

/**
 * Resolver for job scopes on source objects (SourceUser / SourceGroup): the canonical path
 * (`userName`, `name.givenName`, `emails.value`), then the enterprise extension unqualified
 * (`department`, `manager`), then a raw source field by its column name, so HR columns such as
 * `status` that have no canonical home can still be filtered on.
 */
export const scopeResolver: AttrResolver = (attrPath, obj) => {
  const canonical = canonicalPath(attrPath);
  if (canonical) {
    const parts = canonical.path.split('.');
    if (!canonical.enterprise) {
      const v = walkPath(obj, parts);
      if (v !== undefined) return v;
    }
    const e = walkPath(obj, ['enterprise', ...parts]);
    if (e !== undefined) return e;
  }
  const raw = getIgnoreCase(obj, 'raw');
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const rawRecord = raw as Record<string, unknown>;
    const direct = getIgnoreCase(rawRecord, attrPath);
    if (direct !== undefined) return direct;
    // Nested raw data (LDAP/SCIM sources) by dotted path.
    if (canonical) return walkPath(rawRecord, canonical.path.split('.'));
  }
  return undefined;
};
