import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer tokens (RFC 6750). Each configured token is kept only as a SHA-256 digest and every
 * presented token is compared with every digest in constant time: neither the position of the
 * first differing byte nor the length of a token shows in the response time, and the loop does
 * not stop at the first match.
 */

export interface TokenEntry {
  /** Shown in the access log instead of the token. */
  name: string;
  value: string;
  readOnly: boolean;
}

export interface Caller {
  name: string;
  readOnly: boolean;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class TokenChecker {
  private readonly entries: { digest: Buffer; caller: Caller }[];

  constructor(tokens: readonly TokenEntry[]) {
    if (tokens.length === 0) throw new Error('at least one token is required');
    this.entries = tokens.map((t) => ({ digest: digest(t.value), caller: { name: t.name, readOnly: t.readOnly } }));
  }

  /** The caller for an Authorization header, or undefined (missing, other scheme, unknown token). */
  check(header: string | undefined): Caller | undefined {
    const m = header === undefined ? null : /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    if (!m) return undefined;
    const presented = digest(m[1]!);
    let found: Caller | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(presented, e.digest) && found === undefined) found = e.caller;
    }
    return found;
  }
}
