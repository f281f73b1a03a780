import type { MemberRemoveStyle } from '../../src/scim/patch.js';
import { ENTERPRISE_USER_URN } from '../../src/scim/schemas.js';

/**
 * Known SCIM servers as data. A profile only supplies defaults: every key also written in the
 * connector's config wins over the profile's value. The README documents each profile with the
 * source of each fact; where a vendor fact is not verified, the profile leaves the generic value.
 */

export const PROFILE_NAMES = ['generic', 'aws-identity-center', 'okta', 'entra-compatible', 'arkid'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface ScimProfile {
  /** Member changes per PATCH request. */
  memberBatchSize: number;
  /** Documented server limit on member changes per request; a larger explicit value is warned about. */
  memberBatchSizeLimit?: number;
  updateMethod: 'auto' | 'patch' | 'put';
  memberRemoveStyle: MemberRemoveStyle;
  /** Scheme word put before a `bearer` token in the `Authorization` header. */
  authScheme: string;
  /**
   * Key under which the server puts the enterprise extension in a User, when not its URN
   * (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`). Read as an alias of the URN.
   */
  enterpriseKey?: string;
  /** The server may spell a member's `$ref` as `ref` (read either way; informative). */
  refKey: '$ref' | 'ref';
  /** The server sends `null` for unset attributes (read as unset; informative). */
  nullsForUnset: boolean;
  /** Groups may have child groups as members, typed by `type` or by a `$ref`/`ref` to /Groups. */
  childGroupMembers: boolean;
}

const generic: ScimProfile = {
  memberBatchSize: 100,
  updateMethod: 'auto',
  memberRemoveStyle: 'filter',
  authScheme: 'Bearer',
  refKey: '$ref',
  nullsForUnset: false,
  childGroupMembers: true,
};

export const PROFILES: Readonly<Record<ProfileName, Readonly<ScimProfile>>> = {
  generic,
  'aws-identity-center': {
    ...generic,
    memberBatchSize: 100,
    memberBatchSizeLimit: 100,
    updateMethod: 'patch',
    memberRemoveStyle: 'value',
    childGroupMembers: false,
  },
  okta: {
    ...generic,
    memberRemoveStyle: 'filter',
  },
  'entra-compatible': {
    ...generic,
    updateMethod: 'patch',
    memberRemoveStyle: 'value',
  },
  arkid: {
    ...generic,
    authScheme: 'jwt',
    enterpriseKey: 'enterprise_extension',
    refKey: 'ref',
    nullsForUnset: true,
    childGroupMembers: true,
  },
};

/** The settings a connector runs with: the profile's values, overridden by explicit config keys. */
export interface EffectiveSettings extends ScimProfile {
  profile: ProfileName;
}

export interface ProfileOverrides {
  profile?: ProfileName;
  memberBatchSize?: number;
  updateMethod?: 'auto' | 'patch' | 'put';
  memberRemoveStyle?: MemberRemoveStyle;
}

export function resolveProfile(config: ProfileOverrides, warn: (message: string) => void = () => {}): EffectiveSettings {
  const name = config.profile ?? 'generic';
  const p = PROFILES[name];
  const out: EffectiveSettings = { ...p, profile: name };
  if (config.memberBatchSize !== undefined) out.memberBatchSize = config.memberBatchSize;
  if (config.updateMethod !== undefined) out.updateMethod = config.updateMethod;
  if (config.memberRemoveStyle !== undefined) out.memberRemoveStyle = config.memberRemoveStyle;
  if (p.memberBatchSizeLimit !== undefined && out.memberBatchSize > p.memberBatchSizeLimit) {
    warn(`memberBatchSize ${out.memberBatchSize} is above the ${p.memberBatchSizeLimit} member changes per request that profile ${name} documents; the server may refuse these requests`);
  }
  return out;
}

/** A resource as the server sent it, with profile aliases renamed to their RFC names (the enterprise extension key). */
export function normalizeResource(json: unknown, settings: Pick<ScimProfile, 'enterpriseKey'>): unknown {
  const key = settings.enterpriseKey;
  if (key === undefined || typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const obj = json as Record<string, unknown>;
  if (!(key in obj)) return json;
  const { [key]: ext, ...rest } = obj;
  return ENTERPRISE_USER_URN in rest ? rest : { ...rest, [ENTERPRISE_USER_URN]: ext };
}
