import { FilterSyntaxError, parsePatchPath, type CompareValue, type FilterNode, type PatchPath } from '../scim/filter.js';
import { defaultResolver, matchesFilter } from '../scim/filter-eval.js';
import { PATCH_OP_URN, type ScimJson } from '../scim/schemas.js';
import { badRequest } from './errors.js';
import { filterBoundsProblem } from './list-params.js';
import { isObject } from './resources.js';
import { COMMON_ATTRIBUTES, coreSchemaOf, extensionsOf, findAttr, type AttrDef, type ResourceName } from './schema-defs.js';

/**
 * PATCH (RFC 7644 §3.5.2) applied to a resource's SCIM JSON. The result is parsed back into the
 * canonical model by the caller, so everything that reaches the store passes the same checks as
 * a POST.
 *
 * Real clients' habits accepted on purpose: op names in any case (Entra sends "Replace"),
 * booleans as "True"/"False" strings (Entra), the manager as a bare id string (Entra), dotted or
 * URN-prefixed keys inside a path-less value (Entra), and `id` repeated in a path-less value
 * (Okta's group rename). Attributes this server does not store are ignored, as in a POST.
 */

type Op = 'add' | 'remove' | 'replace';

interface Target {
  def: AttrDef;
  /** Undefined for core attributes; the extension URN otherwise. */
  ext?: string;
  /** The sub-attribute after the attribute (`name.givenName`) or after the filter (`emails[…].value`). */
  sub?: AttrDef;
  filter?: FilterNode;
}

function parseOp(raw: unknown, index: number): { op: Op; path?: string; value: unknown } {
  if (!isObject(raw)) throw badRequest('invalidSyntax', `Operations[${index}] must be an object`);
  const get = (k: string) => raw[Object.keys(raw).find((x) => x.toLowerCase() === k) ?? k];
  const op = get('op');
  const lower = typeof op === 'string' ? op.toLowerCase() : undefined;
  if (lower !== 'add' && lower !== 'remove' && lower !== 'replace') {
    throw badRequest('invalidSyntax', `Operations[${index}].op must be "add", "remove" or "replace", got ${JSON.stringify(op ?? null)}`);
  }
  const path = get('path');
  if (path !== undefined && path !== null && typeof path !== 'string') throw badRequest('invalidPath', `Operations[${index}].path must be a string`);
  return { op: lower, ...(typeof path === 'string' && path.trim() !== '' ? { path } : {}), value: get('value') };
}

function coerceString(def: AttrDef, v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw badRequest('invalidValue', `"${def.name}" must be a string, got ${JSON.stringify(v)}`);
}

function coerceBoolean(def: AttrDef, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  throw badRequest('invalidValue', `"${def.name}" must be true or false, got ${JSON.stringify(v)}`);
}

/** One complex value: known, writable sub-attributes coerced; the rest dropped. */
function coerceComplex(def: AttrDef, v: unknown): ScimJson {
  // Entra sends the manager as the bare id.
  if (typeof v === 'string' && findAttr(def.subAttributes, 'value')) return { value: v };
  if (!isObject(v)) throw badRequest('invalidValue', `"${def.name}" must be an object, got ${JSON.stringify(v)}`);
  const out: ScimJson = {};
  for (const [k, sv] of Object.entries(v)) {
    const sub = findAttr(def.subAttributes, k);
    if (!sub || sub.mutability === 'readOnly' || sv === null || sv === undefined) continue;
    out[sub.name] = coerceScalar(sub, sv);
  }
  return out;
}

function coerceScalar(def: AttrDef, v: unknown): unknown {
  if (def.type === 'boolean') return coerceBoolean(def, v);
  if (def.type === 'complex') return coerceComplex(def, v);
  return coerceString(def, v);
}

