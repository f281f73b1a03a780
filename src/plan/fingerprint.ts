import { createHash } from 'node:crypto';
import { normalizeValue } from '../core/attributes.js';
import type { GroupInput, UserInput } from '../core/model.js';

/**
 * Fingerprints are hashes of the *normalised* desired payload, so two payloads that compare equal
 * (reordered emails, '' vs unset) always hash equal. State stores them after a successful write;
 * they are advisory (a delta-reading target may skip reads with them) — comparison decides changes.
 *
 * The hashed text is exactly `JSON.stringify(normalizeValue(value))`, the bytes every earlier
 * version hashed (so stored fingerprints stay valid). `normalizedJson` writes that text in one
 * pass without building the normalised copy — a fingerprint per planned user made that copy
 * (and the canonical JSON it sorts array items by) most of the cost of planning an initial sync.
 */
function hash(value: unknown): string {
  let text: string;
  try {
    text = normalizedJson(value) ?? 'null';
  } catch (err) {
    if (err !== UNUSUAL) throw err;
    text = JSON.stringify(normalizeValue(value)) ?? 'null';
  }
  return createHash('sha1').update(text).digest('hex');
}

/**
 * Thrown (and caught in `hash`) for input the one-pass writer does not mirror exactly: keys that
 * look like array indices (JSON.stringify puts those first, whatever the insertion order) and
 * values JSON has no text for. No model attribute has either; they take the reference path.
 */
const UNUSUAL = new Error('unusual value for a fingerprint');

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** `"key":` for the few distinct keys payloads have (attribute names), made once. */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 1_000;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    const c = key.charCodeAt(0);
    if (c >= 48 && c <= 57) throw UNUSUAL; // may be an array index: see UNUSUAL
    quoted = `${JSON.stringify(key)}:`;
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/**
 * `JSON.stringify(normalizeValue(value))`, or undefined where normalizeValue gives undefined.
 * Mirrors normalizeValue rule by rule: '' / null / undefined / [] are unset; objects keep their
 * set keys in sorted order and are unset when none is left; a non-empty array keeps its set items
 * sorted by their canonical JSON (which, for a normalised value, is this same text).
 */
function normalizedJson(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return JSON.stringify(value);
  if (type !== 'object') throw UNUSUAL;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    if (value.length === 1) {
      const only = normalizedJson(value[0]);
      return only === undefined ? '[]' : `[${only}]`;
    }
    const items: string[] = [];
    for (const item of value) {
      const text = normalizedJson(item);
      if (text !== undefined) items.push(text);
    }
    items.sort(cmp);
    return `[${items.join(',')}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length > 1) keys.sort();
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const text = normalizedJson(obj[key]);
    if (text === undefined) continue;
    out += (out === '' ? '{' : ',') + quotedKey(key) + text;
  }
  return out === '' ? undefined : `${out}}`;
}

export function fingerprintUser(desired: UserInput): string {
  return hash(desired);
}

export function fingerprintGroup(desired: GroupInput): string {
  return hash(desired);
}
