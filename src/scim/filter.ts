/**
 * SCIM filter expressions (RFC 7644 §3.4.2.2): parsing into an AST.
 *
 * Written by hand rather than taken from npm: the published parsers either expose no AST
 * (scim-query-filter-parser compiles straight to a predicate) or report errors without positions,
 * do not decode JSON string escapes, and rewrite `emails[type eq "work"].value` into a
 * non-equivalent `and` (scim2-parse-filter). The grammar is small enough that a recursive-descent
 * parser is the clearer dependency.
 *
 * Keywords, operators and literals are case-insensitive (ABNF strings are). Positions are 0-based
 * character offsets into the filter text, as in JSON.parse messages.
 */

export const COMPARE_OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];

export type CompareValue = string | number | boolean | null;

/** `[uri ":"] name ["." subAttr]`, e.g. `urn:…:enterprise:2.0:User:manager.value`. */
export interface AttrPath {
  /** Schema URN prefix when written, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`. */
  uri?: string;
  name: string;
  subAttr?: string;
}

export type FilterNode =
  | { type: 'compare'; op: CompareOp; path: AttrPath; value: CompareValue }
  | { type: 'present'; path: AttrPath }
  | { type: 'and'; filters: FilterNode[] }
  | { type: 'or'; filters: FilterNode[] }
  | { type: 'not'; filter: FilterNode }
  /** `emails[type eq "work"]`: `filter` is evaluated against each value of `path`, paths relative to it. */
  | { type: 'valuePath'; path: AttrPath; filter: FilterNode };

/** A PATCH `path` (RFC 7644 §3.5.2): an attribute path, optionally with a value filter and sub-attribute. */
export interface PatchPath {
  path: AttrPath;
  filter?: FilterNode;
  /** The sub-attribute after `]`, as in `emails[type eq "work"].value`. */
  subAttr?: string;
}

export class FilterSyntaxError extends Error {
  constructor(
    message: string,
    /** 0-based offset into the filter text. */
    readonly position: number,
  ) {
    super(message);
    this.name = 'FilterSyntaxError';
  }
}

/** The string form of a path, as given to resolvers: `name.givenName`, `urn:…:User:department`. */
export function attrPathToString(p: AttrPath): string {
  return `${p.uri ? p.uri + ':' : ''}${p.name}${p.subAttr !== undefined ? '.' + p.subAttr : ''}`;
}

type TokenKind = 'word' | 'string' | 'number' | '(' | ')' | '[' | ']' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
  /** Decoded string value for `string` tokens. */
  value?: string;
}

const WORD_START = /[A-Za-z$_]/;
const WORD_CHAR = /[A-Za-z0-9$_:.-]/;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ kind: c, text: c, pos: i });
      i++;
      continue;
    }
    if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i++;
        i++;
      }
      if (i >= text.length) throw new FilterSyntaxError(`unterminated string starting at position ${start}`, start);
      i++;
      const raw = text.slice(start, i);
      let value: string;
      try {
        // JSON string rules are exactly SCIM's (RFC 7644 refers to RFC 7159 for compValue).
        value = JSON.parse(raw) as string;
      } catch {
        throw new FilterSyntaxError(`invalid escape or control character in string at position ${start}`, start);
      }
      tokens.push({ kind: 'string', text: raw, pos: start, value });
      continue;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      const end = m ? i + m[0].length : i;
      // A number glued to letters ("12abc", "01") is not a number.
      if (!m || (end < text.length && WORD_CHAR.test(text[end]!))) {
        let j = i + 1;
        while (j < text.length && WORD_CHAR.test(text[j]!)) j++;
        throw new FilterSyntaxError(`invalid number "${text.slice(i, j)}" at position ${i}`, i);
      }
      tokens.push({ kind: 'number', text: m[0], pos: i });
      i = end;
      continue;
    }
    if (WORD_START.test(c)) {
      const start = i;
      while (i < text.length && WORD_CHAR.test(text[i]!)) i++;
      tokens.push({ kind: 'word', text: text.slice(start, i), pos: start });
      continue;
    }
    throw new FilterSyntaxError(`unexpected "${c}" at position ${i}`, i);
  }
  tokens.push({ kind: 'eof', text: '', pos: text.length });
  return tokens;
}