/** The value for a whole attribute (a list for multi-valued ones, a single value wrapped). */
function coerceValue(def: AttrDef, v: unknown): unknown {
  if (!def.multiValued) return coerceScalar(def, v);
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x) => x !== null && x !== undefined).map((x) => coerceComplex(def, x));
}

/** Identity of a multi-valued entry for de-duplication: the value (case per caseExact), and its type. */
function identity(def: AttrDef, item: ScimJson): string {
  const valueDef = findAttr(def.subAttributes, 'value');
  const raw = item.value;
  const value = typeof raw === 'string' && valueDef && !valueDef.caseExact ? raw.toLowerCase() : String(raw);
  // Members are one membership per id; an email is the same entry only with the same type.
  if (def.name === 'members') return value;
  const type = typeof item.type === 'string' ? item.type.toLowerCase() : '';
  return `${value}\u0000${type}`;
}

/** Appends values not already present, and keeps at most one `primary: true`. */
function mergeMulti(def: AttrDef, existing: ScimJson[], added: ScimJson[]): ScimJson[] {
  const out = existing.map((e) => ({ ...e }));
  const index = new Map(out.map((e, i) => [identity(def, e), i]));
  for (const a of added) {
    const at = index.get(identity(def, a));
    if (at !== undefined) out[at] = { ...out[at], ...a };
    else {
      index.set(identity(def, a), out.length);
      out.push({ ...a });
    }
  }
  return onePrimary(out, added);
}

function onePrimary(list: ScimJson[], preferred: ScimJson[]): ScimJson[] {
  const wanted = preferred.find((p) => p.primary === true);
  if (!wanted) return list;
  let kept = false;
  for (const item of [...list].reverse()) {
    if (item.primary !== true) continue;
    if (!kept && item.value === wanted.value) kept = true;
    else delete item.primary;
  }
  return list;
}

/** `emails[type eq "work"]` → `{type: "work"}`: what an `add` creates when nothing matches. */
function valuesFromEqFilter(filter: FilterNode): ScimJson | undefined {
  if (filter.type === 'compare' && filter.op === 'eq' && filter.path.subAttr === undefined && filter.path.uri === undefined) {
    return { [filter.path.name]: filter.value as CompareValue };
  }
  if (filter.type === 'and') {
    const parts = filter.filters.map(valuesFromEqFilter);
    if (parts.every((p) => p !== undefined)) return Object.assign({}, ...parts) as ScimJson;
  }
  return undefined;
}

export class PatchApplier {
  private readonly core: AttrDef[];
  private readonly extensions: { urn: string; attributes: AttrDef[] }[];

  constructor(
    private readonly resource: ResourceName,
    private readonly currentId: string,
  ) {
    this.core = [...coreSchemaOf(resource).attributes, ...COMMON_ATTRIBUTES];
    this.extensions = extensionsOf(resource).map((s) => ({ urn: s.id, attributes: s.attributes }));
  }

  private extension(urn: string): { urn: string; attributes: AttrDef[] } | undefined {
    return this.extensions.find((e) => e.urn.toLowerCase() === urn.toLowerCase());
  }

  apply(json: ScimJson, body: unknown): ScimJson {
    if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
    const schemas = body.schemas;
    if (schemas !== undefined && !(Array.isArray(schemas) && schemas.includes(PATCH_OP_URN))) {
      throw badRequest('invalidSyntax', `a PATCH body's "schemas" must contain ${PATCH_OP_URN}`);
    }
    const opsKey = Object.keys(body).find((k) => k.toLowerCase() === 'operations');
    const ops = opsKey !== undefined ? body[opsKey] : undefined;
    if (!Array.isArray(ops) || ops.length === 0) throw badRequest('invalidSyntax', 'a PATCH body needs a non-empty "Operations" list');
    const out = structuredClone(json);
    ops.forEach((raw, i) => {
      const { op, path, value } = parseOp(raw, i);
      if (path !== undefined) this.applyPath(out, op, path, value);
      else this.applyWithoutPath(out, op, value);
    });
    return out;
  }

