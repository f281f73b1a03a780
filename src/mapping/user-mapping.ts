import jsonata from 'jsonata';
import { USER_ATTRIBUTES, setPath, type UserAttribute } from '../core/attributes.js';
import type { SourceUser } from '../core/connector.js';
import { ConfigError, ScimSyncError, type ConfigIssue } from '../core/errors.js';
import type { EnterpriseAttributes, MultiValue } from '../core/model.js';
import { compileTemplate, TemplateError } from '../core/template.js';
import { didYouMean } from '../config/suggest.js';
import type { MappingValue } from '../config/types.js';

/**
 * Per-job attribute mapping, applied by the engine to source users after reading and before
 * scoping and planning. A job maps what the source connector's own mapping could not know about:
 * the target's conventions (userName format, titles for contractors, …).
 *
 * Values are `{{template}}` strings (src/core/template.ts) or `{ expr: "…" }` JSONata
 * expressions for conditionals. JSONata 2 evaluates asynchronously, so `apply` returns a Promise
 * only when the mapping has an expression; template-only mappings stay synchronous.
 */

export type { MappingValue };

/** Short names for what HR data calls these; same meaning as in the CSV connector's mapping. */
export const USER_MAPPING_ALIASES: Readonly<Record<string, UserAttribute>> = {
  email: 'emails',
  phone: 'phoneNumbers',
  mobile: 'phoneNumbers',
  manager: 'enterprise.manager',
  employeeNumber: 'enterprise.employeeNumber',
  costCenter: 'enterprise.costCenter',
  organization: 'enterprise.organization',
  division: 'enterprise.division',
  department: 'enterprise.department',
};

/** The engine sets externalId to the source id (the anchor); mapping it would break matching. */
const NOT_MAPPABLE: ReadonlySet<string> = new Set(['externalId']);

export const USER_MAPPING_KEYS: readonly string[] = [
  ...USER_ATTRIBUTES.filter((a) => !NOT_MAPPABLE.has(a)),
  ...Object.keys(USER_MAPPING_ALIASES),
];
const keySet: ReadonlySet<string> = new Set(USER_MAPPING_KEYS);

/** The attribute a mapping key writes. */
export function mappingKeyAttribute(key: string): UserAttribute | undefined {
  if (key in USER_MAPPING_ALIASES) return USER_MAPPING_ALIASES[key];
  return keySet.has(key) ? (key as UserAttribute) : undefined;
}

/** A mapped attribute failed for one object; the engine decides whether to skip it or stop. */
export class MappingError extends ScimSyncError {
  readonly code = 'mapping';
  constructor(
    /** Source id of the user or group. */
    readonly objectId: string,
    /** YAML path of the mapping entry, e.g. `jobs.hr.mapping.users.active`. */
    readonly path: string,
    readonly reason: string,
    /** userName or displayName, for the message. */
    label?: string,
    readonly kind: 'user' | 'group' = 'user',
  ) {
    super(`${path}: ${kind} ${label ? `"${label}" ` : ''}(id ${objectId}): ${reason}`);
    this.name = 'MappingError';
  }
}

function isExprValue(v: unknown): v is { expr: string } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { expr?: unknown }).expr === 'string';
}

interface JsonataLikeError {
  message: string;
  position?: number;
  code?: string;
}

function compileExpression(source: string): jsonata.Expression {
  return jsonata(source);
}

function jsonataMessage(err: unknown): string {
  const e = err as JsonataLikeError;
  const where = typeof e.position === 'number' ? ` at position ${e.position}` : '';
  return `invalid expression${where}: ${e.message}`;
}

/**
 * Checks a `mapping.users` block and returns every problem (unknown keys with suggestions, keys
 * that write the same attribute twice, templates and expressions that do not compile).
 */
