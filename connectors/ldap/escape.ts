import { Filter } from 'ldapts';

/**
 * DN strings (RFC 4514) and filter values (RFC 4515).
 *
 * Filter escaping is ldapts's own (`Filter.escape`). DN values are escaped here because ldapts's
 * RDN builder quotes values with leading or trailing spaces (RFC 2253 syntax that RFC 4514
 * dropped), and its `modifyDN` finds the new RDN's end with the regex `[^\\],`: so a backslash is
 * written as the hex pair `\5C` (never `\\`) and a comma always as `\,`, which keeps that split right.
 * Parsing is needed to compare DNs the way a server does (member values and entry DNs differ in
 * case, spacing and escaping), and no maintained parser exists besides ldapjs's, which is archived.
 */

export function escapeFilterValue(value: string | Buffer): string {
  return Filter.escape(value);
}

export function escapeDNValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\') out += '\\5C';
    else if (c === '\0') out += '\\00';
    else if (c === ',' || c === '+' || c === '"' || c === '<' || c === '>' || c === ';' || c === '=') out += `\\${c}`;
    else if (i === 0 && (c === '#' || c === ' ')) out += `\\${c}`;
    else if (i === value.length - 1 && c === ' ') out += '\\ ';
    else out += c;
  }
  return out;
}

export interface Ava {
  type: string;
  value: string;
}
/** One RDN: usually one attribute-value pair, several when multi-valued (`cn=a+sn=b`). */
export type Rdn = Ava[];

export class DNSyntaxError extends Error {
  constructor(dn: string, reason: string) {
    super(`invalid DN ${JSON.stringify(dn)}: ${reason}`);
    this.name = 'DNSyntaxError';
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** DNs without escapes, quotes, multi-valued RDNs or hex values: the common case, split directly. */
const NEEDS_PARSER = /[\\"+;#]/;

/** Parses an RFC 4514 DN into RDNs (most specific first), values unescaped. */
export function parseDN(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  if (dn.trim() === '') return rdns;
  let i = 0;
  const n = dn.length;
  let rdn: Rdn = [];
  while (i < n) {
    while (i < n && dn[i] === ' ') i++;
    const eq = dn.indexOf('=', i);
    if (eq === -1) throw new DNSyntaxError(dn, `missing "=" after position ${i}`);
    const type = dn.slice(i, eq).trim();
    if (type === '') throw new DNSyntaxError(dn, `empty attribute type at position ${i}`);
    i = eq + 1;
    let value: string;
    if (dn[i] === '#') {
      // A BER-encoded value in hex: kept as written; compared as a string.
      let j = i + 1;
      while (j < n && /[0-9a-fA-F]/.test(dn[j]!)) j++;
      value = dn.slice(i, j);
      i = j;
    } else if (dn[i] === '"') {
      // RFC 2253 quoting, still sent by some servers.
      let j = i + 1;
      let v = '';
      while (j < n && dn[j] !== '"') {
        if (dn[j] === '\\' && j + 1 < n) j++;
        v += dn[j];
        j++;
      }
      if (j >= n) throw new DNSyntaxError(dn, 'unterminated quoted value');
      value = v;
      i = j + 1;
    } else {
      // Runs of plain characters are sliced whole; hex pairs collect bytes decoded together
      // (a UTF-8 character may be escaped byte by byte, `\C3\B6`).
      value = '';
      let pending: number[] = [];
      let significant = 0;
      const flush = () => {
        if (pending.length === 0) return;
        value += Buffer.from(pending).toString('utf8');
        pending = [];
        significant = value.length;
      };
      while (i < n) {
        const c = dn.charCodeAt(i);
        if (c === 44 || c === 43 || c === 59) break; // , + ;
        if (c === 92) {
          // backslash
          if (isHex(dn.charCodeAt(i + 1)) && isHex(dn.charCodeAt(i + 2))) {
            pending.push(parseInt(dn.slice(i + 1, i + 3), 16));
            i += 3;
            continue;
          }
          flush();
          if (i + 1 >= n) throw new DNSyntaxError(dn, 'trailing backslash');
          const ch = String.fromCodePoint(dn.codePointAt(i + 1)!);
          value += ch;
          significant = value.length;
          i += 1 + ch.length;
          continue;
        }
        flush();
        let j = i + 1;
        while (j < n) {
          const d = dn.charCodeAt(j);
          if (d === 44 || d === 43 || d === 59 || d === 92) break;
          j++;
        }
        const run = dn.slice(i, j);
        value += run;
        // Unescaped trailing spaces are not part of the value.
        const kept = run.replace(/ +$/, '').length;
        if (kept > 0) significant = value.length - (run.length - kept);
        i = j;
      }
      flush();
      value = value.slice(0, significant);
    }
    rdn.push({ type, value });
    while (i < n && dn[i] === ' ') i++;
    if (i >= n) break;
    const sep = dn[i];
    i++;
    if (sep === '+') continue;
    if (sep !== ',' && sep !== ';') throw new DNSyntaxError(dn, `unexpected ${JSON.stringify(sep)} at position ${i - 1}`);
    rdns.push(rdn);
    rdn = [];
  }
  if (rdn.length === 0) throw new DNSyntaxError(dn, 'ends with a separator');
  rdns.push(rdn);
  return rdns;
}

export function formatRdn(rdn: Rdn): string {
  return rdn.map((a) => `${a.type}=${escapeDNValue(a.value)}`).join('+');
}

export function formatDN(rdns: readonly Rdn[]): string {
  return rdns.map(formatRdn).join(',');
}

/**
 * A comparison key for a DN: types and values lowercased (the naming attributes in use, cn, uid,
 * ou, dc, o, are case-insensitive), AVAs of a multi-valued RDN sorted, one escaping. Two DNs the
 * server considers the same give the same key; unparsable input is its own (lowercased) key.
 */
export function normalizeDN(dn: string): string {
  return normalizedRdns(dn).join(',');
}

function normalizedRdns(dn: string): string[] {
  if (!NEEDS_PARSER.test(dn)) {
    // Same result as the parser below for these DNs, without building AVAs (hot: every member value).
    const parts = dn.split(',');
    const out: string[] = [];
    for (const part of parts) {
      const eq = part.indexOf('=');
      if (eq <= 0) return [dn.trim().toLowerCase()];
      out.push(`${part.slice(0, eq).trim().toLowerCase()}=${normalValue(part.slice(eq + 1))}`);
    }
    return out;
  }
  let rdns: Rdn[];
  try {
    rdns = parseDN(dn);
  } catch {
    return [dn.trim().toLowerCase()];
  }
  return rdns.map((rdn) =>
    rdn
      .map((a) => `${a.type.toLowerCase()}=${normalValue(a.value)}`)
      .sort()
      .join('+'),
  );
}

function normalValue(value: string): string {
  return escapeDNValue(value.toLowerCase().replace(/\s+/g, ' ').trim());
}

/** The DN's parent (`ou=people,dc=x` for `uid=a,ou=people,dc=x`), '' for a one-RDN DN. */
export function parentDN(dn: string): string {
  return formatDN(parseDN(dn).slice(1));
}

/** True when `dn` equals `ancestor` or lies below it (compared RDN by RDN, normalised). */
export function isUnder(dn: string, ancestor: string): boolean {
  const a = normalizedRdns(ancestor);
  const d = normalizedRdns(dn);
  if (ancestor.trim() === '') return true;
  if (a.length > d.length) return false;
  const offset = d.length - a.length;
  return a.every((r, i) => d[offset + i] === r);
}