const opSet: ReadonlySet<string> = new Set(COMPARE_OPS);
const ATTR_NAME = /^[A-Za-z$_][A-Za-z0-9$_-]*$/;

function describe(t: Token): string {
  return t.kind === 'eof' ? `end of filter at position ${t.pos}` : `"${t.text}" at position ${t.pos}`;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  current(): Token {
    return this.peek();
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }
  private isWord(t: Token, word: string): boolean {
    return t.kind === 'word' && t.text.toLowerCase() === word;
  }
  fail(t: Token, expected?: string): never {
    throw new FilterSyntaxError(`unexpected ${describe(t)}${expected ? `: expected ${expected}` : ''}`, t.pos);
  }
  expect(kind: TokenKind, expected: string): Token {
    const t = this.next();
    if (t.kind !== kind) this.fail(t, expected);
    return t;
  }
  atEnd(): boolean {
    return this.peek().kind === 'eof';
  }

  /** filter := and ("or" and)* */
  parseOr(inValue: boolean): FilterNode {
    const parts = [this.parseAnd(inValue)];
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      parts.push(this.parseAnd(inValue));
    }
    return parts.length === 1 ? parts[0]! : { type: 'or', filters: flatten('or', parts) };
  }

  parseAnd(inValue: boolean): FilterNode {
    const parts = [this.parseUnary(inValue)];
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      parts.push(this.parseUnary(inValue));
    }
    return parts.length === 1 ? parts[0]! : { type: 'and', filters: flatten('and', parts) };
  }

  parseUnary(inValue: boolean): FilterNode {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const inner = this.parseOr(inValue);
      this.expect(')', '")"');
      return inner;
    }
    // "not" is a keyword before "("; before an operator it can only be an attribute called "not".
    if (this.isWord(t, 'not') && this.tokens[this.i + 1]?.kind === '(') {
      this.next();
      this.next();
      const inner = this.parseOr(inValue);
      this.expect(')', '")"');
      return { type: 'not', filter: inner };
    }
    if (t.kind !== 'word' || this.isWord(t, 'and') || this.isWord(t, 'or')) {
      this.fail(t, 'an attribute name, "(" or "not ("');
    }
    if (this.isWord(t, 'not')) {
      const after = this.tokens[this.i + 1]!;
      const isOp = after.kind === 'word' && (opSet.has(after.text.toLowerCase()) || after.text.toLowerCase() === 'pr');
      if (!isOp && after.kind !== '[') this.fail(after, '"(" after "not"');
    }
    this.next();
    const path = parseAttrPath(t.text, t.pos);
    const after = this.peek();
    if (after.kind === '[') {
      if (inValue) this.fail(after, 'an operator (value filters cannot be nested)');
      this.next();
      const inner = this.parseOr(true);
      this.expect(']', '"]"');
      return { type: 'valuePath', path, filter: inner };
    }
    if (after.kind !== 'word') this.fail(after, `an operator after "${t.text}" (eq, ne, co, sw, ew, gt, ge, lt, le, pr)`);
    const op = after.text.toLowerCase();
    if (op === 'pr') {
      this.next();
      return { type: 'present', path };
    }
    if (!opSet.has(op)) this.fail(after, `an operator after "${t.text}" (eq, ne, co, sw, ew, gt, ge, lt, le, pr)`);
    this.next();
    const value = this.parseValue();
    return { type: 'compare', op: op as CompareOp, path, value };
  }

  parseValue(): CompareValue {
    const t = this.next();
    if (t.kind === 'string') return t.value!;
    if (t.kind === 'number') return Number(t.text);
    if (t.kind === 'word') {
      const w = t.text.toLowerCase();
      if (w === 'true') return true;
      if (w === 'false') return false;
      if (w === 'null') return null;
    }
    this.fail(t, 'a value (a "quoted string", number, true, false or null)');
  }
}