export function validateUserMapping(mapping: unknown, yamlPath: string): ConfigIssue[] {
  if (mapping === undefined) return [];
  if (mapping === null || typeof mapping !== 'object' || Array.isArray(mapping)) {
    return [{ path: yamlPath, message: 'expected a mapping of attribute names to templates' }];
  }
  const issues: ConfigIssue[] = [];
  const entries = Object.entries(mapping as Record<string, unknown>);
  const writers = new Map<string, string[]>();
  for (const [key, value] of entries) {
    const path = `${yamlPath}.${key}`;
    if (NOT_MAPPABLE.has(key)) {
      issues.push({ path, message: '"externalId" cannot be mapped; the sync engine sets it to the source id' });
    } else {
      const attr = mappingKeyAttribute(key);
      if (attr === undefined) {
        issues.push({ path, message: `unknown attribute${didYouMean(key, USER_MAPPING_KEYS)}` });
      } else {
        // phone and mobile write different entries of phoneNumbers, so they may be combined.
        const slot = key === 'phone' || key === 'mobile' ? `phoneNumbers:${key}` : attr;
        writers.set(slot, [...(writers.get(slot) ?? []), key]);
        if (attr === 'phoneNumbers') writers.set('phoneNumbers:any', [...(writers.get('phoneNumbers:any') ?? []), key]);
      }
    }
    if (typeof value === 'string') {
      try {
        compileTemplate(value);
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        issues.push({ path, message: err.message });
      }
    } else if (isExprValue(value)) {
      const extra = Object.keys(value).filter((k) => k !== 'expr');
      for (const k of extra) issues.push({ path: `${path}.${k}`, message: `unknown key${didYouMean(k, ['expr'])}` });
      try {
        compileExpression(value.expr);
      } catch (err) {
        issues.push({ path: `${path}.expr`, message: jsonataMessage(err) });
      }
    } else {
      issues.push({ path, message: 'expected a template string such as "{{email | lower}}" or { expr: "<JSONata expression>" }' });
    }
  }
  for (const [slot, keys] of writers) {
    if (slot === 'phoneNumbers:phone' || slot === 'phoneNumbers:mobile') continue;
    const distinct = slot === 'phoneNumbers:any' ? keys.includes('phoneNumbers') && keys.length > 1 : keys.length > 1;
    if (distinct) {
      issues.push({
        path: `${yamlPath}.${keys[keys.length - 1]}`,
        message: `${keys.map((k) => `"${k}"`).join(' and ')} both set ${slot.replace(/:any$/, '')}; keep one`,
      });
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Fields visible to templates and expressions
// ---------------------------------------------------------------------------------------------

const ENTERPRISE_SCALARS = ['employeeNumber', 'costCenter', 'organization', 'division', 'department'] as const;

function pickPhone(list: readonly MultiValue[] | undefined, type: 'work' | 'mobile'): string | undefined {
  if (!list) return undefined;
  const byType = list.find((p) => p.type?.toLowerCase() === type);
  if (byType) return byType.value;
  // Untyped numbers count as the work phone; a mobile must be labelled as one.
  if (type === 'work') return (list.find((p) => p.primary && p.type?.toLowerCase() !== 'mobile') ?? list.find((p) => !p.type))?.value;
  return undefined;
}

/**
 * The record templates and expressions see: the raw source fields, overlaid by the canonical
 * user (nested, so `name.givenName` works) and the short aliases (`email`, `department`,
 * `manager`, …). Canonical names win over raw columns of the same name; `raw.<column>` always
 * reaches the raw value.
 */
export function userMappingFields(user: SourceUser): Record<string, unknown> {
  // Plain loops, not `{ ...raw, ...rest }`: spreading the dictionary-mode objects that CSV rows
  // become measured ~20x slower, and this runs once per user per sync.
  const fields: Record<string, unknown> = {};
  const raw = user.raw;
  if (raw) for (const k in raw) fields[k] = raw[k];
  for (const k in user) if (k !== 'raw') fields[k] = (user as unknown as Record<string, unknown>)[k];
  fields.raw = raw ?? {};
  const ent: EnterpriseAttributes | undefined = user.enterprise;
  if (ent) {
    for (const k of ENTERPRISE_SCALARS) if (ent[k] !== undefined) fields[k] = ent[k];
    if (ent.manager) fields.manager = ent.manager.value;
  }
  const email = user.emails?.find((e) => e.primary) ?? user.emails?.[0];
  if (email) {
    fields.email = email.value;
    fields['emails.value'] = email.value;
  }
  const phone = pickPhone(user.phoneNumbers, 'work');
  if (phone !== undefined) fields.phone = phone;
  const mobile = pickPhone(user.phoneNumbers, 'mobile');
  if (mobile !== undefined) fields.mobile = mobile;
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Compilation and application
// ---------------------------------------------------------------------------------------------

type Evaluate =
  | { kind: 'template'; run: (fields: Readonly<Record<string, unknown>>) => string | undefined }
  | { kind: 'expr'; run: (fields: Readonly<Record<string, unknown>>) => Promise<unknown> };

interface CompiledEntry {
  key: string;
  attribute: UserAttribute;
  path: string;
  evaluate: Evaluate;
}

export interface CompiledUserMapping {
  /** The attributes this mapping writes: add them to the job's managed attributes. */
  attributes: UserAttribute[];
  /** True when `apply` returns a Promise (the mapping has JSONata expressions). */
  async: boolean;
  apply(user: SourceUser): Promise<SourceUser> | SourceUser;
}

const TRUE_WORDS: ReadonlySet<string> = new Set(['true', 'yes', '1', 'y', 'on']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['false', 'no', '0', 'n', 'off']);

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** JSONata returns its own array subclass for sequences; plain values are what the model wants. */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 1 ? plain(v[0]) : Array.from(v, plain);
  return v;
}

function toText(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`expected text, got ${kindOf(v)}`);
}

function toMultiValues(v: unknown, defaultType: string, markPrimary: boolean): MultiValue[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const list = Array.isArray(v) ? v : [v];
  const out: MultiValue[] = [];
  for (const item of list) {
    if (typeof item === 'string' || typeof item === 'number') {
      if (item !== '') out.push({ value: String(item), type: defaultType });
    } else if (item !== null && typeof item === 'object' && typeof (item as { value?: unknown }).value === 'string') {
      const o = item as { value: string; type?: unknown; primary?: unknown };
      const mv: MultiValue = { value: o.value };
      if (typeof o.type === 'string') mv.type = o.type;
      if (typeof o.primary === 'boolean') mv.primary = o.primary;
      out.push(mv);
    } else {
      throw new Error(`expected text or a list of { value, type, primary }, got ${kindOf(item)}`);
    }
  }
  if (out.length === 0) return undefined;
  if (markPrimary && !out.some((m) => m.primary)) out[0]!.primary = true;
  return out;
}

function cloneUser(user: SourceUser): SourceUser {
  const copy: SourceUser = { ...user };
  if (user.name) copy.name = { ...user.name };
  if (user.enterprise) {
    copy.enterprise = { ...user.enterprise };
    if (user.enterprise.manager) copy.enterprise.manager = { ...user.enterprise.manager };
  }
  if (user.emails) copy.emails = user.emails.map((e) => ({ ...e }));
  if (user.phoneNumbers) copy.phoneNumbers = user.phoneNumbers.map((p) => ({ ...p }));
  return copy;
}

function setPhone(user: SourceUser, type: 'work' | 'mobile', value: string | undefined): void {
  // Replace only entries of this type, so mapping `mobile` keeps the work number and vice versa.
  // No primary flag: the CSV connector writes none either, and the two must produce equal users.
  const kept = (user.phoneNumbers ?? []).filter((p) => (p.type ?? 'work').toLowerCase() !== type);
  if (value !== undefined) kept.push({ value, type });
  if (kept.length > 0) user.phoneNumbers = kept;
  else delete user.phoneNumbers;
}

/** Writes one evaluated entry; throws a plain Error whose message becomes the MappingError reason. */
function assign(out: SourceUser, entry: CompiledEntry, value: unknown): void {
  const v = plain(value);
  const target = out as unknown as Record<string, unknown>;
  switch (entry.key) {
    case 'userName': {
      const text = toText(v);
      if (text === undefined) throw new Error('userName is empty');
      out.userName = text;
      return;
    }
    case 'active': {
      if (typeof v === 'boolean') {
        out.active = v;
        return;
      }
      const text = toText(v)?.trim().toLowerCase();
      if (text !== undefined && TRUE_WORDS.has(text)) out.active = true;
      else if (text !== undefined && FALSE_WORDS.has(text)) out.active = false;
      else {
        throw new Error(
          text === undefined
            ? 'active is empty; expected true/false, yes/no or 1/0'
            : `active is ${JSON.stringify(toText(v))}; expected true/false, yes/no or 1/0`,
        );
      }
      return;
    }
    case 'email': {
      const text = toText(v);
      if (text !== undefined) out.emails = [{ value: text, type: 'work', primary: true }];
      else delete out.emails;
      return;
    }
    case 'emails':
    case 'phoneNumbers': {
      // Same shapes as the CSV connector: a single email is the primary work address; phone
      // numbers carry no primary flag unless the expression sets one.
      const list = toMultiValues(v, 'work', entry.key === 'emails');
      if (list) target[entry.key] = list;
      else delete target[entry.key];
      return;
    }
    case 'phone':
      setPhone(out, 'work', toText(v));
      return;
    case 'mobile':
      setPhone(out, 'mobile', toText(v));
      return;
    case 'manager':
    case 'enterprise.manager': {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as { value?: unknown; displayName?: unknown };
        const id = toText(o.value);
        setPath(target, 'enterprise.manager', id === undefined ? undefined : { value: id, ...(typeof o.displayName === 'string' ? { displayName: o.displayName } : {}) });
        return;
      }
      const id = toText(v);
      setPath(target, 'enterprise.manager', id === undefined ? undefined : { value: id });
      return;
    }
    default:
      setPath(target, entry.attribute, toText(v));
  }
}

function compileEntry(key: string, value: MappingValue, path: string): CompiledEntry {
  const attribute = mappingKeyAttribute(key)!;
  if (typeof value === 'string') {
    return { key, attribute, path, evaluate: { kind: 'template', run: compileTemplate(value) } };
  }
  const expr = compileExpression(value.expr);
  return { key, attribute, path, evaluate: { kind: 'expr', run: (fields) => expr.evaluate(fields) } };
}

/**
 * Compiles a mapping once per run. Throws ConfigError (with every issue) when the mapping is
 * invalid; loadConfig has normally reported those already via validateUserMapping.
 */
export function compileUserMapping(mapping: Record<string, MappingValue>, yamlPath: string): CompiledUserMapping {
  const issues = validateUserMapping(mapping, yamlPath);
  if (issues.length > 0) throw new ConfigError(issues);
  const entries = Object.entries(mapping).map(([key, value]) => compileEntry(key, value, `${yamlPath}.${key}`));
  const attributes = [...new Set(entries.map((e) => e.attribute))];
  const hasExpr = entries.some((e) => e.evaluate.kind === 'expr');

  const fail = (user: SourceUser, entry: CompiledEntry, err: unknown): never => {
    // JSONata throws plain objects carrying message and position, not Error instances.
    const e = err as JsonataLikeError | null;
    const reason =
      e !== null && typeof e === 'object' && typeof e.message === 'string'
        ? entry.evaluate.kind === 'expr' && typeof e.position === 'number'
          ? `expression failed at position ${e.position}: ${e.message}`
          : e.message
        : String(err);
    throw new MappingError(user.id, entry.path, reason, user.userName);
  };

  const finish = (user: SourceUser, values: unknown[]): SourceUser => {
    const out = cloneUser(user);
    entries.forEach((entry, i) => {
      try {
        assign(out, entry, values[i]);
      } catch (err) {
        fail(user, entry, err);
      }
    });
    return out;
  };

  if (entries.length === 0) {
    return { attributes, async: false, apply: (user) => user };
  }

  if (!hasExpr) {
    return {
      attributes,
      async: false,
      apply(user) {
        const fields = userMappingFields(user);
        // Every entry sees the source values, never another entry's result: order in YAML must not matter.
        return finish(
          user,
          entries.map((e) => (e.evaluate as { run: (f: Readonly<Record<string, unknown>>) => string | undefined }).run(fields)),
        );
      },
    };
  }

  return {
    attributes,
    async: true,
    async apply(user) {
      const fields = userMappingFields(user);
      const values: unknown[] = [];
      for (const entry of entries) {
        try {
          values.push(await entry.evaluate.run(fields));
        } catch (err) {
          fail(user, entry, err);
        }
      }
      return finish(user, values);
    },
  };
}
