/**
 * AD `objectGUID` conversions. The attribute is 16 raw bytes in the Windows GUID layout: the first
 * three fields (4, 2 and 2 bytes) are stored little-endian, the last 8 bytes in order. Windows tools
 * (PowerShell, `samba-tool user show`, ldbsearch) print the field-swapped form, so the anchor we
 * keep is that canonical string, not a hex dump of the bytes: operators can match it by eye.
 */
import { EqualityFilter } from 'ldapts';

const CANONICAL = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

function hex(bytes: Uint8Array, from: number, to: number, reverse: boolean): string {
  const part = Array.from(bytes.subarray(from, to), (b) => b.toString(16).padStart(2, '0'));
  return (reverse ? part.reverse() : part).join('');
}

/** 16 objectGUID bytes → lowercase `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
export function guidToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`objectGUID must be 16 bytes, got ${bytes.length}`);
  return [
    hex(bytes, 0, 4, true),
    hex(bytes, 4, 6, true),
    hex(bytes, 6, 8, true),
    hex(bytes, 8, 10, false),
    hex(bytes, 10, 16, false),
  ].join('-');
}

/** Canonical GUID string (either case, no braces) → the 16 bytes AD stores. */
export function guidToBytes(guid: string): Buffer {
  const m = CANONICAL.exec(guid);
  if (!m) throw new Error(`not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx): ${JSON.stringify(guid)}`);
  const field = (s: string, reverse: boolean): Buffer => {
    const b = Buffer.from(s, 'hex');
    return reverse ? b.reverse() : b;
  };
  return Buffer.concat([
    field(m[1]!, true),
    field(m[2]!, true),
    field(m[3]!, true),
    field(m[4]!, false),
    field(m[5]!, false),
  ]);
}

/**
 * The assertion value for an `(objectGUID=…)` filter: every byte escaped as `\xx` (RFC 4515).
 * Escaping all bytes, not just the special ones, is what AD expects for binary attributes and is
 * safe for any byte value (NUL, `*`, `(`, `)`, `\`).
 *
 * Do not hand the resulting filter string to ldapts (8.2): its filter parser turns each `\xx` into
 * a JS char and writes the value as UTF-8, so every byte ≥ 0x80 goes out as two bytes and the
 * search silently finds nothing. With ldapts use `guidFilter` (a filter object carrying the raw
 * bytes); this string form is for logs, ldapsearch and other clients.
 */
export function guidFilterValue(guid: string): string {
  return Array.from(guidToBytes(guid), (b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
}

/** `(objectGUID=<bytes>)` as an ldapts filter object, exact on the wire (see guidFilterValue). */
export function guidFilter(guid: string): EqualityFilter {
  return new EqualityFilter({ attribute: 'objectGUID', value: guidToBytes(guid) });
}