  /** RFC 7644 §3.5.2.1/.3: a path-less add/replace carries an object of attribute → value. */
  private applyWithoutPath(out: ScimJson, op: Op, value: unknown): void {
    if (op === 'remove') throw badRequest('noTarget', 'a "remove" operation needs a path');
    if (!isObject(value)) throw badRequest('invalidSyntax', `a path-less "${op}" needs an object value`);
    for (const [key, v] of Object.entries(value)) {
      const lower = key.toLowerCase();
      if (lower === 'schemas') continue;
      // Okta repeats the id in a group rename; only a different id is an attempt to change it.
      if (lower === 'id' && v === this.currentId) continue;
      const ext = this.extension(key);
      if (ext) {
        if (!isObject(v)) throw badRequest('invalidValue', `"${key}" must be an object`);
        for (const [k, sv] of Object.entries(v)) this.applyPath(out, op, `${ext.urn}:${k}`, sv);
        continue;
      }
      this.applyPath(out, op, key, v);
    }
  }

  private resolve(path: string): Target | undefined {
    const ext = this.extension(path);
    if (ext) throw badRequest('invalidPath', `"${path}" names a whole extension; name one of its attributes`);
    const problem = filterBoundsProblem(path);
    if (problem !== undefined) throw badRequest('invalidPath', `path is ${problem}`);
    let pp: PatchPath;
    try {
      pp = parsePatchPath(path);
    } catch (err) {
      if (err instanceof FilterSyntaxError) throw badRequest('invalidPath', `invalid path "${path}": ${err.message}`);
      throw err;
    }
    let attrs = this.core;
    let urn: string | undefined;
    if (pp.path.uri !== undefined) {
      const e = this.extension(pp.path.uri);
      if (e) {
        attrs = e.attributes;
        urn = e.urn;
      } else if (pp.path.uri.toLowerCase() !== coreSchemaOf(this.resource).id.toLowerCase()) {
        throw badRequest('invalidPath', `unknown schema "${pp.path.uri}" in path "${path}"`);
      }
    }
    let def = findAttr(attrs, pp.path.name);
    if (!def && pp.path.uri === undefined) {
      // Unqualified extension attributes (`department`) are accepted when unambiguous.
      for (const e of this.extensions) {
        const d = findAttr(e.attributes, pp.path.name);
        if (d) {
          def = d;
          urn = e.urn;
          break;
        }
      }
    }
    if (!def) return undefined;
    if (def.mutability === 'readOnly') throw badRequest('mutability', `"${def.name}" is read-only`);
    const subName = pp.path.subAttr ?? pp.subAttr;
    let sub: AttrDef | undefined;
    if (subName !== undefined) {
      if (def.type !== 'complex') throw badRequest('invalidPath', `"${def.name}" has no sub-attributes`);
      sub = findAttr(def.subAttributes, subName);
      if (!sub) return undefined;
      if (sub.mutability === 'readOnly') throw badRequest('mutability', `"${def.name}.${sub.name}" is read-only`);
    }
    if (pp.filter && !def.multiValued) throw badRequest('invalidPath', `"${def.name}" is not multi-valued and cannot take a [filter]`);
    return { def, ...(urn ? { ext: urn } : {}), ...(sub ? { sub } : {}), ...(pp.filter ? { filter: pp.filter } : {}) };
  }

  private container(out: ScimJson, t: Target, create: boolean): ScimJson | undefined {
    if (t.ext === undefined) return out;
    const key = Object.keys(out).find((k) => k.toLowerCase() === t.ext!.toLowerCase());
    if (key !== undefined && isObject(out[key])) return out[key] as ScimJson;
    if (!create) return undefined;
    const c: ScimJson = {};
    out[t.ext] = c;
    const schemas = Array.isArray(out.schemas) ? (out.schemas as unknown[]) : [];
    if (!schemas.includes(t.ext)) out.schemas = [...schemas, t.ext];
    return c;
  }

