import type { LdapConfig } from './config.js';
import { FLAVORS, GROUP_MAP_KEYS, USER_MAP_KEYS } from './flavors.js';
import type { Flavor, FlavorDefaults, GroupMapKey, UserMapKey } from './flavors.js';

/** The config with every flavor default filled in: what reader, writer and delta work from. */
export interface Settings {
  flavor: Flavor;
  defaults: FlavorDefaults;
  anchor: string;
  users: {
    baseDNs: string[];
    scope: 'base' | 'one' | 'sub';
    filter: string;
    extraAttributes: string[];
    objectClasses: string[];
    rdnAttribute: string;
    map: [UserMapKey, string][];
    placement: LdapConfig['users']['placement'];
  };
  groups: {
    baseDNs: string[];
    scope: 'base' | 'one' | 'sub';
    filter: string;
    extraAttributes: string[];
    objectClasses: string[];
    rdnAttribute: string;
    memberAttribute: 'member' | 'uniqueMember' | 'memberUid';
    map: [GroupMapKey, string][];
    placement: LdapConfig['groups']['placement'];
    nested: 'keep' | 'flatten';
    emptyMember: string | undefined;
  };
  /** Where users and groups may be found by anchor (bases, plus the disabled OU). */
  searchBases: { users: string[]; groups: string[] };
}

function merged<K extends string>(keys: readonly K[], defaults: Partial<Record<K, string>>, overrides: Partial<Record<K, string | null>> | undefined): [K, string][] {
  const out: [K, string][] = [];
  for (const key of keys) {
    const v = overrides && key in overrides ? overrides[key] : defaults[key];
    if (typeof v === 'string') out.push([key, v]);
  }
  return out;
}

export function resolveSettings(config: LdapConfig): Settings {
  const d = FLAVORS[config.flavor];
  const disabled = config.deactivate && 'moveTo' in config.deactivate ? [config.deactivate.moveTo] : [];
  return {
    flavor: config.flavor,
    defaults: d,
    anchor: d.anchorAttribute,
    users: {
      baseDNs: config.users.baseDNs,
      scope: config.users.scope,
      filter: config.users.filter ?? d.users.filter,
      extraAttributes: config.users.attributes,
      objectClasses: config.users.objectClasses ?? d.users.objectClasses,
      rdnAttribute: config.users.rdnAttribute ?? d.users.rdnAttribute,
      map: merged(USER_MAP_KEYS, d.users.map, config.users.map),
      placement: config.users.placement,
    },
    groups: {
      baseDNs: config.groups.baseDNs,
      scope: config.groups.scope,
      filter: config.groups.filter ?? d.groups.filter,
      extraAttributes: config.groups.attributes,
      objectClasses: config.groups.objectClasses ?? d.groups.objectClasses,
      rdnAttribute: config.groups.rdnAttribute ?? d.groups.rdnAttribute,
      memberAttribute: config.groups.memberAttribute ?? d.groups.memberAttribute,
      map: merged(GROUP_MAP_KEYS, d.groups.map, config.groups.map),
      placement: config.groups.placement,
      nested: config.groups.nested,
      emptyMember: d.groups.needsPlaceholder ? config.groups.emptyMember : undefined,
    },
    searchBases: { users: [...config.users.baseDNs, ...disabled], groups: config.groups.baseDNs },
  };
}
