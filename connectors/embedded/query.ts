import type { AttrPath, CompareOp, CompareValue, FilterNode } from '../../src/scim/filter.js';
import { CORE_GROUP_URN, CORE_USER_URN, ENTERPRISE_USER_URN } from '../../src/scim/filter-eval.js';

/**
 * SCIM filters (RFC 7644 §3.4.2.2) as SQL over the embedded directory's tables, so a filtered
 * request is answered by SQLite's indexes instead of by parsing every stored document.
 *
 * Every value is a bound parameter and every attribute name is looked up in the fixed tables
 * below, so no part of a filter's text ever becomes SQL text. Case-insensitive attributes compare
 * with COLLATE NOCASE, which is the collation of the indexed columns (`user_name`, `display_name`,
 * the email side table, the users' displayName expression index): an `eq` or `sw` on those is an
 * index search. NOCASE folds ASCII letters only, so `É` and `é` differ here (as they do in the
 * uniqueness of userName).
 */

export type ResourceKind = 'user' | 'group';

/** A filter the directory cannot run: unknown attribute, or an operator the attribute's type forbids. */
export class FilterTranslationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterTranslationError';
  }
}

/** A sortBy the directory cannot order by (a 400 invalidValue rather than invalidFilter). */
export class SortTranslationError extends FilterTranslationError {
  constructor(message: string) {
    super(message);
    this.name = 'SortTranslationError';
  }
}

type ValueType = 'string' | 'boolean' | 'dateTime';

interface Scalar {
  sql: string;
  type: ValueType;
  caseExact: boolean;
  /**
   * The column's declared collation when it is a plain column. An explicit COLLATE equal to it is
   * left out: SQLite's OR optimisation (one index search per branch) does not see through one.
   */
  declared?: 'BINARY' | 'NOCASE';
}

/** A multi-valued attribute: `wrap(cond)` is true when some value satisfies `cond`. */
interface Multi {
  sub: Record<string, Scalar>;
  wrap(cond: string): string;
  /** The value a sort uses: RFC 7644 §3.4.2.3 sorts multi-valued attributes by their primary value. */
  sortSql?: string;
}

/** A singular complex attribute (`name`, `manager`): only `pr` applies to it directly. */
interface Complex {
  presentSql: string;
  /** The sub-attribute a bare comparison means (`manager eq "id"` is `manager.value eq "id"`). */
  defaultSub?: string;
}

type Resolved = { kind: 'scalar'; scalar: Scalar } | { kind: 'multi'; multi: Multi; sub?: Scalar } | { kind: 'complex'; complex: Complex };

const str = (sql: string, caseExact = false, declared?: 'BINARY' | 'NOCASE'): Scalar => ({ sql, type: 'string', caseExact, ...(declared ? { declared } : {}) });
const json = (alias: string, path: string, caseExact = false): Scalar => str(`json_extract(${alias}.data, '$.${path}')`, caseExact);

