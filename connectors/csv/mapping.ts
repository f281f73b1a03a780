import { USER_ATTRIBUTES, type UserAttribute } from '../../src/core/attributes.js';
import type { User } from '../../src/core/model.js';
import { compileTemplate, templateFields, type CompiledTemplate } from '../../src/core/template.js';

/** A user as the mapping produces it; id and active come from the id and status columns. */
export type MappedUser = Omit<User, 'id' | 'active' | 'userName'> & { userName?: string };

type Target = Record<string, unknown>;
type Setter = (user: Target, value: string) => void;

interface CompiledEntry {
  key: string;
  template: CompiledTemplate;
  set: Setter;
}

export interface UserMapping {
  /** Exactly the attributes rows set (plus `active`), in USER_ATTRIBUTES order. */
  attributes: readonly UserAttribute[];
  /** Columns each mapping key reads, to check against the header before mapping any row. */
  references: readonly { key: string; columns: readonly string[] }[];
  /** Writes the mapped attributes into `into` (which carries id, active, raw) and returns it. */
  map<T extends object>(row: Readonly<Record<string, string>>, into: T): T & MappedUser;
}

function pathSetter(path: string): (user: Target, value: unknown) => void {
  const parts = path.split('.');
  const leaf = parts.pop()!;
  return (user, value) => {
    let cur = user;
    for (const part of parts) {
      let next = cur[part] as Target | undefined;
      if (next === undefined) {
        next = {};
        cur[part] = next;
      }
      cur = next;
    }
    cur[leaf] = value;
  };
}

function pushPhone(type: string): Setter {
  return (user, value) => {
    const list = (user.phoneNumbers ??= []) as { value: string; type: string }[];
    list.push({ value, type });
  };
}

function setterFor(key: string): { attribute: UserAttribute; set: Setter } {
  switch (key) {
    case 'email':
    case 'emails':
      return { attribute: 'emails', set: (u, value) => (u.emails = [{ value, type: 'work', primary: true }]) };
    case 'phone':
    case 'phoneNumbers':
      return { attribute: 'phoneNumbers', set: pushPhone('work') };
    case 'mobile':
      return { attribute: 'phoneNumbers', set: pushPhone('mobile') };
    case 'manager':
    case 'enterprise.manager': {
      // The value is the manager's id in this file; the engine translates it to the target's id.
      const set = pathSetter('enterprise.manager');
      return { attribute: 'enterprise.manager', set: (u, value) => set(u, { value }) };
    }
    default:
      return { attribute: key as UserAttribute, set: pathSetter(key) };
  }
}

/** Compile a validated `mapping` block (keys already checked by the config schema). */
export function compileUserMapping(mapping: Readonly<Record<string, string>>): UserMapping {
  const entries: CompiledEntry[] = [];
  // `active` is always provided: without a status column everyone listed is active.
  const attrs = new Set<UserAttribute>(['userName', 'active']);
  const references: { key: string; columns: string[] }[] = [];
  for (const [key, source] of Object.entries(mapping)) {
    const { attribute, set } = setterFor(key);
    attrs.add(attribute);
    entries.push({ key, template: compileTemplate(source), set });
    references.push({ key, columns: templateFields(source) });
  }
  // Without an explicit displayName, "given family" is what every target shows anyway; providing it
  // keeps targets that require displayName from inventing their own.
  const defaultDisplayName = !('displayName' in mapping) && ('name.givenName' in mapping || 'name.familyName' in mapping);
  if (defaultDisplayName) attrs.add('displayName');

  return {
    attributes: USER_ATTRIBUTES.filter((a) => attrs.has(a)),
    references,
    map<T extends object>(row: Readonly<Record<string, string>>, into: T): T & MappedUser {
      // Filling the caller's object avoids a second copy per user; with 100k users allocations dominate.
      const user = into as unknown as Target;
      for (const e of entries) {
        const value = e.template(row);
        if (value !== undefined) e.set(user, value);
      }
      if (defaultDisplayName) {
        const name = user.name as { givenName?: string; familyName?: string } | undefined;
        const given = name?.givenName;
        const family = name?.familyName;
        const display = given && family ? `${given} ${family}` : (given ?? family);
        if (display) user.displayName = display;
      }
      return into as T & MappedUser;
    },
  };
}