  private applyPath(out: ScimJson, op: Op, path: string, value: unknown): void {
    const t = this.resolve(path);
    if (!t) return;
    const removing = op === 'remove' || (value === null && !t.def.multiValued);
    const c = this.container(out, t, !removing);
    if (!c) return;
    const key = t.def.name;
    if (t.filter) return this.applyFiltered(c, op, t, value);
    if (t.sub) {
      const sub = t.sub;
      const targets = t.def.multiValued ? ((c[key] as ScimJson[] | undefined) ?? []) : [isObject(c[key]) ? (c[key] as ScimJson) : (c[key] = {} as ScimJson)];
      for (const item of targets) {
        if (removing || value === null) delete item[sub.name];
        else item[sub.name] = coerceScalar(sub, value);
      }
      if (!t.def.multiValued && Object.keys(c[key] as ScimJson).length === 0) delete c[key];
      return;
    }
    if (op === 'remove') {
      if (t.def.multiValued && value !== undefined && value !== null) {
        // Entra and AWS remove members with `path: members` and a list of the values to drop.
        const drop = new Set((coerceValue(t.def, value) as ScimJson[]).map((v) => identity(t.def, { ...v, type: undefined }).split('\u0000')[0]));
        const kept = ((c[key] as ScimJson[] | undefined) ?? []).filter((e) => !drop.has(identity(t.def, { ...e, type: undefined }).split('\u0000')[0]));
        if (kept.length > 0) c[key] = kept;
        else delete c[key];
      } else {
        delete c[key];
      }
      return;
    }
    if (value === null) {
      delete c[key];
      return;
    }
    const coerced = coerceValue(t.def, value);
    if (t.def.multiValued) {
      const list = coerced as ScimJson[];
      const next = op === 'add' ? mergeMulti(t.def, (c[key] as ScimJson[] | undefined) ?? [], list) : mergeMulti(t.def, [], list);
      if (next.length > 0) c[key] = next;
      else delete c[key];
    } else if (t.def.type === 'complex' && isObject(c[key])) {
      // RFC 7644 §3.5.2.1/.3: sub-attributes not given keep their values.
      c[key] = { ...(c[key] as ScimJson), ...(coerced as ScimJson) };
    } else {
      c[key] = coerced;
    }
  }

  private applyFiltered(c: ScimJson, op: Op, t: Target, value: unknown): void {
    const key = t.def.name;
    const list = Array.isArray(c[key]) ? (c[key] as ScimJson[]) : [];
    const caseExact = (p: string) => findAttr(t.def.subAttributes, p)?.caseExact ?? false;
    const matches = list.filter((item) => isObject(item) && matchesFilter(t.filter!, item, defaultResolver, { caseExact }));
    if (op === 'remove') {
      if (t.sub) for (const m of matches) delete m[t.sub.name];
      else c[key] = list.filter((item) => !matches.includes(item));
    } else if (matches.length === 0) {
      // RFC 7644 §3.5.2.3: replace through a filter that matches nothing is noTarget; an add
      // creates the value the filter describes (how Entra adds a work email).
      const seed = op === 'add' ? valuesFromEqFilter(t.filter!) : undefined;
      if (!seed) throw badRequest('noTarget', `no value of "${key}" matches the filter`);
      const created = t.sub ? { ...seed, [t.sub.name]: value } : { ...seed, ...(isObject(value) ? value : {}) };
      c[key] = mergeMulti(t.def, list, [coerceComplex(t.def, created)]);
    } else {
      for (const m of matches) {
        if (t.sub) m[t.sub.name] = coerceScalar(t.sub, value);
        else Object.assign(m, coerceComplex(t.def, value));
      }
      c[key] = onePrimary(list, matches);
    }
    if (Array.isArray(c[key]) && (c[key] as unknown[]).length === 0) delete c[key];
  }
}