function flatten(type: 'and' | 'or', parts: FilterNode[]): FilterNode[] {
  return parts.flatMap((p) => (p.type === type ? p.filters : [p]));
}

function parseAttrPath(text: string, pos: number): AttrPath {
  let uri: string | undefined;
  let rest = text;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0) {
    uri = text.slice(0, lastColon);
    rest = text.slice(lastColon + 1);
    if (!/^urn:/i.test(uri)) {
      throw new FilterSyntaxError(`invalid attribute name "${text}" at position ${pos}: only a "urn:" schema prefix may contain ":"`, pos);
    }
  }
  const parts = rest.split('.');
  if (parts.length > 2 || parts.some((p) => !ATTR_NAME.test(p))) {
    throw new FilterSyntaxError(`invalid attribute path "${text}" at position ${pos}`, pos);
  }
  const path: AttrPath = { name: parts[0]! };
  if (uri !== undefined) path.uri = uri;
  if (parts[1] !== undefined) path.subAttr = parts[1];
  return path;
}

/** Parses a filter; throws FilterSyntaxError with a 0-based `position`. */
export function parseFilter(text: string): FilterNode {
  const parser = new Parser(tokenize(text));
  if (parser.atEnd()) throw new FilterSyntaxError('empty filter', 0);
  const node = parser.parseOr(false);
  if (!parser.atEnd()) parser.fail(parser.current(), '"and", "or" or the end of the filter');
  return node;
}

/** Parses a PATCH operation path: `members`, `name.givenName`, `emails[type eq "work"].value`. */
export function parsePatchPath(text: string): PatchPath {
  // The ".subAttr" after "]" is not part of the filter grammar, so it is split off before tokenizing.
  const tail = /\]\s*\.([A-Za-z$_][A-Za-z0-9$_-]*)\s*$/.exec(text);
  const body = tail ? text.slice(0, tail.index + 1) : text;
  const parser = new Parser(tokenize(body));
  const first = parser.current();
  if (first.kind !== 'word') parser.fail(first, 'an attribute path');
  parser.expect('word', 'an attribute path');
  const path = parseAttrPath(first.text, first.pos);
  if (parser.atEnd()) return { path };
  parser.expect('[', '"[" or the end of the path');
  const filter = parser.parseOr(true);
  parser.expect(']', '"]"');
  if (!parser.atEnd()) parser.fail(parser.current(), 'the end of the path');
  const result: PatchPath = { path, filter };
  if (tail) result.subAttr = tail[1]!;
  return result;
}

function formatValue(v: CompareValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Canonical text of a filter (lower-case operators, minimal parentheses): what a SCIM client
 * sends, and what `parseFilter` reads back to the same AST.
 */
export function formatFilter(node: FilterNode): string {
  const wrap = (child: FilterNode, parent: 'and' | 'or'): string => {
    const text = formatFilter(child);
    // "or" inside "and" needs parentheses; everything else binds at least as tightly.
    return (parent === 'and' && child.type === 'or') || child.type === parent ? `(${text})` : text;
  };
  switch (node.type) {
    case 'compare':
      return `${attrPathToString(node.path)} ${node.op} ${formatValue(node.value)}`;
    case 'present':
      return `${attrPathToString(node.path)} pr`;
    case 'and':
    case 'or':
      return node.filters.map((f) => wrap(f, node.type)).join(` ${node.type} `);
    case 'not':
      return `not (${formatFilter(node.filter)})`;
    case 'valuePath':
      return `${attrPathToString(node.path)}[${formatFilter(node.filter)}]`;
  }
}
