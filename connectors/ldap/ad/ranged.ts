import type { Client } from 'ldapts';

/**
 * AD range retrieval (MS-ADTS 3.1.1.3.1.3.3). Windows caps a multi-valued attribute at
 * MaxValRange values (1,500 by default) per answer and names the returned slice
 * `member;range=0-1499`; the client must ask for `member;range=1500-*` and so on until the server
 * answers with a range ending in `*`. Reading only the first slice silently loses members, so every
 * group read goes through here. Samba only slices when asked explicitly, which is why `rangeSize`
 * exists: tests (and cautious callers) can force slicing against any server.
 */

const RANGED = /^(.+?);range=(\d+)-(\d+|\*)$/i;

export function parseRangedName(name: string): { attribute: string; low: number; high: number | '*' } | undefined {
  const m = RANGED.exec(name);
  if (!m) return undefined;
  const low = Number(m[2]);
  const high = m[3] === '*' ? '*' : Number(m[3]);
  if (high !== '*' && high < low) return undefined;
  return { attribute: m[1]!, low, high };
}

function values(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

interface Slice {
  low: number;
  high: number | '*';
  values: string[];
}

/**
 * The ranged slice of `attribute` in `entry`, if the server sent one (names compare
 * case-insensitively). Slices without values are ignored: ldapts adds every requested attribute
 * the server did not return as `[]`, so asking for `member;range=1500-*` yields such a key even
 * when the server answered with `member;range=1500-2999` or with nothing at all.
 */
function findSlice(entry: Record<string, unknown>, attribute: string, dn: string): Slice | undefined {
  const want = attribute.toLowerCase();
  const found: Slice[] = [];
  for (const [key, raw] of Object.entries(entry)) {
    const r = parseRangedName(key);
    if (!r || r.attribute.toLowerCase() !== want) continue;
    const v = values(raw);
    if (v.length > 0) found.push({ low: r.low, high: r.high, values: v });
  }
  if (found.length > 1) {
    throw new Error(`ranged read of ${attribute} on ${dn}: several ranges in one answer (${found.map((f) => `${f.low}-${f.high}`).join(', ')})`);
  }
  return found[0];
}

function findPlain(entry: Record<string, unknown>, attribute: string): string[] | undefined {
  const want = attribute.toLowerCase();
  for (const [key, raw] of Object.entries(entry)) {
    if (key.toLowerCase() === want) return values(raw);
  }
  return undefined;
}

/** Whether the entry names the attribute at all, plain or ranged, with or without values. */
function mentions(entry: Record<string, unknown>, attribute: string): boolean {
  const want = attribute.toLowerCase();
  return Object.keys(entry).some((key) => key.toLowerCase() === want || parseRangedName(key)?.attribute.toLowerCase() === want);
}

function requestName(attribute: string, low: number, rangeSize: number | undefined): string {
  if (rangeSize === undefined) return low === 0 ? attribute : `${attribute};range=${low}-*`;
  return `${attribute};range=${low}-${low + rangeSize - 1}`;
}

async function fetchEntry(client: Client, dn: string, attr: string): Promise<Record<string, unknown>> {
  const { searchEntries } = await client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [attr] });
  if (searchEntries.length !== 1) {
    throw new Error(`ranged read of ${attr} on ${dn}: expected one entry, got ${searchEntries.length}`);
  }
  return searchEntries[0] as Record<string, unknown>;
}

/**
 * All values of a multi-valued attribute of one entry, following AD ranged retrieval
 * (`member;range=low-high` ... until `*`). `first` = the entry's attributes as already read (may hold
 * a ranged or a plain `member`); further ranges are fetched with base-scope searches on `dn`.
 * Throws (never returns a partial list) when the server's answers do not join up.
 */
export async function readAllValues(
  client: Client,
  dn: string,
  attribute: string,
  first?: Record<string, unknown>,
  rangeSize?: number,
): Promise<string[]> {
  if (rangeSize !== undefined && (!Number.isInteger(rangeSize) || rangeSize < 1)) {
    throw new Error(`rangeSize must be a positive integer, got ${rangeSize}`);
  }
  let fetched = first === undefined;
  let entry = first ?? (await fetchEntry(client, dn, requestName(attribute, 0, rangeSize)));
  const out: string[] = [];
  let low = 0;
  for (;;) {
    const slice = findSlice(entry, attribute, dn);
    if (!slice) {
      // No slice at the start: the server sent the whole attribute (or none: AD omits empty ones,
      // and ldapts then lists the requested name with no values).
      if (low === 0) {
        const plain = findPlain(entry, attribute);
        if (plain !== undefined) return plain;
        if (fetched || mentions(entry, attribute)) return [];
        // `first` does not mention the attribute at all: it was not asked for, so ask.
        fetched = true;
        entry = await fetchEntry(client, dn, requestName(attribute, 0, rangeSize));
        continue;
      }
      // Mid-way the server must answer with the next slice (Samba and Windows end with `low-*`
      // instead of leaving one to ask beyond the last value); nothing means the values shrank
      // between requests, and returning what we have would silently drop members.
      throw new Error(`ranged read of ${attribute} on ${dn}: no ${attribute};range=${low}-… in the answer after ${out.length} values`);
    }
    if (slice.low !== low) {
      throw new Error(`ranged read of ${attribute} on ${dn}: asked from ${low}, server answered range ${slice.low}-${slice.high}`);
    }
    if (slice.high !== '*' && slice.values.length !== slice.high - slice.low + 1) {
      throw new Error(`ranged read of ${attribute} on ${dn}: range ${slice.low}-${slice.high} carried ${slice.values.length} values`);
    }
    out.push(...slice.values);
    if (slice.high === '*') return out;
    low = slice.high + 1;
    entry = await fetchEntry(client, dn, requestName(attribute, low, rangeSize));
  }
}
