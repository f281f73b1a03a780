import type { UserAttribute } from '../../src/core/attributes.js';
import type { Group, MemberRef, User } from '../../src/core/model.js';
import type { Link, PlanInput, PlanPolicy } from '../../src/plan/types.js';

/** Test data builders with defaults that make the common case a one-liner. */

export function user(fields: Partial<User> & { id: string }): User {
  return { userName: `${fields.id}@example.com`, active: true, ...fields };
}

export function group(id: string, displayName: string = id, members: MemberRef[] = []): Group {
  return { id, displayName, members };
}

export const u = (value: string): MemberRef => ({ type: 'User', value });
export const g = (value: string): MemberRef => ({ type: 'Group', value });

/** A target copy of a source user as this job would have provisioned it. */
export function provisioned(src: User, targetId: string): User {
  return { ...structuredClone(src), id: targetId, externalId: src.id };
}

export function link(sourceId: string, targetId: string, origin: Link['origin'] = 'created'): Link {
  return { sourceId, targetId, origin, fingerprint: null };
}

export const DEFAULT_ATTRIBUTES: UserAttribute[] = [
  'userName',
  'active',
  'displayName',
  'title',
  'name.givenName',
  'name.familyName',
  'emails',
  'enterprise.department',
  'enterprise.manager',
];

export function policy(p: Partial<Omit<PlanPolicy, 'deletes'>> & { deletes?: Partial<PlanPolicy['deletes']> } = {}): PlanPolicy {
  return {
    matchUsers: p.matchUsers ?? [],
    matchGroups: p.matchGroups ?? [],
    sourceComplete: p.sourceComplete ?? true,
    deletes: { mode: 'deactivate', maxCount: 1000, maxPercent: 100, allow: false, ...p.deletes },
  };
}

export interface InputSpec {
  sourceUsers?: User[];
  sourceGroups?: Group[];
  targetUsers?: User[];
  targetGroups?: Group[];
  userLinks?: Link[];
  groupLinks?: Link[];
  outOfScopeUsers?: string[];
  outOfScopeGroups?: string[];
  userAttributes?: UserAttribute[];
  policy?: Parameters<typeof policy>[0];
}

const byId = <T extends { id: string }>(xs: T[] = []): Map<string, T> => new Map(xs.map((x) => [x.id, x]));

export function input(spec: InputSpec = {}): PlanInput {
  return {
    job: 'hr-to-app',
    source: 'hr',
    target: 'app',
    stateSerial: 7,
    sourceUsers: byId(spec.sourceUsers),
    sourceGroups: byId(spec.sourceGroups),
    outOfScope: { users: new Set(spec.outOfScopeUsers ?? []), groups: new Set(spec.outOfScopeGroups ?? []) },
    targetUsers: byId(spec.targetUsers),
    targetGroups: byId(spec.targetGroups),
    links: {
      users: new Map((spec.userLinks ?? []).map((l) => [l.sourceId, l])),
      groups: new Map((spec.groupLinks ?? []).map((l) => [l.sourceId, l])),
    },
    userAttributes: spec.userAttributes ?? DEFAULT_ATTRIBUTES,
    policy: policy(spec.policy),
    warnings: [],
  };
}
