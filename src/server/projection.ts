import { CORE_GROUP_URN, CORE_USER_URN, type ScimJson } from '../scim/schemas.js';
import { badRequest } from './errors.js';
import { isObject } from './resources.js';

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) applied to a rendered resource.
 * `id` and `schemas` are always returned; names are case-insensitive and may carry a schema URN.
 */

interface Ref {
  /** Undefined for core attributes; the extension URN (lower-case) otherwise. */
  ext?: string;
  /** Lower-case attribute name; undefined when the whole extension is meant. */
  name?: string;
  sub?: string;
}

export interface Projection {
  include?: Ref[];
  exclude?: Ref[];
}

const CORE = new Set([CORE_USER_URN.toLowerCase(), CORE_GROUP_URN.toLowerCase()]);

function parseRef(text: string, extensions: readonly string[]): Ref {
  const t = text.trim();
  const lower = t.toLowerCase();
  const ext = extensions.find((e) => lower === e.toLowerCase() || lower.startsWith(e.toLowerCase() + ':'));
  if (ext !== undefined) {
    const rest = t.slice(ext.length + 1);
    if (rest === '') return { ext: ext.toLowerCase() };
    const [name, sub] = rest.split('.');
    return { ext: ext.toLowerCase(), name: name!.toLowerCase(), ...(sub ? { sub: sub.toLowerCase() } : {}) };
  }
  let rest = t;
  const core = [...CORE].find((c) => lower.startsWith(c + ':'));
  if (core) rest = t.slice(core.length + 1);
  if (!/^[A-Za-z$_][\w$-]*(\.[A-Za-z$_][\w$-]*)?$/.test(rest)) throw badRequest('invalidValue', `invalid attribute name "${t}"`);
  const [name, sub] = rest.split('.');
  return { name: name!.toLowerCase(), ...(sub ? { sub: sub.toLowerCase() } : {}) };
}

function parseList(value: string | null | undefined, extensions: readonly string[]): Ref[] | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  return value.split(',').filter((s) => s.trim() !== '').map((s) => parseRef(s, extensions));
}

export function parseProjection(attributes: string | null | undefined, excluded: string | null | undefined, extensions: readonly string[]): Projection {
  const p: Projection = {};
  const inc = parseList(attributes, extensions);
  const exc = parseList(excluded, extensions);
  // RFC 7644 §3.9: when both are given, attributes wins.
  if (inc) p.include = inc;
  else if (exc) p.exclude = exc;
  return p;
}

/** Whether the response will contain `name` (a core attribute): lets the backend skip loading it. */
export function wants(p: Projection, name: string): boolean {
  const n = name.toLowerCase();
  if (p.include) return p.include.some((r) => r.ext === undefined && r.name === n);
  if (p.exclude) return !p.exclude.some((r) => r.ext === undefined && r.name === n && r.sub === undefined);
  return true;
}

function keyOf(obj: ScimJson, lowerName: string): string | undefined {
  return Object.keys(obj).find((k) => k.toLowerCase() === lowerName);
}

function pick(value: unknown, sub: string): unknown {
  if (Array.isArray(value)) {
    const items = value.filter(isObject).map((v) => {
      const k = keyOf(v, sub);
      return k !== undefined ? { [k]: v[k] } : undefined;
    });
    const kept = items.filter((v) => v !== undefined);
    return kept.length > 0 ? kept : undefined;
  }
  if (isObject(value)) {
    const k = keyOf(value, sub);
    return k !== undefined ? { [k]: value[k] } : undefined;
  }
  return undefined;
}

function merge(target: ScimJson, key: string, value: unknown): void {
  const existing = target[key];
  if (isObject(existing) && isObject(value)) target[key] = { ...existing, ...value };
  else if (Array.isArray(existing) && Array.isArray(value)) target[key] = existing.map((e, i) => ({ ...(e as object), ...(value[i] as object) }));
  else target[key] = value;
}

function containerOf(json: ScimJson, ref: Ref): { obj: ScimJson | undefined; key?: string } {
  if (ref.ext === undefined) return { obj: json };
  const k = keyOf(json, ref.ext);
  return { obj: k !== undefined && isObject(json[k]) ? (json[k] as ScimJson) : undefined, key: k };
}

export function project(json: ScimJson, p: Projection): ScimJson {
  if (p.include) {
    const out: ScimJson = { schemas: json.schemas, id: json.id };
    for (const ref of p.include) {
      const { obj, key: extKey } = containerOf(json, ref);
      if (!obj) continue;
      let target = out;
      if (extKey !== undefined) {
        if (ref.name === undefined) {
          out[extKey] = obj;
          continue;
        }
        target = isObject(out[extKey]) ? (out[extKey] as ScimJson) : (out[extKey] = {} as ScimJson);
      }
      const k = keyOf(obj, ref.name!);
      if (k === undefined) continue;
      const value = ref.sub !== undefined ? pick(obj[k], ref.sub) : obj[k];
      if (value !== undefined) merge(target, k, value);
    }
    return out;
  }
  if (p.exclude) {
    const out: ScimJson = structuredClone(json);
    for (const ref of p.exclude) {
      const { obj, key: extKey } = containerOf(out, ref);
      if (!obj) continue;
      if (ref.name === undefined) {
        if (extKey !== undefined) delete out[extKey];
        continue;
      }
      const k = keyOf(obj, ref.name);
      if (k === undefined || (ref.ext === undefined && (k === 'id' || k === 'schemas'))) continue;
      if (ref.sub === undefined) {
        delete obj[k];
        continue;
      }
      const items = Array.isArray(obj[k]) ? (obj[k] as unknown[]) : [obj[k]];
      for (const item of items) {
        if (!isObject(item)) continue;
        const sk = keyOf(item, ref.sub);
        if (sk !== undefined) delete item[sk];
      }
    }
    return out;
  }
  return json;
}
