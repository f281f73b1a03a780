import type { UserAttribute } from '../../src/core/attributes.js';
import type { UserInput } from '../../src/core/model.js';
import type { LdapConnection } from './client.js';
import { parseDN } from './escape.js';
import { attrsOf, displayNameOf, first, valuesFor } from './mapping.js';
import { isNumberedForm } from './naming.js';
import type { Settings } from './settings.js';

/**
 * Users whose RDN value is derived rather than mapped: AD's `cn` by default (OpenLDAP with
 * `users.rdnAttribute: cn`). It is the display name (displayNameOf) when the entry is created, so
 * a display name change renames the entry, and only a derived value may be numbered on a clash
 * ("Chris Lee 2"); a mapped RDN (OpenLDAP `uid` = userName) must stay what the source says.
 */
export function isRdnDerived(settings: Settings): boolean {
  const rdn = settings.users.rdnAttribute.toLowerCase();
  return !settings.users.map.some(([, a]) => a.toLowerCase() === rdn);
}

/** What displayNameOf reads: a change of one may change the derived value. */
const SOURCES = ['userName', 'displayName', 'name.givenName', 'name.familyName'] as const;
type Source = (typeof SOURCES)[number];
const SOURCE_SET: ReadonlySet<UserAttribute> = new Set(SOURCES);

function nameInput(get: (key: Source) => string | undefined, userName: string): UserInput {
  const displayName = get('displayName');
  const givenName = get('name.givenName');
  const familyName = get('name.familyName');
  return {
    userName: get('userName') ?? userName,
    active: true,
    ...(displayName !== undefined ? { displayName } : {}),
    name: { ...(givenName !== undefined ? { givenName } : {}), ...(familyName !== undefined ? { familyName } : {}) },
  };
}

/**
 * The entry's RDN value, the name derived from its current attributes (`before`) and from them
 * with this update's changes (`after`): desired holds only what the job manages, so the sources
 * this update does not change come from the entry.
 */
async function derivedNames(
  conn: LdapConnection,
  settings: Settings,
  dn: string,
  desired: UserInput,
  changed: readonly UserAttribute[],
): Promise<{ rdnValue: string; before: string; after: string } | undefined> {
  const [rdn] = parseDN(dn);
  const ava = rdn?.length === 1 ? rdn[0]! : undefined;
  if (!ava || ava.type.toLowerCase() !== settings.users.rdnAttribute.toLowerCase()) return undefined;
  const attrOf = new Map(settings.users.map.filter((e): e is [Source, string] => (SOURCES as readonly string[]).includes(e[0])));
  const [entry] = await conn.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [...attrOf.values()] });
  const cur = attrsOf(entry ?? { dn });
  const current = (key: Source) => {
    const a = attrOf.get(key);
    return (a === undefined ? undefined : first(cur, a)) || undefined;
  };
  const wanted = (key: Source) => (changed.includes(key) ? valuesFor(key, desired)[0] : current(key));
  return { rdnValue: ava.value, before: displayNameOf(nameInput(current, desired.userName)), after: displayNameOf(nameInput(wanted, desired.userName)) };
}

/**
 * For an update of a user with a derived RDN: the new RDN value when the display name changed and
 * the entry is named after the old one (numbered or not), so an account someone named by another
 * convention (`CN=jdoe`) keeps its name; and the value to number from, should the new DN (after a
 * rename or a move) be taken.
 */
export async function derivedRdn(
  conn: LdapConnection,
  settings: Settings,
  dn: string,
  desired: UserInput,
  changed: readonly UserAttribute[],
  moving: boolean,
): Promise<{ rename?: string; numberFrom?: string }> {
  const renaming = changed.some((c) => SOURCE_SET.has(c));
  if (!isRdnDerived(settings) || (!renaming && !moving)) return {};
  const names = await derivedNames(conn, settings, dn, desired, changed);
  if (!names) return {};
  const { rdnValue, before, after } = names;
  const named = isNumberedForm(rdnValue, before);
  // A numbered form of the new name stays (it is numbered for a reason); a change of case does not.
  const keep = rdnValue === after || (isNumberedForm(rdnValue, after) && rdnValue.toLowerCase() !== after.toLowerCase());
  if (renaming && named && !keep) return { rename: after, numberFrom: after };
  return { numberFrom: named ? before : rdnValue };
}
