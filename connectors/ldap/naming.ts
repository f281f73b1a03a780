import { EqualityFilter } from 'ldapts';
import { RemoteError } from '../../src/core/errors.js';
import { resultCode } from './client.js';
import type { LdapConnection } from './client.js';
import { first, attrsOf } from './mapping.js';

/**
 * Names a directory wants unique, and what to do when one is taken.
 *
 * - The RDN must be unique among its siblings. A person's RDN is usually derived from the display
 *   name (AD: `CN=Chris Lee`), and HR data has namesakes, so when the server answers
 *   entryAlreadyExists (68) for the DN, the value is numbered: "Chris Lee 2", "Chris Lee 3", …
 * - AD's sAMAccountName must be unique in the whole domain and is at most 20 characters for users
 *   (it is derived from the userName's local part, or from a group's display name): when AD refuses
 *   it as already in use, a number is fitted in: "chris.lee" → "chris.lee2".
 *
 * A 68 does not say which of the two clashed (Samba and Windows word and code it differently), so
 * the writer asks the server: does the DN exist, is the sAMAccountName held by someone.
 */

/** Values tried per name ("x", "x 2", … "x 20") before giving up with a clear error. */
export const MAX_NAME_TRIES = 20;

/** The `n`th candidate RDN value: the value itself first, then "value 2", "value 3", … */
export function numberedValue(value: string, n: number): string {
  return n <= 1 ? value : `${value} ${n}`;
}

/** Whether `current` is `value` or one of its numbered forms (compared case-insensitively). */
export function isNumberedForm(current: string, value: string): boolean {
  const c = current.toLowerCase();
  const v = value.toLowerCase();
  if (c === v) return true;
  if (!c.startsWith(`${v} `)) return false;
  const n = Number(c.slice(v.length + 1));
  return Number.isInteger(n) && n >= 2 && n <= MAX_NAME_TRIES && String(n) === c.slice(v.length + 1);
}

/**
 * AD sAMAccountName from free text: no `"/\[]:;|=,+*?<>@`, at most `max` characters, and no
 * trailing dots or spaces (Windows logon names cannot end in one). The `n`th candidate (n ≥ 2) has
 * the number appended within the same length: "alexandria.montgomer" → "alexandria.montgome2".
 */
export function samAccountName(value: string, max: number, n = 1): string {
  const clean = value.replace(/["/\\[\]:;|=,+*?<>@]/g, '');
  const suffix = n <= 1 ? '' : String(n);
  return clean.slice(0, max - suffix.length).replace(/[. ]+$/, '') + suffix;
}

export type Clash = 'dn' | 'sAMAccountName';

/** Asks the server which name an add refused with 68 clashed on; undefined when neither is taken. */
export class ClashFinder {
  private domainRoot: Promise<string | undefined> | undefined;

  constructor(private readonly conn: LdapConnection) {}

  async exists(dn: string): Promise<boolean> {
    try {
      return (await this.conn.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] })).length > 0;
    } catch (err) {
      if (resultCode(err) === 32) return false;
      throw err;
    }
  }

  /** Whether any object of the domain (not only the configured bases) holds the sAMAccountName. */
  async samTaken(sam: string): Promise<boolean> {
    this.domainRoot ??= this.conn.rootDSE(['defaultNamingContext']).then((e) => (e ? first(attrsOf(e), 'defaultNamingContext') : undefined));
    const root = await this.domainRoot;
    if (!root) return false;
    // A filter object: the value goes out as written, whatever characters it holds.
    const hits = await this.conn.search(root, { scope: 'sub', filter: new EqualityFilter({ attribute: 'sAMAccountName', value: sam }), attributes: ['1.1'], sizeLimit: 1 });
    return hits.length > 0;
  }

  async of(dn: string, sam: string | undefined): Promise<Clash | undefined> {
    if (await this.exists(dn)) return 'dn';
    if (sam !== undefined && (await this.samTaken(sam))) return 'sAMAccountName';
    return undefined;
  }
}

export interface NameTry {
  /** Which candidate of the RDN value and of the sAMAccountName to use (1 = unnumbered). */
  rdn: number;
  sam: number;
}

/**
 * Runs `add` with the first candidate names, and again with the next RDN or sAMAccountName
 * candidate while the server refuses with 68 and the clash is one `numberRdn` / `sam` allow to
 * resolve. Any other failure, or a clash that may not be numbered, is thrown as it came.
 */
export async function addWithFreeName(
  clashes: ClashFinder,
  object: string,
  opts: { numberRdn: boolean; generatedSam: boolean },
  attempt: (t: NameTry) => { dn: string; sam: string | undefined; add: () => Promise<void> },
): Promise<string> {
  const t: NameTry = { rdn: 1, sam: 1 };
  for (;;) {
    const { dn, sam, add } = attempt(t);
    try {
      await add();
      return dn;
    } catch (err) {
      if (resultCode(err) !== 68) throw err;
      const clash = await clashes.of(dn, sam);
      if (clash === 'dn' && opts.numberRdn) {
        if (t.rdn >= MAX_NAME_TRIES) throw new RemoteError(object, `${dn} and its ${MAX_NAME_TRIES - 1} numbered variants all exist already`, 68);
        t.rdn++;
      } else if (clash === 'sAMAccountName' && opts.generatedSam) {
        if (t.sam >= MAX_NAME_TRIES) throw new RemoteError(object, `no free sAMAccountName: ${JSON.stringify(sam)} and the ${MAX_NAME_TRIES - 1} candidates before it are all in use in the domain`, 68);
        t.sam++;
      } else throw err;
    }
  }
}
