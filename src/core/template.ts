/**
 * A deliberately tiny template language for attribute mappings:
 *
 *   literal text {{ field | filter | filter "arg" ... }} more text
 *
 * Templates are compiled once into closures; rendering does no parsing and no regex work, because
 * mappings run once per attribute per user on every sync (hundreds of thousands of renders).
 *
 * Rendering rules, chosen so a CSV cell maps naturally onto "set or unset":
 * - a template that is exactly one placeholder returns the value as is, or undefined when it is
 *   missing or empty (an empty cell means "unset", not "set to the empty string");
 * - any other template renders missing fields as "", trims the result, and returns undefined when
 *   nothing is left (so "{{first}} {{last}}" with both missing is unset, not " ").
 */

export type CompiledTemplate = (fields: Readonly<Record<string, unknown>>) => string | undefined;

/** A template that cannot be compiled. `position` is the 0-based offset in the source. */
export class TemplateError extends Error {
  constructor(
    readonly reason: string,
    readonly source: string,
    readonly position: number,
  ) {
    super(`${reason} at character ${position + 1} of template ${JSON.stringify(source)}`);
    this.name = 'TemplateError';
  }
}

type FilterFn = (value: string | undefined) => string | undefined;

interface FilterSpec {
  /** Names of the arguments, for messages; the length is the exact argument count. */
  args: readonly string[];
  make(args: readonly string[], fail: (reason: string) => never): FilterFn;
}

const FILTERS: Readonly<Record<string, FilterSpec>> = {
  lower: { args: [], make: () => (v) => (v === undefined ? v : v.toLowerCase()) },
  upper: { args: [], make: () => (v) => (v === undefined ? v : v.toUpperCase()) },
  trim: { args: [], make: () => (v) => (v === undefined ? v : v.trim()) },
  first: {
    args: [],
    make: () => (v) => {
      if (v === undefined || v === '') return v;
      // By code point, so a leading astral character is not cut in half.
      return String.fromCodePoint(v.codePointAt(0)!);
    },
  },
  ascii: { args: [], make: () => (v) => (v === undefined ? v : toAscii(v)) },
  default: {
    args: ['value'],
    make: ([fallback]) => {
      const f = fallback!;
      return (v) => (v === undefined || v === '' ? f : v);
    },
  },
  replace: {
    args: ['from', 'to'],
    make: ([from, to], fail) => {
      if (from === '') fail('filter "replace" needs a non-empty text to find');
      const find = from!;
      const by = to!;
      // split/join rather than String.replace so "$&" and friends in `to` stay literal.
      return (v) => (v === undefined || v.indexOf(find) === -1 ? v : v.split(find).join(by));
    },
  },
};

export const TEMPLATE_FILTERS: readonly string[] = Object.keys(FILTERS);

// Letters that NFD does not decompose but that users still expect to fold in usernames.
const FOLD: Readonly<Record<string, string>> = {
  ß: 'ss', ẞ: 'SS', æ: 'ae', Æ: 'AE', œ: 'oe', Œ: 'OE', ø: 'o', Ø: 'O', đ: 'd', Đ: 'D',
  ł: 'l', Ł: 'L', þ: 'th', Þ: 'Th', ð: 'd', Ð: 'D', ı: 'i',
};

function toAscii(value: string): string {
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  let out = '';
  for (const ch of value.normalize('NFD')) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x300 && code <= 0x36f) continue; // combining diacritical marks
    out += FOLD[ch] ?? ch;
  }
  return out;
}

interface Placeholder {
  field: string;
  /** `field` split on dots, for nested lookup; undefined when the name has no dot. */
  path: string[] | undefined;
  filters: FilterFn[];
}

type Segment = string | Placeholder;

const isFieldChar = (ch: string): boolean => /[\p{L}\p{N}_.-]/u.test(ch);
const isNameChar = (ch: string): boolean => /[a-z]/i.test(ch);

