/**
 * Windows FILETIME values as AD stores them in `accountExpires`, `pwdLastSet`, `lastLogonTimestamp`:
 * a decimal string counting 100-nanosecond intervals since 1601-01-01T00:00:00Z. They exceed 2^53,
 * so the arithmetic is done with BigInt. For `accountExpires`, both 0 and 2^63-1 mean "never".
 */

/** 100 ns ticks between 1601-01-01 and 1970-01-01. */
const EPOCH_DIFF = 116444736000000000n;
const TICKS_PER_MS = 10000n;
const NEVER = 9223372036854775807n;

function parse(value: string): bigint {
  if (!/^-?\d+$/.test(value.trim())) throw new Error(`not a FILETIME value: ${JSON.stringify(value)}`);
  return BigInt(value.trim());
}

/** FILETIME string → Date; undefined for absent, `0` and `9223372036854775807` (never). */
export function fileTimeToDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ticks = parse(value);
  if (ticks === 0n || ticks === NEVER) return undefined;
  if (ticks < 0n) throw new Error(`FILETIME value out of range: ${value}`);
  // Truncating to whole milliseconds loses sub-ms precision only, which no AD time field uses.
  return new Date(Number((ticks - EPOCH_DIFF) / TICKS_PER_MS));
}

/** Date → FILETIME decimal string (whole milliseconds). */
export function dateToFileTime(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new Error('invalid date');
  const ticks = BigInt(ms) * TICKS_PER_MS + EPOCH_DIFF;
  if (ticks <= 0n || ticks >= NEVER) throw new Error(`date outside FILETIME range: ${date.toISOString()}`);
  return ticks.toString();
}

/** True when `accountExpires` is a real date at or before `now` (AD disables logon from that instant). */
export function isExpired(accountExpires: string | undefined, now: Date): boolean {
  const at = fileTimeToDate(accountExpires);
  return at !== undefined && at.getTime() <= now.getTime();
}
