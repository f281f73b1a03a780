import type { z } from 'zod';
import type { ConfigIssue } from '../core/errors.js';
import { didYouMean } from './suggest.js';

/**
 * Turning zod issues into messages a person editing YAML understands. zod's own defaults
 * ("Invalid input", "Expected number, received string") speak about JavaScript types and never
 * show the key path the way YAML users think of it, so every issue is re-worded here.
 *
 * Values are never echoed (a wrong value may be a secret); only their kind is named.
 */

export type PathSegment = string | number;

/** `jobs.hr.deletes.maxPercent`, `server.tokens[0].value`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out ? '.' : '') + String(seg);
  }
  return out;
}

export function joinPath(base: string, ...rest: PropertyKey[]): string {
  const tail = formatPath(rest);
  if (!base) return tail;
  if (!tail) return base;
  return tail.startsWith('[') ? base + tail : `${base}.${tail}`;
}

/** The kind of a YAML value, for "expected X, got Y". */
export function describeKind(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return value === '' ? 'an empty string' : 'text';
    case 'number':
      return Number.isInteger(value) ? 'an integer' : 'a number';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

const expectedNames: Record<string, string> = {
  string: 'text (a string)',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value pairs)',
  record: 'a mapping (key: value pairs)',
  null: 'null',
  nan: 'a number',
  never: 'nothing here',
};

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

/**
 * The per-parse error map. Schema-level messages (`z.number({ error })`) still take precedence,
 * which is how individual fields get tailored wording such as "expected a number from 0 to 100".
 */
export const humanErrorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'is required';
      const expected = expectedNames[iss.expected] ?? iss.expected;
      return `expected ${expected}, got ${describeKind(iss.input)}`;
    }
    case 'too_small': {
      const min = Number(iss.minimum);
      if (iss.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters long`;
      if (iss.origin === 'array' || iss.origin === 'set') {
        return min <= 1 ? 'must list at least one entry' : `must list at least ${min} entries`;
      }
      return iss.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(iss.maximum);
      if (iss.origin === 'string') return `must be at most ${max} characters long`;
      if (iss.origin === 'array' || iss.origin === 'set') return `must list at most ${max} entries`;
      return iss.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'invalid_value': {
      const suggestion =
        typeof iss.input === 'string' ? didYouMean(iss.input, iss.values.map((v) => String(v))) : '';
      if (iss.values.length === 1) return `expected ${quoteList(iss.values)}${suggestion}`;
      return `expected one of ${quoteList(iss.values)}${suggestion}`;
    }
    case 'invalid_format':
      if (iss.format === 'regex') return 'has an invalid format';
      return `expected a valid ${iss.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${iss.divisor}`;
    case 'unrecognized_keys':
      // Replaced by one issue per key (with suggestions) in zodIssuesToConfigIssues.
      return `unknown key${iss.keys.length > 1 ? 's' : ''} ${quoteList(iss.keys)}`;
    case 'invalid_union':
      return `does not match any accepted form (got ${describeKind(iss.input)})`;
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_element':
      return 'has an invalid entry';
    default:
      return undefined;
  }
};

/**
 * The object keys a schema accepts at `path`, for did-you-mean on unrecognized keys. Walks zod 4's
 * public `def` structures through the wrappers that appear in config schemas.
 */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let cur: z.core.$ZodType | undefined = schema;
  let i = 0;
  for (let guard = 0; cur && guard < 100; guard++) {
    const def = cur._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'nonoptional':
      case 'readonly':
      case 'catch':
        cur = def.innerType as z.core.$ZodType;
        continue;
      case 'pipe':
        cur = def.in as z.core.$ZodType;
        continue;
      case 'lazy':
        cur = (def.getter as () => z.core.$ZodType)();
        continue;
      default:
        break;
    }
    if (i === path.length) {
      if (def.type === 'object') return Object.keys(def.shape as Record<string, unknown>);
      if (def.type === 'union') {
        // Any object branch: good enough for suggestions.
        const keys = new Set<string>();
        for (const option of def.options as z.core.$ZodType[]) {
          for (const k of knownKeysAt(option as z.ZodType, [])) keys.add(k);
        }
        return [...keys];
      }
      if (def.type === 'intersection') {
        return [
          ...knownKeysAt(def.left as z.ZodType, []),
          ...knownKeysAt(def.right as z.ZodType, []),
        ];
      }
      return [];
    }
    const seg = path[i++];
    if (def.type === 'object') cur = (def.shape as Record<string, z.core.$ZodType>)[String(seg)];
    else if (def.type === 'array') cur = def.element as z.core.$ZodType;
    else if (def.type === 'record') cur = def.valueType as z.core.$ZodType;
    else if (def.type === 'union') {
      const rest = path.slice(i - 1);
      const keys = new Set<string>();
      for (const option of def.options as z.core.$ZodType[]) {
        for (const k of knownKeysAt(option as z.ZodType, rest)) keys.add(k);
      }
      return [...keys];
    } else return [];
  }
  return [];
}

/**
 * Flattens zod issues into ConfigIssues under `basePath`. Unknown keys become one issue per key,
 * named by its own path, with a suggestion computed against the keys the schema knows there.
 */
export function zodIssuesToConfigIssues(
  issues: readonly z.core.$ZodIssue[],
  basePath: string,
  schema: z.ZodType,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, iss.path);
      for (const key of iss.keys) {
        out.push({ path: joinPath(basePath, ...iss.path, key), message: `unknown key${didYouMean(key, known)}` });
      }
      continue;
    }
    out.push({ path: joinPath(basePath, ...iss.path), message: iss.message });
  }
  return out;
}

/**
 * Sorts issues into the order their paths appear in the document (depth-first, keys in file
 * order), so a long error list reads top to bottom like the file. A path that is not in the
 * document (a missing required key) sorts with its nearest existing ancestor. Stable otherwise.
 */
export function sortByDocumentOrder(issues: ConfigIssue[], doc: unknown, basePath = ''): ConfigIssue[] {
  const order = new Map<string, number>();
  const walk = (node: unknown, p: string): void => {
    order.set(p, order.size);
    if (Array.isArray(node)) node.forEach((v, i) => walk(v, joinPath(p, i)));
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) walk(v, joinPath(p, k));
    }
  };
  walk(doc, basePath);
  const rank = (p: string): number => {
    for (let cur = p; ; ) {
      const r = order.get(cur);
      if (r !== undefined) return r;
      const cut = Math.max(cur.lastIndexOf('.'), cur.lastIndexOf('['));
      if (cut <= 0) return order.get('') ?? -1;
      cur = cur.slice(0, cut);
    }
  };
  return issues
    .map((issue, i) => ({ issue, i, r: rank(issue.path) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.issue);
}

/** Parses with human messages; returns data or ConfigIssues (in document order). */
export function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  basePath: string,
): { ok: true; data: T } | { ok: false; issues: ConfigIssue[] } {
  const result = schema.safeParse(value, { error: humanErrorMap });
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, issues: sortByDocumentOrder(zodIssuesToConfigIssues(result.error.issues, basePath, schema), value, basePath) };
}
