import type { Entry } from 'ldapts';
import { getPath } from '../../src/core/attributes.js';
import type { UserAttribute } from '../../src/core/attributes.js';
import type { MultiValue, UserInput } from '../../src/core/model.js';
import { guidToString } from './ad/guid.js';
import { isExpired } from './ad/filetime.js';
import { isDisabled } from './ad/uac.js';
import type { LdapConfig } from './config.js';
import { isUnder } from './escape.js';
import { RAW_EXCLUDED } from './flavors.js';
import type { UserMapKey } from './flavors.js';
import type { Settings } from './settings.js';

/**
 * LDAP entries ↔ the SCIM-shaped model, driven by the attribute map in Settings. Attribute names
 * from the server are compared case-insensitively (servers answer with the schema's spelling).
 */

export type Values = string[] | Buffer[];

/**
 * An entry's attributes, looked up case-insensitively (servers answer with the schema's
 * spelling). The direct property hit is the common case, so other spellings are only looked for
 * on a miss: a Map per entry measurably slowed 100k-entry listings.
 */
/** Attribute names as servers spell them, by lowercase name (noted by fast-search.ts). */
const spellings = new Map<string, string>();
const lowered = new Map<string, string>();

export function noteSpelling(name: string): void {
  const lower = name.toLowerCase();
  if (!spellings.has(lower)) spellings.set(lower, name);
}

export class Attrs {
  private lower: Map<string, string> | undefined;
  /**
   * `listed`: the entry comes from a listing (fast-search.ts), whose attribute spellings are all
   * noted, so a miss needs no scan of the entry's keys.
   */
  constructor(
    readonly entry: Entry,
    private readonly listed = false,
  ) {}

  private raw(name: string): string | Buffer | string[] | Buffer[] | undefined {
    const direct = this.entry[name];
    if (direct !== undefined) return direct;
    if (this.listed) {
      let lower = lowered.get(name);
      if (lower === undefined) lowered.set(name, (lower = name.toLowerCase()));
      const spelled = spellings.get(lower);
      return spelled === undefined || spelled === name ? undefined : this.entry[spelled];
    }
    if (!this.lower) {
      this.lower = new Map();
      for (const k in this.entry) this.lower.set(k.toLowerCase(), k);
    }
    const key = this.lower.get(name.toLowerCase());
    return key === undefined ? undefined : this.entry[key];
  }

  first(name: string): string | Buffer | undefined {
    const v = this.raw(name);
    return Array.isArray(v) ? v[0] : v;
  }

  values(name: string): (string | Buffer)[] {
    const v = this.raw(name);
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  }

  /** Attribute names present (with values), as the server spelt them. */
  names(): string[] {
    return Object.keys(this.entry).filter((k) => k !== 'dn');
  }
}

export function attrsOf(entry: Entry, listed = false): Attrs {
  return new Attrs(entry, listed);
}

const text = (x: string | Buffer): string => (typeof x === 'string' ? x : x.toString('utf8'));

export function strings(attrs: Attrs, name: string): string[] {
  const v = attrs.values(name);
  return v.every((x) => typeof x === 'string') ? (v as string[]) : v.map(text);
}

export function first(attrs: Attrs, name: string): string | undefined {
  const x = attrs.first(name);
  return x === undefined ? undefined : text(x);
}

/** The anchor in its canonical string form; undefined when the entry has none. */
export function anchorOf(attrs: Attrs, settings: Settings): string | undefined {
  const v = attrs.first(settings.anchor);
  if (v === undefined) return undefined;
  if (settings.defaults.anchorBinary) return guidToString(typeof v === 'string' ? Buffer.from(v, 'latin1') : v);
  const s = typeof v === 'string' ? v : v.toString('utf8');
  // entryUUID is lowercase from OpenLDAP; lowercasing only when needed saves a string per entry.
  return /[A-F]/.test(s) ? s.toLowerCase() : s;
}

const excludedKeys = new Map<string, boolean>();
function excludedKey(key: string): boolean {
  let x = excludedKeys.get(key);
  if (x === undefined) excludedKeys.set(key, (x = RAW_EXCLUDED.has(key.toLowerCase())));
  return x;
}

/**
 * The entry itself as `raw` (ldapts already gives one value as a string, several as an array),
 * minus secrets and binary values. The entry is not used afterwards, so no copy is made.
 */
export function rawOf(entry: Entry): Record<string, unknown> {
  for (const key in entry) {
    const v = entry[key]!;
    // ldapts lists requested-but-absent attributes as []: absent is absent.
    if (excludedKey(key) || Buffer.isBuffer(v) || (Array.isArray(v) && (v.length === 0 || v.some((x) => typeof x !== 'string')))) delete entry[key];
  }
  return entry;
}

/** A key of the attribute map → the SCIM attribute paths (as compared and written) it feeds. */
export function mapKeyAttribute(key: UserMapKey): UserAttribute {
  if (key === 'phoneNumbers.work' || key === 'phoneNumbers.mobile') return 'phoneNumbers';
  return key as UserAttribute;
}