const USER_STRINGS = ['nickName', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone'];
const NAME_PARTS = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'];
export const ENTERPRISE_STRINGS = ['employeeNumber', 'costCenter', 'organization', 'division', 'department'];

/** Core User attributes by lower-cased path. */
const USER_SCALARS: Record<string, Scalar> = {
  id: str('u.id', true, 'BINARY'),
  externalid: str('u.external_id', true, 'BINARY'),
  username: str('u.user_name', false, 'NOCASE'),
  active: { sql: 'u.active', type: 'boolean', caseExact: true },
  // Must stay the exact expression of the index dir_users_display_name (migration 3).
  displayname: str(`json_extract(u.data, '$.displayName')`),
  'meta.created': { sql: 'u.created', type: 'dateTime', caseExact: true },
  'meta.lastmodified': { sql: 'u.modified', type: 'dateTime', caseExact: true },
};
for (const a of USER_STRINGS) USER_SCALARS[a.toLowerCase()] = json('u', a);
for (const a of NAME_PARTS) USER_SCALARS[`name.${a.toLowerCase()}`] = json('u', `name.${a}`);

const ENTERPRISE_SCALARS: Record<string, Scalar> = {
  'manager.value': json('u', 'enterprise.manager.value', true),
  'manager.displayname': json('u', 'enterprise.manager.displayName'),
};
for (const a of ENTERPRISE_STRINGS) ENTERPRISE_SCALARS[a.toLowerCase()] = json('u', `enterprise.${a}`);

const USER_COMPLEX: Record<string, Complex> = {
  name: { presentSql: `json_extract(u.data, '$.name') IS NOT NULL` },
};
const ENTERPRISE_COMPLEX: Record<string, Complex> = {
  manager: { presentSql: `json_extract(u.data, '$.enterprise.manager.value') IS NOT NULL`, defaultSub: 'value' },
};

const USER_MULTI: Record<string, Multi> = {
  // dir_user_emails is kept in step with dir_users.data by triggers (migration 3).
  emails: {
    sub: {
      value: str('e.value', false, 'NOCASE'),
      type: str('e.type', false, 'NOCASE'),
      primary: { sql: 'e."primary"', type: 'boolean', caseExact: true },
    },
    wrap: (cond) => `u.id IN (SELECT e.user_id FROM dir_user_emails e WHERE ${cond})`,
    sortSql: `(SELECT e.value FROM dir_user_emails e WHERE e.user_id = u.id ORDER BY e."primary" DESC, e.rowid LIMIT 1)`,
  },
  phonenumbers: {
    sub: {
      value: str(`json_extract(p.value, '$.value')`),
      type: str(`json_extract(p.value, '$.type')`),
      primary: { sql: `json_extract(p.value, '$.primary')`, type: 'boolean', caseExact: true },
    },
    wrap: (cond) => `EXISTS (SELECT 1 FROM json_each(u.data, '$.phoneNumbers') p WHERE ${cond})`,
  },
  // Read-only on users: the groups the user is a direct member of.
  groups: {
    sub: { value: str('m.group_id', true, 'BINARY') },
    wrap: (cond) => `u.id IN (SELECT m.member_id FROM dir_members m WHERE m.member_type = 'User' AND ${cond})`,
  },
};

const GROUP_SCALARS: Record<string, Scalar> = {
  id: str('g.id', true, 'BINARY'),
  externalid: str('g.external_id', true, 'BINARY'),
  displayname: str('g.display_name', false, 'NOCASE'),
  'meta.created': { sql: 'g.created', type: 'dateTime', caseExact: true },
  'meta.lastmodified': { sql: 'g.modified', type: 'dateTime', caseExact: true },
};
const GROUP_MULTI: Record<string, Multi> = {
  members: {
    sub: { value: str('m.member_id', true, 'BINARY'), type: str('m.member_type') },
    wrap: (cond) => `g.id IN (SELECT m.group_id FROM dir_members m WHERE ${cond})`,
  },
};

function resolveIn(
  key: string,
  sub: string | undefined,
  scalars: Record<string, Scalar>,
  multi: Record<string, Multi>,
  complex: Record<string, Complex>,
): Resolved | undefined {
  const full = sub !== undefined ? `${key}.${sub}` : key;
  const s = scalars[full];
  if (s) return { kind: 'scalar', scalar: s };
  const m = multi[key];
  if (m) {
    if (sub === undefined) return { kind: 'multi', multi: m };
    const subScalar = m.sub[sub];
    return subScalar ? { kind: 'multi', multi: m, sub: subScalar } : undefined;
  }
  const c = complex[key];
  if (c && sub === undefined) return { kind: 'complex', complex: c };
  return undefined;
}

/** Looks an attribute path up for a resource kind; undefined when it is not a filterable attribute. */
function resolve(kind: ResourceKind, path: AttrPath): Resolved | undefined {
  const key = path.name.toLowerCase();
  const sub = path.subAttr?.toLowerCase();
  const uri = path.uri?.toLowerCase();
  if (kind === 'group') {
    if (uri !== undefined && uri !== CORE_GROUP_URN.toLowerCase()) return undefined;
    return resolveIn(key, sub, GROUP_SCALARS, GROUP_MULTI, {});
  }
  const core = uri === undefined || uri === CORE_USER_URN.toLowerCase();
  const ext = uri === undefined || uri === ENTERPRISE_USER_URN.toLowerCase();
  // Unqualified names are core attributes first, then the enterprise extension's (RFC 7644 §3.10).
  return (
    (core ? resolveIn(key, sub, USER_SCALARS, USER_MULTI, USER_COMPLEX) : undefined) ??
    (ext ? resolveIn(key, sub, ENTERPRISE_SCALARS, {}, ENTERPRISE_COMPLEX) : undefined)
  );
}

function pathText(p: AttrPath): string {
  return `${p.uri ? p.uri + ':' : ''}${p.name}${p.subAttr !== undefined ? '.' + p.subAttr : ''}`;
}

/** Lower-cases ASCII letters only: what COLLATE NOCASE and LIKE fold, no more. */
function foldAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[]/g, (c) => `[${c}]`);
}

