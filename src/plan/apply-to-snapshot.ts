import { getPath, setPath } from '../core/attributes.js';
import type { Group, MemberRef, User } from '../core/model.js';
import type { Change, Link, Links, ObjectRef, Plan } from './types.js';

/**
 * Applies a plan to an in-memory target, the way a well-behaved applier and target would: the
 * "what would the target look like" oracle for property tests and `explain`. Pure: inputs are not
 * modified, new target ids are deterministic (`t-<sourceId>`), held-back changes are not applied.
 *
 * References in plan payloads are source ids; like the real applier they are resolved through the
 * links, including links made earlier in the same apply.
 */
export interface Snapshot {
  targetUsers: Map<string, User>;
  targetGroups: Map<string, Group>;
  links: { users: Map<string, Link>; groups: Map<string, Link> };
}

export function simulateApply(
  plan: Plan,
  targetUsers: ReadonlyMap<string, User>,
  targetGroups: ReadonlyMap<string, Group>,
  links: Links,
): Snapshot {
  const users = new Map<string, User>();
  for (const [id, u] of targetUsers) users.set(id, structuredClone(u));
  const groups = new Map<string, Group>();
  for (const [id, g] of targetGroups) groups.set(id, structuredClone(g));
  const userLinks = new Map<string, Link>();
  for (const [id, l] of links.users) userLinks.set(id, { ...l });
  const groupLinks = new Map<string, Link>();
  for (const [id, l] of links.groups) groupLinks.set(id, { ...l });

  const newId = (taken: ReadonlyMap<string, unknown>, sourceId: string): string => {
    let id = `t-${sourceId}`;
    for (let n = 2; taken.has(id); n++) id = `t-${sourceId}-${n}`;
    return id;
  };
  const resolve = (ref: ObjectRef): string | undefined => {
    if (ref.targetId !== undefined) return ref.targetId;
    if (ref.sourceId === undefined) return undefined;
    return (ref.kind === 'user' ? userLinks : groupLinks).get(ref.sourceId)?.targetId;
  };
  /** Manager references in payloads are source ids; the target stores its own ids. */
  const translateManager = (u: User): void => {
    const m = u.enterprise?.manager;
    if (m === undefined) return;
    const tid = userLinks.get(m.value)?.targetId;
    if (tid === undefined) throw new Error(`simulateApply: manager ${m.value} of ${u.userName} has no link yet`);
    u.enterprise!.manager = { value: tid };
  };
  const setLink = (kind: 'user' | 'group', sourceId: string, targetId: string, origin: Link['origin'], fingerprint: string | null): void => {
    const map = kind === 'user' ? userLinks : groupLinks;
    const prev = map.get(sourceId);
    map.set(sourceId, { sourceId, targetId, origin: prev?.targetId === targetId ? prev.origin : origin, fingerprint });
  };

  const applyOne = (c: Change): void => {
    switch (c.kind) {
      case 'create-user': {
        const id = newId(users, c.ref.sourceId!);
        const u: User = { id, ...structuredClone(c.user) };
        translateManager(u);
        users.set(id, u);
        setLink('user', c.ref.sourceId!, id, 'created', c.fingerprint);
        return;
      }
      case 'update-user': {
        const id = mustResolve(c.ref);
        const u = users.get(id)!;
        const desired = structuredClone(c.user) as unknown as Record<string, unknown>;
        for (const d of c.diffs) setPath(u as unknown as Record<string, unknown>, d.attribute, getPath(desired, d.attribute));
        if (c.diffs.some((d) => d.attribute === 'enterprise.manager')) translateManager(u);
        setLink('user', c.ref.sourceId!, id, 'adopted', c.fingerprint);
        return;
      }
      case 'deactivate-user': {
        const u = users.get(mustResolve(c.ref))!;
        u.active = false;
        return;
      }
      case 'delete-user': {
        const id = mustResolve(c.ref);
        users.delete(id);
        // Targets drop a deleted object from every group it was in.
        for (const g of groups.values()) g.members = g.members.filter((m) => !(m.type === 'User' && m.value === id));
        if (c.ref.sourceId !== undefined) userLinks.delete(c.ref.sourceId);
        return;
      }
      case 'create-group': {
        const id = newId(groups, c.ref.sourceId!);
        groups.set(id, { id, ...structuredClone(c.group), members: [] });
        setLink('group', c.ref.sourceId!, id, 'created', c.fingerprint);
        return;
      }
      case 'update-group': {
        const id = mustResolve(c.ref);
        const g = groups.get(id)!;
        for (const d of c.diffs) {
          if (d.attribute === 'displayName') g.displayName = c.group.displayName;
          else if (d.attribute === 'externalId') g.externalId = c.group.externalId;
        }
        setLink('group', c.ref.sourceId!, id, 'adopted', c.fingerprint);
        return;
      }
      case 'delete-group': {
        const id = mustResolve(c.ref);
        groups.delete(id);
        for (const g of groups.values()) g.members = g.members.filter((m) => !(m.type === 'Group' && m.value === id));
        if (c.ref.sourceId !== undefined) groupLinks.delete(c.ref.sourceId);
        return;
      }
      case 'add-members': {
        const g = groups.get(mustResolve(c.group))!;
        for (const m of c.members) {
          const link = (m.type === 'User' ? userLinks : groupLinks).get(m.sourceId!);
          if (link === undefined) throw new Error(`simulateApply: member ${m.label} has no link`);
          if (!g.members.some((x) => x.type === m.type && x.value === link.targetId)) {
            g.members.push({ type: m.type, value: link.targetId } satisfies MemberRef);
          }
        }
        return;
      }
      case 'remove-members': {
        const g = groups.get(mustResolve(c.group))!;
        const gone = new Set(c.members.map((m) => `${m.type}:${m.targetId}`));
        g.members = g.members.filter((m) => !gone.has(`${m.type}:${m.value}`));
        return;
      }
    }
  };
  const mustResolve = (ref: ObjectRef): string => {
    const id = resolve(ref);
    if (id === undefined) throw new Error(`simulateApply: ${ref.kind} ${ref.label} has no target id`);
    return id;
  };

  for (const c of plan.changes) applyOne(c);
  return { targetUsers: users, targetGroups: groups, links: { users: userLinks, groups: groupLinks } };
}