const pathParts = new Map<string, string[]>();
/** setPath for a fresh object, without splitting the path for every user. */
function assignPath(target: Record<string, unknown>, path: string, value: string): void {
  let parts = pathParts.get(path);
  if (!parts) pathParts.set(path, (parts = path.split('.')));
  let cur = target;
  for (let i = 0; i < parts.length - 1; i++) cur = (cur[parts[i]!] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = value;
}

export interface ReadUser {
  user: Omit<UserInput, 'enterprise'> & { id: string; enterprise?: UserInput['enterprise']; raw?: Record<string, unknown> };
  /** The manager's DN, still to be resolved to an anchor. */
  managerDN?: string;
}

export function activeOf(dn: string, attrs: Attrs, settings: Settings, deactivate: LdapConfig['deactivate'], now: Date): boolean {
  if (settings.flavor === 'ad') {
    const uac = Number(first(attrs, 'userAccountControl') ?? '0');
    return !isDisabled(uac) && !isExpired(first(attrs, 'accountExpires'), now);
  }
  if (!deactivate) return true;
  if ('moveTo' in deactivate) return !isUnder(dn, deactivate.moveTo);
  const want = deactivate.value.toLowerCase();
  return !strings(attrs, deactivate.attribute).some((v) => v.toLowerCase() === want);
}

/** The user an entry describes; undefined when it has no userName. */
export function userFromEntry(
  entry: Entry,
  attrs: Attrs,
  anchor: string,
  settings: Settings,
  deactivate: LdapConfig['deactivate'],
  now: Date,
): ReadUser | undefined {
  const dn = entry.dn;
  const user = { id: anchor, userName: '', active: activeOf(dn, attrs, settings, deactivate, now) } as ReadUser['user'];
  const target = user as unknown as Record<string, unknown>;
  let managerDN: string | undefined;
  for (const [key, attr] of settings.users.map) {
    if (key === 'emails') {
      const values = strings(attrs, attr);
      if (values.length) user.emails = values.map((value, i) => (i === 0 ? { value, type: 'work', primary: true } : { value, type: 'work' }));
    } else if (key === 'phoneNumbers.work' || key === 'phoneNumbers.mobile') {
      const type = key === 'phoneNumbers.work' ? 'work' : 'mobile';
      const values = strings(attrs, attr);
      if (values.length) user.phoneNumbers = [...(user.phoneNumbers ?? []), ...values.map((value) => ({ value, type }))];
    } else if (key === 'enterprise.manager') {
      managerDN = first(attrs, attr);
    } else {
      const v = first(attrs, attr);
      if (v !== undefined && v !== '') assignPath(target, key, v);
    }
  }
  // AD: accounts without a UPN still have a sAMAccountName.
  if (!user.userName && settings.flavor === 'ad') user.userName = first(attrs, 'sAMAccountName') ?? '';
  if (!user.userName) return undefined;
  // Without a displayName attribute, the cn OpenLDAP requires is the display name.
  if (user.displayName === undefined && settings.users.map.some(([k]) => k === 'displayName')) {
    const cn = first(attrs, 'cn');
    if (cn) user.displayName = cn;
  }
  user.raw = rawOf(entry);
  return managerDN ? { user, managerDN } : { user };
}

function emailValues(user: UserInput): string[] {
  const list = [...(user.emails ?? [])].sort((a, b) => Number(b.primary ?? false) - Number(a.primary ?? false));
  return list.map((e) => e.value);
}

function phoneValues(list: readonly MultiValue[] | undefined, type: 'work' | 'mobile'): string[] {
  return (list ?? []).filter((p) => ((p.type ?? 'work').toLowerCase() === 'mobile') === (type === 'mobile')).map((p) => p.value);
}

/** Values of one mapped attribute for a user (manager excluded: it needs a DN lookup). */
export function valuesFor(key: UserMapKey, user: UserInput): string[] {
  if (key === 'emails') return emailValues(user);
  if (key === 'phoneNumbers.work') return phoneValues(user.phoneNumbers, 'work');
  if (key === 'phoneNumbers.mobile') return phoneValues(user.phoneNumbers, 'mobile');
  const v = getPath(user as unknown as Record<string, unknown>, key);
  if (v === undefined || v === null || v === '') return [];
  return [String(v)];
}

/** The map keys a changed SCIM attribute touches. */
export function keysForChange(changed: UserAttribute, settings: Settings): [UserMapKey, string][] {
  return settings.users.map.filter(([key]) => mapKeyAttribute(key) === changed);
}

/** What OpenLDAP's person class requires, when the mapped value is empty. */
export function requiredFallback(attr: string, user: UserInput, settings: Settings): string | undefined {
  if (settings.flavor !== 'openldap') return attr.toLowerCase() === 'cn' ? displayNameOf(user) : undefined;
  const lower = attr.toLowerCase();
  if (lower === 'cn') return displayNameOf(user);
  if (lower === 'sn') return user.name?.familyName ?? user.userName;
  return undefined;
}

export function displayNameOf(user: UserInput): string {
  const names = [user.name?.givenName, user.name?.familyName].filter(Boolean).join(' ');
  return user.displayName ?? (names || user.userName);
}
