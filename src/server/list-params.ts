import { FilterSyntaxError, parseFilter, type FilterNode } from '../scim/filter.js';
import { badRequest } from './errors.js';
import { parseProjection, type Projection } from './projection.js';
import { isObject } from './resources.js';

/**
 * Query parameters of a listing (RFC 7644 §3.4.2), from a GET query string or a POST /.search
 * body, validated into one shape.
 */

export interface ListParams {
  filter?: FilterNode;
  sortBy?: string;
  descending: boolean;
  /** 1-based, as in SCIM. */
  startIndex: number;
  count: number;
  projection: Projection;
}

/** Hostile-input bounds: the parser recurses once per parenthesis, so nesting is capped before parsing. */
export const MAX_FILTER_LENGTH = 10_000;
export const MAX_FILTER_NESTING = 32;

function nesting(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '(' || c === '[') max = Math.max(max, ++depth);
    else if (c === ')' || c === ']') depth--;
  }
  return max;
}

/** Whether a filter (or PATCH path) is within the length and nesting the parser is given. */
export function filterBoundsProblem(text: string): string | undefined {
  if (text.length > MAX_FILTER_LENGTH) return `longer than ${MAX_FILTER_LENGTH} characters`;
  if (nesting(text) > MAX_FILTER_NESTING) return `nests deeper than ${MAX_FILTER_NESTING} levels`;
  return undefined;
}

export function parseFilterParam(text: string): FilterNode {
  const problem = filterBoundsProblem(text);
  if (problem !== undefined) throw badRequest('invalidFilter', `filter is ${problem}`);
  try {
    return parseFilter(text);
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw badRequest('invalidFilter', `invalid filter: ${err.message}`);
    throw err;
  }
}

function intParam(name: string, v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw badRequest('invalidValue', `${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

function strParam(name: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest('invalidValue', `${name} must be a string`);
  return v;
}

/** `attributes` in a .search body is a list of strings (RFC 7644 §3.4.3); in a query, comma-separated. */
function listParam(name: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
  return strParam(name, v);
}

export function parseListParams(raw: Record<string, unknown>, maxResults: number, extensions: readonly string[]): ListParams {
  const filterText = strParam('filter', raw.filter);
  const sortOrder = strParam('sortOrder', raw.sortOrder);
  if (sortOrder !== undefined && !/^(ascending|descending)$/i.test(sortOrder)) {
    throw badRequest('invalidValue', `sortOrder must be "ascending" or "descending", got ${JSON.stringify(sortOrder)}`);
  }
  // RFC 7644 §3.4.2.4: startIndex below 1 means 1, a negative count means 0.
  const startIndex = Math.max(1, intParam('startIndex', raw.startIndex) ?? 1);
  const count = Math.min(maxResults, Math.max(0, intParam('count', raw.count) ?? maxResults));
  const sortBy = strParam('sortBy', raw.sortBy);
  return {
    ...(filterText !== undefined && filterText.trim() !== '' ? { filter: parseFilterParam(filterText) } : {}),
    ...(sortBy !== undefined && sortBy !== '' ? { sortBy } : {}),
    descending: sortOrder?.toLowerCase() === 'descending',
    startIndex,
    count,
    projection: parseProjection(listParam('attributes', raw.attributes), listParam('excludedAttributes', raw.excludedAttributes), extensions),
  };
}

/** Query-string parameters by their SCIM names, matched case-insensitively. */
export function queryRecord(query: Iterable<[string, unknown]>): Record<string, unknown> {
  const names = ['filter', 'sortBy', 'sortOrder', 'startIndex', 'count', 'attributes', 'excludedAttributes'];
  const out: Record<string, unknown> = {};
  for (const [k, v] of query) {
    const name = names.find((n) => n.toLowerCase() === k.toLowerCase());
    if (name !== undefined && !(name in out)) out[name] = v;
  }
  return out;
}

export const SEARCH_REQUEST_URN = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

export function searchRecord(body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'a search body must be a JSON object');
  const schemas = body.schemas;
  if (schemas !== undefined && !(Array.isArray(schemas) && schemas.includes(SEARCH_REQUEST_URN))) {
    throw badRequest('invalidSyntax', `a search body's "schemas" must contain ${SEARCH_REQUEST_URN}`);
  }
  return queryRecord(Object.entries(body));
}
