import { UsageError } from '../core/errors.js';
import type { Group, User } from '../core/model.js';
import type { FocusTarget } from '../plan/focus.js';
import type { Link } from '../plan/types.js';
import type { PlanDetails } from './run-job.js';

const fold = (s: string | undefined) => s?.normalize('NFC').toLowerCase();

function userKeys(u: User): string[] {
  return [u.id, u.userName, ...(u.emails ?? []).map((e) => e.value)].filter((k): k is string => Boolean(k));
}

function groupKeys(g: Group): string[] {
  return [g.id, g.displayName];
}

function reverse(links: ReadonlyMap<string, Link>): Map<string, string> {
  return new Map([...links.values()].map((l) => [l.targetId, l.sourceId]));
}

/**
 * Find the object a user typed on the command line (`explain`, `run --only`): a source id, a
 * target id, a userName or email (users), or a displayName (groups), compared case-insensitively.
 * Several different objects matching is an error listing them: acting on a guess is not an option.
 */
export function resolveObjectKey(details: PlanDetails, key: string): FocusTarget {
  const k = fold(key);
  const found = new Map<string, FocusTarget>();
  const add = (t: FocusTarget) => {
    const id = `${t.kind}:${t.sourceId ?? ''}:${t.targetId ?? ''}`;
    found.set(id, t);
  };
  const userTargets = reverse(details.links.users);
  const groupTargets = reverse(details.links.groups);

  // Source objects (mapped when in scope, as read otherwise), then target objects.
  const sourceUsers = new Map<string, User>([...details.source.users].map(([id, u]) => [id, details.prepared.users.get(id) ?? u]));
  for (const u of sourceUsers.values()) {
    if (userKeys(u).some((x) => fold(x) === k)) add({ kind: 'user', sourceId: u.id, targetId: details.links.users.get(u.id)?.targetId, label: u.userName });
  }
  for (const u of details.target.users.values()) {
    if (!userKeys(u).some((x) => fold(x) === k)) continue;
    const sourceId = userTargets.get(u.id);
    // Already found through its source object: the same person, not a second match.
    if (sourceId !== undefined && [...found.values()].some((t) => t.kind === 'user' && t.sourceId === sourceId)) continue;
    add({ kind: 'user', sourceId, targetId: u.id, label: u.userName });
  }
  const sourceGroups = new Map<string, Group>([...details.source.groups].map(([id, g]) => [id, details.prepared.groups.get(id) ?? g]));
  for (const g of sourceGroups.values()) {
    if (groupKeys(g).some((x) => fold(x) === k)) add({ kind: 'group', sourceId: g.id, targetId: details.links.groups.get(g.id)?.targetId, label: g.displayName });
  }
  for (const g of details.target.groups.values()) {
    if (!groupKeys(g).some((x) => fold(x) === k)) continue;
    const sourceId = groupTargets.get(g.id);
    if (sourceId !== undefined && [...found.values()].some((t) => t.kind === 'group' && t.sourceId === sourceId)) continue;
    add({ kind: 'group', sourceId, targetId: g.id, label: g.displayName });
  }

  const matches = [...found.values()];
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new UsageError(`nothing in the source or target matches "${key}" (try a source id, userName, email, group displayName or target id)`);
  }
  const list = matches.map((m) => `${m.kind} ${m.label} (${m.sourceId !== undefined ? `source id ${m.sourceId}` : 'not in the source'}${m.targetId ? `, target id ${m.targetId}` : ''})`);
  throw new UsageError(`"${key}" matches more than one object: ${list.join('; ')}; use an id`);
}