/** The smallest string greater than every string starting with `prefix`, or undefined. */
function prefixUpperBound(prefix: string): string | undefined {
  const last = prefix.charCodeAt(prefix.length - 1);
  if (prefix === '' || last === 0xffff) return undefined;
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

const SQL_OP: Record<string, string> = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' };

class Translator {
  readonly params: unknown[] = [];
  private terms = 0;

  constructor(
    private readonly kind: ResourceKind,
    private readonly maxTerms: number,
  ) {}

  private bind(v: unknown): string {
    this.params.push(v);
    return '?';
  }

  node(n: FilterNode, scope?: Multi): string {
    if (++this.terms > this.maxTerms) throw new FilterTranslationError(`filter has more than ${this.maxTerms} terms`);
    switch (n.type) {
      case 'and':
      case 'or':
        return `(${n.filters.map((f) => this.node(f, scope)).join(n.type === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        // A NULL inside must count as "no match" before negating, or NOT NULL would drop the row.
        return `NOT coalesce((${this.node(n.filter, scope)}), 0)`;
      case 'present':
        return this.present(n.path, scope);
      case 'compare':
        return this.compareAt(n.path, n.op, n.value, scope);
      case 'valuePath': {
        if (scope) throw new FilterTranslationError('value filters cannot be nested');
        const r = resolve(this.kind, n.path);
        if (!r || r.kind !== 'multi' || n.path.subAttr !== undefined) {
          throw new FilterTranslationError(`"${pathText(n.path)}" is not a multi-valued attribute that can take a [filter]`);
        }
        return r.multi.wrap(`(${this.node(n.filter, r.multi)})`);
      }
    }
  }

  /** Inside `emails[…]`, names are sub-attributes of the value; outside, attributes of the resource. */
  private lookup(path: AttrPath, scope?: Multi): Resolved {
    if (scope) {
      const name = path.subAttr === undefined && path.uri === undefined ? path.name.toLowerCase() : undefined;
      const s = name !== undefined ? scope.sub[name] : undefined;
      if (!s) throw new FilterTranslationError(`unknown sub-attribute "${pathText(path)}" in a value filter`);
      return { kind: 'scalar', scalar: s };
    }
    const r = resolve(this.kind, path);
    if (!r) throw new FilterTranslationError(`unknown or unfilterable attribute "${pathText(path)}" for ${this.kind === 'user' ? 'Users' : 'Groups'}`);
    return r;
  }

  private present(path: AttrPath, scope?: Multi): string {
    const r = this.lookup(path, scope);
    if (r.kind === 'complex') return r.complex.presentSql;
    if (r.kind === 'multi') return r.multi.wrap(r.sub ? this.scalarPresent(r.sub) : '1');
    return this.scalarPresent(r.scalar);
  }

  private scalarPresent(s: Scalar): string {
    return s.type === 'string' ? `(${s.sql} IS NOT NULL AND ${s.sql} <> '')` : `${s.sql} IS NOT NULL`;
  }

  private compareAt(path: AttrPath, op: CompareOp, value: CompareValue, scope?: Multi): string {
    let r = this.lookup(path, scope);
    if (r.kind === 'complex') {
      const def = r.complex.defaultSub;
      if (def === undefined) throw new FilterTranslationError(`"${pathText(path)}" is a complex attribute: compare one of its sub-attributes`);
      r = this.lookup({ ...path, subAttr: def }, scope);
    }
    if (r.kind === 'scalar') return this.compare(r.scalar, op, value);
    if (r.kind !== 'multi') throw new FilterTranslationError(`"${pathText(path)}" is a complex attribute: compare one of its sub-attributes`);
    // A bare multi-valued attribute compares its `value` sub-attribute (RFC 7644 §3.4.2.2).
    const sub = r.sub ?? r.multi.sub.value;
    if (!sub) throw new FilterTranslationError(`"${pathText(path)}" has no value sub-attribute to compare`);
    // "ne" on a multi-valued attribute: no value equals it (also true when there are none).
    if (op === 'ne') return `NOT (${r.multi.wrap(this.compare(sub, 'eq', value))})`;
    if (value === null && op === 'eq') return `NOT (${r.multi.wrap(this.scalarPresent(sub))})`;
    return r.multi.wrap(this.compare(sub, op, value));
  }

  private compare(s: Scalar, op: CompareOp, value: CompareValue): string {
    if (value === null) {
      if (op === 'eq') return `(${s.sql} IS NULL OR ${s.sql} = '')`;
      if (op === 'ne') return `(${s.sql} IS NOT NULL AND ${s.sql} <> '')`;
      throw new FilterTranslationError(`"${op}" cannot compare with null`);
    }
    if (s.type === 'boolean') {
      let b: boolean | undefined;
      if (typeof value === 'boolean') b = value;
      else if (typeof value === 'string' && /^(true|false)$/i.test(value)) b = value.toLowerCase() === 'true';
      if (b === undefined) throw new FilterTranslationError('a boolean attribute compares with true or false');
      if (op === 'eq') return `${s.sql} = ${this.bind(b ? 1 : 0)}`;
      if (op === 'ne') return `(${s.sql} IS NULL OR ${s.sql} <> ${this.bind(b ? 1 : 0)})`;
      throw new FilterTranslationError(`"${op}" is not defined for boolean attributes`);
    }
    if (s.type === 'dateTime') {
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw new FilterTranslationError('a dateTime attribute compares with an xsd:dateTime string');
      if (op === 'co' || op === 'sw' || op === 'ew') throw new FilterTranslationError(`"${op}" is not defined for dateTime attributes`);
      // Stored as toISOString() (UTC, milliseconds), so the string order is the time order.
      const iso = new Date(value).toISOString();
      if (op === 'ne') return `(${s.sql} IS NULL OR ${s.sql} <> ${this.bind(iso)})`;
      return `${s.sql} ${SQL_OP[op]} ${this.bind(iso)}`;
    }
    if (typeof value === 'boolean') throw new FilterTranslationError('a string attribute cannot be compared with true or false');
    const v = String(value);
    const coll = s.caseExact ? 'BINARY' : 'NOCASE';
    const x = s.declared === coll ? s.sql : `${s.sql} COLLATE ${coll}`;
    switch (op) {
      case 'eq':
      case 'gt':
      case 'ge':
      case 'lt':
      case 'le':
        return `${x} ${SQL_OP[op]} ${this.bind(v)}`;
      case 'ne':
        return `(${s.sql} IS NULL OR ${x} <> ${this.bind(v)})`;
      case 'co':
        return s.caseExact ? `${s.sql} GLOB ${this.bind(`*${escapeGlob(v)}*`)}` : `${s.sql} LIKE ${this.bind(`%${escapeLike(v)}%`)} ESCAPE '\\'`;
      case 'ew':
        return s.caseExact ? `${s.sql} GLOB ${this.bind(`*${escapeGlob(v)}`)}` : `${s.sql} LIKE ${this.bind(`%${escapeLike(v)}`)} ESCAPE '\\'`;
      case 'sw': {
        // A range on the column's collation is what lets SQLite search the index; the LIKE/GLOB
        // beside it keeps the answer exact whatever the range admits.
        const prefix = s.caseExact ? v : foldAscii(v);
        const upper = prefixUpperBound(prefix);
        const range = `${x} >= ${this.bind(prefix)}${upper !== undefined ? ` AND ${x} < ${this.bind(upper)}` : ''}`;
        const exact = s.caseExact ? `${s.sql} GLOB ${this.bind(`${escapeGlob(v)}*`)}` : `${s.sql} LIKE ${this.bind(`${escapeLike(v)}%`)} ESCAPE '\\'`;
        return `(${range} AND ${exact})`;
      }
    }
  }
}

export interface TranslatedFilter {
  sql: string;
  params: unknown[];
}

/** The WHERE clause for a filter over `dir_users u` or `dir_groups g`. */
export function filterToSql(kind: ResourceKind, filter: FilterNode | undefined, maxTerms = 200): TranslatedFilter {
  if (!filter) return { sql: '1', params: [] };
  const t = new Translator(kind, maxTerms);
  const sql = t.node(filter);
  return { sql, params: t.params };
}

/** The ORDER BY expression for `sortBy`; throws FilterTranslationError for an attribute that cannot sort. */
export function sortToSql(kind: ResourceKind, sortBy: string): string {
  const colon = sortBy.lastIndexOf(':');
  const uri = colon >= 0 ? sortBy.slice(0, colon) : undefined;
  const rest = colon >= 0 ? sortBy.slice(colon + 1) : sortBy;
  const [name, subAttr, extra] = rest.split('.');
  if (!name || extra !== undefined) throw new SortTranslationError(`cannot sort by "${sortBy}"`);
  const path: AttrPath = { name, ...(uri !== undefined ? { uri } : {}), ...(subAttr !== undefined ? { subAttr } : {}) };
  const r = resolve(kind, path);
  if (r?.kind === 'scalar') return `${r.scalar.sql} COLLATE ${r.scalar.caseExact ? 'BINARY' : 'NOCASE'}`;
  if (r?.kind === 'multi' && r.multi.sortSql && (r.sub === undefined || r.sub === r.multi.sub.value)) return `${r.multi.sortSql} COLLATE NOCASE`;
  throw new SortTranslationError(`cannot sort by "${sortBy}"`);
}