function parse(source: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  const fail = (reason: string, at: number): never => {
    throw new TemplateError(reason, source, at);
  };

  const skipSpace = () => {
    while (i < source.length && (source[i] === ' ' || source[i] === '\t')) i++;
  };

  const readString = (): string => {
    const quote = source[i]!;
    const start = i;
    i++;
    let out = '';
    while (i < source.length && source[i] !== quote) {
      if (source[i] === '\\' && i + 1 < source.length) i++;
      out += source[i];
      i++;
    }
    if (i >= source.length) fail(`unclosed ${quote} string`, start);
    i++;
    return out;
  };

  const readPlaceholder = (open: number): Placeholder => {
    i = open + 2;
    skipSpace();
    const fieldAt = i;
    let field = '';
    if (source[i] === '"' || source[i] === "'") {
      field = readString();
      if (field === '') fail('empty field name', fieldAt);
    } else {
      while (i < source.length && isFieldChar(source[i]!)) field += source[i++];
      if (field === '') {
        if (i >= source.length) fail('unclosed "{{"', open);
        if (source.startsWith('}}', i) || source[i] === '|') fail('missing field name', fieldAt);
        fail(`unexpected ${JSON.stringify(source[i])} in field name`, i);
      }
    }
    const filters: FilterFn[] = [];
    for (;;) {
      skipSpace();
      if (i >= source.length) fail('unclosed "{{"', open);
      if (source.startsWith('}}', i)) {
        i += 2;
        break;
      }
      if (source[i] !== '|') fail(`unexpected ${JSON.stringify(source[i])}; expected "|" or "}}"`, i);
      i++;
      skipSpace();
      const nameAt = i;
      let name = '';
      while (i < source.length && isNameChar(source[i]!)) name += source[i++];
      if (name === '') {
        if (i >= source.length) fail('unclosed "{{"', open);
        fail('missing filter name after "|"', nameAt);
      }
      const spec = Object.hasOwn(FILTERS, name) ? FILTERS[name] : undefined;
      if (!spec) fail(`unknown filter "${name}" (known filters: ${TEMPLATE_FILTERS.join(', ')})`, nameAt);
      const args: string[] = [];
      for (;;) {
        skipSpace();
        const ch = source[i];
        if (ch === '"' || ch === "'") args.push(readString());
        else if (ch === undefined || ch === '|' || source.startsWith('}}', i)) break;
        else fail(`unexpected ${JSON.stringify(ch)}; filter arguments must be quoted strings`, i);
      }
      if (args.length !== spec!.args.length) {
        const want = spec!.args.length === 0 ? 'no arguments' : spec!.args.map((a) => `"${a}"`).join(' ');
        fail(`filter "${name}" takes ${want}, got ${args.length} argument${args.length === 1 ? '' : 's'}`, nameAt);
      }
      filters.push(spec!.make(args, (reason) => fail(reason, nameAt)));
    }
    return { field, path: field.includes('.') ? field.split('.') : undefined, filters };
  };

  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open === -1) {
      segments.push(source.slice(i));
      break;
    }
    if (open > i) segments.push(source.slice(i, open));
    segments.push(readPlaceholder(open));
  }
  return segments;
}

function toText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (Array.isArray(value)) {
    // Multi-valued SCIM attributes: the primary entry is what a single-valued mapping means.
    const primary = value.find((v) => typeof v === 'object' && v !== null && (v as { primary?: unknown }).primary === true);
    return toText(primary ?? value[0]);
  }
  if (typeof value === 'object' && 'value' in value) return toText((value as { value: unknown }).value);
  return undefined;
}

function lookup(fields: Readonly<Record<string, unknown>>, p: Placeholder): unknown {
  if (p.path === undefined) return fields[p.field];
  let cur: unknown = fields;
  for (const part of p.path) {
    if (cur === null || typeof cur !== 'object') {
      cur = undefined;
      break;
    }
    cur = (cur as Record<string, unknown>)[part];
  }
  // Flat records (CSV rows, LDAP entries) may have keys that merely contain a dot.
  return cur === undefined ? fields[p.field] : cur;
}

function evaluate(p: Placeholder, fields: Readonly<Record<string, unknown>>): string | undefined {
  let v = toText(lookup(fields, p));
  for (const f of p.filters) v = f(v);
  return v;
}

export function compileTemplate(source: string): CompiledTemplate {
  const segments = parse(source);
  if (segments.length === 1 && typeof segments[0] !== 'string') {
    const only = segments[0]!;
    return (fields) => {
      const v = evaluate(only, fields);
      return v === '' ? undefined : v;
    };
  }
  if (segments.every((s) => typeof s === 'string')) {
    const constant = segments.join('').trim();
    return constant === '' ? () => undefined : () => constant;
  }
  const parts: ((fields: Readonly<Record<string, unknown>>) => string)[] = segments.map((s) => {
    if (typeof s === 'string') return () => s;
    return (fields) => evaluate(s, fields) ?? '';
  });
  return (fields) => {
    let out = '';
    for (const part of parts) out += part(fields);
    out = out.trim();
    return out === '' ? undefined : out;
  };
}

/** Field names a template reads, in order of first use. Throws `TemplateError` like compile. */
export function templateFields(source: string): string[] {
  const seen = new Set<string>();
  for (const s of parse(source)) if (typeof s !== 'string') seen.add(s.field);
  return [...seen];
}
