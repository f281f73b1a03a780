import type { UserAttribute } from '../core/attributes.js';
import type { SourceGroup, SourceUser } from '../core/connector.js';
import type { Group, MemberRef, User } from '../core/model.js';
import { compileTemplate } from '../core/template.js';
import type { JobConfig } from '../config/types.js';
import { compileUserMapping } from '../mapping/index.js';
import { parseFilter } from '../scim/filter.js';
import { matchesFilter, scopeResolver } from '../scim/filter-eval.js';
import type { Snapshot } from './read.js';

export interface PreparedSource {
  /**
   * Users may still carry the reader's `raw` fields (they are SourceUsers): the planner reads only
   * the managed attributes, and copying 100k users just to drop a property cost ~0.1 s.
   */
  users: ReadonlyMap<string, User>;
  groups: Map<string, Group>;
  outOfScope: { users: Set<string>; groups: Set<string> };
  userAttributes: UserAttribute[];
}

/**
 * Turn a raw source snapshot into what the job wants on the target: the job's attribute mapping,
 * then its scope filters (evaluated on the mapped object and the raw source fields), then
 * flattening of nested groups for targets that cannot nest.
 */
export async function prepareSource(
  job: JobConfig,
  snapshot: Snapshot,
  readerAttributes: readonly UserAttribute[],
  targetNests: boolean,
): Promise<PreparedSource> {
  const mappingSpec = job.mapping.users;
  const mapping = Object.keys(mappingSpec).length > 0 ? compileUserMapping(mappingSpec, `jobs.${job.name}.mapping.users`) : undefined;
  const userScope = job.scope.users ? parseFilter(job.scope.users) : undefined;
  const groupScope = job.scope.groups ? parseFilter(job.scope.groups) : undefined;

  const outOfScope = { users: new Set<string>(), groups: new Set<string>() };
  // Without a job mapping or scope every source user is wanted as read: the snapshot's map is
  // handed on as it is (the common case, and a second 100k-entry map is measurable).
  let users: ReadonlyMap<string, User> = snapshot.users;
  if (mapping || userScope) {
    const kept = new Map<string, User>();
    for (const source of snapshot.users.values()) {
      // Only JSONata expressions make mapping async; awaiting 100k plain values would cost real time.
      const applied = mapping ? (mapping.async ? await mapping.apply(source) : (mapping.apply(source) as SourceUser)) : source;
      const mapped: SourceUser = applied.raw === undefined && source.raw !== undefined ? { ...applied, raw: source.raw } : applied;
      if (userScope && !matchesFilter(userScope, mapped as unknown as Record<string, unknown>, scopeResolver)) {
        outOfScope.users.add(source.id);
        continue;
      }
      kept.set(source.id, mapped);
    }
    users = kept;
  }

  const nameTemplate = job.mapping.groups.displayName ? compileTemplate(job.mapping.groups.displayName) : undefined;
  const groups = new Map<string, Group>();
  for (const source of snapshot.groups.values()) {
    const named: SourceGroup = nameTemplate
      ? { ...source, displayName: nameTemplate({ ...source.raw, id: source.id, displayName: source.displayName }) ?? source.displayName }
      : source;
    if (groupScope && !matchesFilter(groupScope, named as unknown as Record<string, unknown>, scopeResolver)) {
      outOfScope.groups.add(source.id);
      continue;
    }
    const { raw: _raw, ...group } = named;
    groups.set(source.id, group);
  }
  if (!targetNests) flattenGroups(groups, snapshot.groups);

  const userAttributes = [...new Set<UserAttribute>([...readerAttributes, ...(mapping?.attributes ?? [])])];
  return { users, groups, outOfScope, userAttributes };
}

/**
 * Replace group members by the users they contain transitively, for targets without nested
 * groups. Uses all source groups (also out-of-scope ones) so membership through an excluded
 * intermediate group is not lost; a visited set makes cycles harmless.
 */
function flattenGroups(groups: Map<string, Group>, all: ReadonlyMap<string, Group>): void {
  const expand = (id: string, seen: Set<string>, out: Map<string, MemberRef>) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const m of all.get(id)?.members ?? []) {
      if (m.type === 'User') out.set(m.value, m);
      else expand(m.value, seen, out);
    }
  };
  for (const [id, group] of groups) {
    if (!group.members.some((m) => m.type === 'Group')) continue;
    const out = new Map<string, MemberRef>();
    expand(id, new Set(), out);
    groups.set(id, { ...group, members: [...out.values()] });
  }
}
