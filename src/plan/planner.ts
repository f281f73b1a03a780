import { USER_ATTRIBUTES, setPath, valuesEqual, type UserAttribute } from '../core/attributes.js';
import type { Group, GroupInput, User, UserInput } from '../core/model.js';
import { fingerprintGroup, fingerprintUser } from './fingerprint.js';
import {
  PLAN_VERSION,
  type AttributeDiff,
  type Change,
  type Link,
  type MatchedBy,
  type MemberChange,
  type ObjectRef,
  type Plan,
  type PlanInput,
  type PlanSummary,
  type PlanWarning,
} from './types.js';

export { fingerprintGroup, fingerprintUser } from './fingerprint.js';

/**
 * The planner: (source snapshot, target snapshot, links, policy) → Plan.
 *
 * Pure by contract — no I/O, no clock, no randomness — so `plan` and `apply plan.json` agree and
 * the same input always gives the same plan. Output order never depends on Map insertion order:
 * every list that reaches the plan is sorted, and matching conflicts are resolved symmetrically.
 */

/**
 * How one source object relates to the target after matching. Linked and matched resolutions
 * carry the target object itself, so planning does not look each one up again by id.
 */
type Resolution<T = unknown> =
  /** An existing link whose target object still exists. */
  | { state: 'linked'; targetId: string; target: T }
  /** Linked by this run: externalId relink or fallback adoption. */
  | { state: 'matched'; targetId: string; by: MatchedBy; target: T }
  | { state: 'create' }
  /** Ambiguous match, or inactive in the source with nothing to link to. */
  | { state: 'skip' };

const CREATE: { state: 'create' } = { state: 'create' };
const SKIP: { state: 'skip' } = { state: 'skip' };

function targetIdOf(r: Resolution | undefined): string | undefined {
  return r !== undefined && (r.state === 'linked' || r.state === 'matched') ? r.targetId : undefined;
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function sourceLabel(input: PlanInput, type: 'User' | 'Group', sourceId: string): string {
  return type === 'User' ? input.sourceUsers.get(sourceId)!.userName : input.sourceGroups.get(sourceId)!.displayName;
}

interface Matcher<T> {
  name: MatchedBy;
  /** Keys (lower-cased where matching is case-insensitive) a source object is looked up by. */
  keys(obj: T): readonly string[];
  /** Keys a target object is found under, when they differ from `keys`. */
  targetKeys?(obj: T): readonly string[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function planJob(input: PlanInput): Plan {
  const warnings: PlanWarning[] = [];
  const { policy, links } = input;

  // ---- matching -------------------------------------------------------------------------------

  const { resolutions: userRes, inOrder: userResInOrder, linked: linkedUsers } = matchObjects<User>({
    kind: 'user',
    sources: input.sourceUsers,
    targets: input.targetUsers,
    links: links.users,
    matchers: policy.matchUsers.map((m) => (m === 'userName' ? userNameMatcher : emailMatcher)),
    label: (u) => u.userName,
    // A terminated employee with no account on the target gets none: provisioning one only to
    // leave it disabled would be noise (and a licence) for nothing.
    unmatched: (u) => (u.active ? CREATE : SKIP),
    warnings,
  });
  const { resolutions: groupRes, linked: linkedGroups } = matchObjects<Group>({
    kind: 'group',
    sources: input.sourceGroups,
    targets: input.targetGroups,
    links: links.groups,
    matchers: policy.matchGroups.map(() => displayNameMatcher),
    label: (g) => g.displayName,
    unmatched: () => CREATE,
    warnings,
  });

  // Target id → source id for every object this job manages (links, plus links made by this run).
  // Target members that are not in these belong to someone else. Built only when a no-op run
  // needs them (a removal candidate, a differing manager), which keeps the common case cheap.
  const t2sUser = lazy(() => targetToSource(links.users, input.targetUsers, userRes));
  const t2sGroup = lazy(() => targetToSource(links.groups, input.targetGroups, groupRes));

  // ---- users ----------------------------------------------------------------------------------

  // userName and active are required by every writer (UserInput), so they are always managed;
  // externalId is the anchor and always managed. The rest follow the job's attribute list.
  const wanted = new Set<string>(['userName', 'active', 'externalId', ...input.userAttributes]);
  const attrs: readonly UserAttribute[] = USER_ATTRIBUTES.filter((a) => wanted.has(a));
  const attrsNoManager = attrs.filter((a) => a !== 'enterprise.manager');
  const managesManager = attrs.length !== attrsNoManager.length;
  const attrSpecs = attrs.map(toSpec);
  const attrSpecsNoManager = attrsNoManager.map(toSpec);

  const userChanges: Change[] = [];
  const followUps: Change[] = [];
  const removals: Change[] = [];
  const unresolvedManagers: string[] = [];

  // A user whose manager gets its link during this apply (created or adopted in the users phase)
  // is written after the manager: changes are ordered by depth in the chain of such managers and
  // the applier waits for the manager's change. Only a chain that loops back on itself (A manages
  // B manages A) cannot be ordered; for its members the reference is written in a follow-up.
  const userDepth = new Map<string, number>();
  const inCycle = new Set<string>();
  const depthOf = (start: string): number => {
    const chain: string[] = [];
    const onChain = new Set<string>();
    let id: string | undefined = start;
    let base = 0;
    while (id !== undefined) {
      const known = userDepth.get(id);
      if (known !== undefined) {
        base = known + 1;
        break;
      }
      if (onChain.has(id)) {
        for (let i = chain.indexOf(id); i < chain.length; i++) inCycle.add(chain[i]!);
        break;
      }
      chain.push(id);
      onChain.add(id);
      const mid: string | undefined = managesManager ? input.sourceUsers.get(id)?.enterprise?.manager?.value : undefined;
      const mres: Resolution | undefined = mid === undefined ? undefined : userRes.get(mid);
      id = mres !== undefined && (mres.state === 'create' || mres.state === 'matched') ? mid : undefined;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const cid = chain[i]!;
      if (inCycle.has(cid)) {
        userDepth.set(cid, 0);
        base = 1;
      } else {
        userDepth.set(cid, base);
        base++;
      }
    }
    return userDepth.get(start)!;
  };

  let sourceIndex = 0;
  for (const [id, src] of input.sourceUsers) {
    const res = userResInOrder[sourceIndex++]!;
    if (res.state === 'skip') continue;

    let userAttrs = attrs;
    let managerDeferred = false;
    const managerId = managesManager ? src.enterprise?.manager?.value : undefined;
    const mres = managerId ? userRes.get(managerId) : undefined;
    if (managerId) {
      if (mres === undefined || mres.state === 'skip') {
        // The manager will not exist on the target, so there is no target id to write. Leave the
        // attribute alone rather than clear a manager the target may know better.
        unresolvedManagers.push(src.userName);
        userAttrs = attrsNoManager;
      } else if (mres.state !== 'linked') {
        depthOf(id);
        managerDeferred = inCycle.has(id);
      }
    }

    if (res.state === 'create') {
      const desired = buildDesiredUser(src, userAttrs);
      const payload = managerDeferred ? withoutManager(desired) : desired;
      const ref: ObjectRef = { kind: 'user', sourceId: id, label: desired.userName };
      userChanges.push({ kind: 'create-user', phase: 'users', ref, user: payload, fingerprint: fingerprintUser(payload) });
      if (managerDeferred) {
        followUps.push({
          kind: 'update-user',
          phase: 'memberships',
          ref: { ...ref },
          diffs: [{ attribute: 'enterprise.manager', before: undefined, after: desired.enterprise?.manager }],
          user: desired,
          fingerprint: fingerprintUser(desired),
        });
      }
      continue;
    }

    const target = res.target;
    // Diffs come straight from the source object: on a no-op run (the common case) no desired
    // object is built at all.
    const managerTarget = targetIdOf(mres);
    let diffs = diffUser(src, target, userAttrs === attrs ? attrSpecs : attrSpecsNoManager, managerTarget, t2sUser);
    // Deactivation is its own change so it counts toward the removal cap and can be held back
    // without holding back the attribute updates.
    const deactivate = !src.active && target.active;
    if (deactivate) diffs = diffs.filter((d) => d.attribute !== 'active');
    let managerDiff: AttributeDiff | undefined;
    if (managerDeferred) {
      managerDiff = diffs.find((d) => d.attribute === 'enterprise.manager');
      diffs = diffs.filter((d) => d.attribute !== 'enterprise.manager');
    }
    const adopt = res.state === 'matched' ? res.by : undefined;
    // An adoption is emitted even without diffs: applying it is what records the link.
    if (diffs.length === 0 && adopt === undefined && managerDiff === undefined && !deactivate) continue;
    const desired = buildDesiredUser(src, userAttrs);
    const ref: ObjectRef = { kind: 'user', sourceId: id, targetId: res.targetId, label: desired.userName };
    if (diffs.length > 0 || adopt !== undefined) {
      // The payload is the object *after this change*: still active if the deactivation is
      // separate, and without a manager reference that is only written in the follow-up.
      let payload = managerDeferred ? withoutManager(desired) : desired;
      if (deactivate) payload = { ...payload, active: target.active };
      userChanges.push({
        kind: 'update-user',
        phase: 'users',
        ref,
        ...(adopt !== undefined ? { adopt } : {}),
        diffs: [...diffs],
        user: payload,
        fingerprint: fingerprintUser(payload),
      });
    }
    if (managerDiff) {
      followUps.push({
        kind: 'update-user',
        phase: 'memberships',
        ref: { ...ref },
        diffs: [managerDiff],
        user: desired,
        fingerprint: fingerprintUser(desired),
      });
    }
    if (deactivate) {
      removals.push({
        kind: 'deactivate-user',
        phase: 'deactivations',
        ref: { ...ref },
        reason: 'inactive-in-source',
        fingerprint: fingerprintUser(desired),
      });
    }
  }

  if (unresolvedManagers.length > 0) {
    unresolvedManagers.sort(cmp);
    const n = unresolvedManagers.length;
    const shown = unresolvedManagers.slice(0, 5).join(', ') + (n > 5 ? ', …' : '');
    warnings.push({
      code: 'unresolved-manager',
      message:
        `${n} user${n === 1 ? ' has a manager' : 's have managers'} that will not exist on the target ` +
        `(${shown}); their manager is left as it is`,
    });
  }

  // ---- groups ---------------------------------------------------------------------------------

  const groupCreates: Extract<Change, { kind: 'create-group' }>[] = [];
  const groupUpdates: Change[] = [];
  for (const [id, src] of input.sourceGroups) {
    const res = groupRes.get(id)!;
    if (res.state === 'skip') continue;
    const desired: GroupInput = { displayName: src.displayName, externalId: id };
    if (res.state === 'create') {
      groupCreates.push({
        kind: 'create-group',
        phase: 'groups',
        ref: { kind: 'group', sourceId: id, label: src.displayName },
        group: desired,
        fingerprint: fingerprintGroup(desired),
      });
      continue;
    }
    const target = res.target;
    const diffs: AttributeDiff[] = [];
    for (const a of ['displayName', 'externalId'] as const) {
      if (!sameValue(desired[a], target[a])) diffs.push({ attribute: a, before: target[a], after: desired[a] });
    }
    const adopt = res.state === 'matched' ? res.by : undefined;
    if (diffs.length > 0 || adopt !== undefined) {
      groupUpdates.push({
        kind: 'update-group',
        phase: 'groups',
        ref: { kind: 'group', sourceId: id, targetId: res.targetId, label: src.displayName },
        ...(adopt !== undefined ? { adopt } : {}),
        diffs,
        group: desired,
        fingerprint: fingerprintGroup(desired),
      });
    }
  }
  const orderedGroupCreates = orderGroupCreates(groupCreates, input.sourceGroups, warnings);

  // ---- memberships ----------------------------------------------------------------------------

  const memberChanges: Change[] = [];
  const memberRemovals: Change[] = [];
  for (const [id, src] of input.sourceGroups) {
    const res = groupRes.get(id)!;
    if (res.state === 'skip') continue;
    // Desired members that exist on the target are compared by target id, so a no-op run (~100k
    // members) needs no reverse translation and builds no per-member objects.
    const adds: MemberChange[] = [];
    const removes: MemberChange[] = [];
    const wanted = { User: new Map<string, string>(), Group: new Map<string, string>() };
    const addedNew = new Set<string>();
    for (const m of src.members) {
      const r = (m.type === 'User' ? userRes : groupRes).get(m.value);
      // Only members that exist (or will) on the target: skipped users are never added.
      if (r === undefined || r.state === 'skip') continue;
      if (r.state === 'create') {
        const key = `${m.type}:${m.value}`;
        if (!addedNew.has(key)) {
          addedNew.add(key);
          adds.push({ type: m.type, sourceId: m.value, label: sourceLabel(input, m.type, m.value) });
        }
      } else wanted[m.type].set(r.targetId, m.value);
    }
    const present = { User: new Set<string>(), Group: new Set<string>() };
    const removed = new Set<string>();
    const target = res.state === 'create' ? undefined : input.targetGroups.get(res.targetId);
    for (const m of target?.members ?? []) {
      if (wanted[m.type].has(m.value)) {
        present[m.type].add(m.value);
        continue;
      }
      // A member this job does not manage was put there by someone else: never touched.
      if ((m.type === 'User' ? t2sUser : t2sGroup)().get(m.value) === undefined) continue;
      if (removed.has(`${m.type}:${m.value}`)) continue;
      removed.add(`${m.type}:${m.value}`);
      const label = m.type === 'User' ? input.targetUsers.get(m.value)?.userName : input.targetGroups.get(m.value)?.displayName;
      removes.push({ type: m.type, targetId: m.value, label: label ?? m.value });
    }
    for (const type of ['User', 'Group'] as const) {
      if (present[type].size === wanted[type].size) continue;
      for (const [tid, sid] of wanted[type]) {
        if (!present[type].has(tid)) adds.push({ type, sourceId: sid, label: sourceLabel(input, type, sid) });
      }
    }
    const groupRef: ObjectRef = {
      kind: 'group',
      sourceId: id,
      ...(res.state === 'create' ? {} : { targetId: res.targetId }),
      label: src.displayName,
    };
    if (adds.length > 0) {
      memberChanges.push({ kind: 'add-members', phase: 'memberships', group: groupRef, members: adds.sort(cmpMember) });
    }
    if (removes.length > 0) {
      memberRemovals.push({
        kind: 'remove-members',
        phase: 'memberships',
        group: { ...groupRef },
        members: removes.sort(cmpMember),
      });
    }
  }

  // ---- removals -------------------------------------------------------------------------------

  // Only linked objects (created or adopted by this job) are ever removed; an object on the
  // target that state does not link to this job is not ours to touch.
  const mode = policy.deletes.mode;
  // When every link belongs to a source object that is still linked, nothing can be removed:
  // skip the scan (the no-op fast path).
  if (mode !== 'never' && linkedUsers !== links.users.size) {
    for (const link of links.users.values()) {
      if (input.sourceUsers.has(link.sourceId)) continue;
      const target = input.targetUsers.get(link.targetId);
      if (target === undefined) continue;
      const ref: ObjectRef = { kind: 'user', sourceId: link.sourceId, targetId: link.targetId, label: target.userName };
      const reason = input.outOfScope.users.has(link.sourceId) ? 'out-of-scope' : 'removed-from-source';
      if (mode === 'delete') removals.push({ kind: 'delete-user', phase: 'deactivations', ref, reason });
      else if (target.active) removals.push({ kind: 'deactivate-user', phase: 'deactivations', ref, reason });
    }
  }
  // Groups have no "inactive" state, so in deactivate mode a group that left the source is left
  // as it is (members included): only mode 'delete' removes groups.
  if (mode === 'delete' && linkedGroups !== links.groups.size) {
    for (const link of links.groups.values()) {
      if (input.sourceGroups.has(link.sourceId)) continue;
      const target = input.targetGroups.get(link.targetId);
      if (target === undefined) continue;
      const reason = input.outOfScope.groups.has(link.sourceId) ? 'out-of-scope' : 'removed-from-source';
      removals.push({
        kind: 'delete-group',
        phase: 'group-deletes',
        ref: { kind: 'group', sourceId: link.sourceId, targetId: link.targetId, label: target.displayName },
        reason,
      });
    }
  }

  // ---- safety ---------------------------------------------------------------------------------

  let heldBack: Change[] = [];
  let holdReason: string | undefined;
  let runnableRemovals = removals;
  let runnableMemberRemovals = memberRemovals;
  const linkCount = links.users.size + links.groups.size;
  const emptySource = input.sourceUsers.size === 0 && linkCount > 0;
  if (!policy.sourceComplete || emptySource) {
    // An untrustworthy read also makes every "no longer a member" suspect, so membership
    // removals are held back with the object removals; adds and updates are still safe.
    if (removals.length > 0 || memberRemovals.length > 0) {
      heldBack = [...removals, ...memberRemovals];
      runnableRemovals = [];
      runnableMemberRemovals = [];
      const why = input.sourceUsers.size === 0 ? 'the source returned no users' : 'the source read is incomplete';
      const parts = [`${removals.length} object${removals.length === 1 ? '' : 's'}`];
      if (memberRemovals.length > 0) {
        const n = memberRemovals.reduce((s, c) => s + (c.kind === 'remove-members' ? c.members.length : 0), 0);
        parts.push(`${n} membership${n === 1 ? '' : 's'}`);
      }
      holdReason = `${why}; refusing to remove ${parts.join(' and ')}`;
    }
  } else if (removals.length > 0 && !policy.deletes.allow) {
    const n = removals.length;
    const { maxCount, maxPercent } = policy.deletes;
    const maxByPercent = Math.floor((linkCount * maxPercent) / 100);
    const over: string[] = [];
    if (n > maxCount) over.push(`deletes.maxCount ${maxCount}`);
    if (linkCount > 0 && n > maxByPercent) {
      over.push(`deletes.maxPercent ${maxPercent}% of ${linkCount} managed objects (max ${maxByPercent})`);
    }
    if (over.length > 0) {
      // All or nothing: cutting the list at the cap would pick arbitrary victims.
      runnableRemovals = [];
      // Taking a held-back person out of every group would remove their access all the same (a
      // truncated export looks exactly like this), so their membership removals wait with them.
      const split = splitMemberRemovals(memberRemovals, removals);
      runnableMemberRemovals = split.runnable;
      heldBack = [...removals, ...split.held];
      holdReason = `${n} removal${n === 1 ? '' : 's'} exceed${n === 1 ? 's' : ''} ${over.join(' and ')}; rerun with --allow-deletes to apply them`;
    }
  }

  // ---- assemble -------------------------------------------------------------------------------

  const depth = (c: Change) => ('ref' in c && c.ref.sourceId !== undefined ? (userDepth.get(c.ref.sourceId) ?? 0) : 0);
  userChanges.sort((a, b) => depth(a) - depth(b) || cmpByRef(a, b));
  groupUpdates.sort(cmpByRef);
  followUps.sort(cmpByRef);
  const membership = [...memberChanges, ...runnableMemberRemovals].sort(cmpMembership);
  const deactivations = runnableRemovals.filter((c) => c.phase === 'deactivations').sort(cmpByRef);
  const groupDeletes = runnableRemovals.filter((c) => c.phase === 'group-deletes').sort(cmpByRef);
  const changes: Change[] = [
    ...orderedGroupCreates,
    ...groupUpdates,
    ...userChanges,
    ...followUps,
    ...membership,
    ...deactivations,
    ...groupDeletes,
  ];
  heldBack = sortHeld(heldBack);

  warnings.sort((a, b) => cmp(a.code, b.code) || cmp(a.message, b.message));
  const plan: Plan = {
    version: PLAN_VERSION,
    job: input.job,
    source: input.source,
    target: input.target,
    stateSerial: input.stateSerial,
    changes,
    heldBack,
    warnings: [...input.warnings, ...warnings],
    summary: summarize(changes, heldBack),
  };
  if (holdReason !== undefined) plan.holdReason = holdReason;
  return plan;
}

// ---- matching helpers -----------------------------------------------------------------------

const userNameMatcher: Matcher<User> = { name: 'userName', keys: (u) => (u.userName ? [u.userName.toLowerCase()] : []) };
const emailMatcher: Matcher<User> = {
  name: 'emails.value',
  keys: (u) => (u.emails ?? []).filter((e) => e.value).map((e) => e.value.toLowerCase()),
};
const displayNameMatcher: Matcher<Group> = {
  name: 'displayName',
  keys: (g) => (g.displayName ? [g.displayName.toLowerCase()] : []),
};

interface MatchArgs<T extends { id: string; externalId?: string }> {
  kind: 'user' | 'group';
  sources: ReadonlyMap<string, T>;
  targets: ReadonlyMap<string, T>;
  links: ReadonlyMap<string, Link>;
  matchers: readonly Matcher<T>[];
  label(obj: T): string;
  /** What an object with no match at all becomes. */
  unmatched(obj: T): Resolution<T>;
  warnings: PlanWarning[];
}

/**
 * Link → externalId anchor → fallback matchers in order.
 *
 * A target linked to any source object is never a candidate, nor (for the fallbacks) a target
 * whose externalId names another source object present in this run: it is that object's to relink.
 * A target proposed by several source objects goes to none of them, since picking one would
 * depend on iteration order.
 *
 * Matching runs in rounds until nothing changes: a match made in one round can remove a candidate
 * that made another object ambiguous. Stopping after one round would leave that to the next
 * run, and a re-run right after apply must be a no-op.
 */
function matchObjects<T extends { id: string; externalId?: string }>(
  args: MatchArgs<T>,
): {
  resolutions: Map<string, Resolution<T>>;
  /** The same resolutions in the order `sources` iterates: the planner walks both together. */
  inOrder: Resolution<T>[];
  linked: number;
} {
  const { kind, sources, targets, links, warnings } = args;
  const result = new Map<string, Resolution<T>>();
  const inOrder: Resolution<T>[] = [];
  const openAt: number[] = [];
  let linked = 0;
  let open: T[] = [];
  for (const [id, src] of sources) {
    const link = links.get(id);
    const target = link === undefined ? undefined : targets.get(link.targetId);
    if (target !== undefined) {
      const res: Resolution<T> = { state: 'linked', targetId: link!.targetId, target };
      result.set(id, res);
      inOrder.push(res);
      linked++;
      continue;
    }
    if (link !== undefined) {
      warnings.push({
        code: 'link-target-missing',
        message: `${kind} ${args.label(src)} (source id ${id}) was linked to target id ${link.targetId}, which no longer exists; matching it again`,
      });
    }
    openAt.push(inOrder.length);
    inOrder.push(SKIP);
    open.push(src);
  }
  const openIds = open.map((o) => o.id);
  const finish = () => {
    // Open objects get their place in `inOrder` (SKIP above is a placeholder) once matching settled.
    for (let i = 0; i < openAt.length; i++) inOrder[openAt[i]!] = result.get(openIds[i]!)!;
    return { resolutions: result, inOrder, linked };
  };
  if (open.length === 0) return finish();

  const claimed = new Set<string>();
  for (const link of links.values()) claimed.add(link.targetId);
  // Only targets no link claims can ever be candidates (claims only grow from here), so the
  // indexes and the reserved check look at those alone: after a first sync that is a handful, not
  // every target.
  const unclaimed: T[] = [];
  const reserved = new Set<string>();
  for (const t of targets.values()) {
    if (claimed.has(t.id)) continue;
    unclaimed.push(t);
    if (t.externalId !== undefined && sources.has(t.externalId)) reserved.add(t.id);
  }

  // Relink after a crash (the object was created but the link never recorded) comes first.
  const externalId: Matcher<T> = { name: 'externalId', keys: (o) => [o.id], targetKeys: (t) => (t.externalId ? [t.externalId] : []) };
  const matchers = [externalId, ...args.matchers];
  const indexes = new Map<Matcher<T>, Map<string, string[]>>();
  const indexFor = (m: Matcher<T>): Map<string, string[]> => {
    let idx = indexes.get(m);
    if (idx === undefined) {
      idx = new Map();
      for (const t of unclaimed) {
        if (claimed.has(t.id) || (m !== externalId && reserved.has(t.id))) continue;
        for (const key of new Set((m.targetKeys ?? m.keys)(t))) pushTo(idx, key, t.id);
      }
      indexes.set(m, idx);
    }
    return idx;
  };

  type Unresolved = { why: 'ambiguous'; by: MatchedBy; candidates: string[] } | { why: 'contested'; target: string };
  const unresolved = new Map<string, { src: T; reason: Unresolved }>();
  for (;;) {
    const proposals = new Map<string, { src: T; by: MatchedBy }[]>();
    const next: T[] = [];
    for (const src of open) {
      let decided = false;
      for (const m of matchers) {
        const idx = indexFor(m);
        const candidates = new Set<string>();
        for (const key of m.keys(src)) for (const tid of idx.get(key) ?? []) if (!claimed.has(tid)) candidates.add(tid);
        if (candidates.size === 0) continue;
        decided = true;
        if (candidates.size > 1) {
          unresolved.set(src.id, { src, reason: { why: 'ambiguous', by: m.name, candidates: [...candidates].sort(cmp) } });
          next.push(src);
        } else pushTo(proposals, candidates.values().next().value as string, { src, by: m.name });
        break;
      }
      if (!decided) {
        unresolved.delete(src.id);
        result.set(src.id, args.unmatched(src));
      }
    }
    let progress = false;
    for (const [tid, props] of proposals) {
      if (props.length === 1) {
        const { src, by } = props[0]!;
        unresolved.delete(src.id);
        result.set(src.id, { state: 'matched', targetId: tid, by, target: targets.get(tid)! });
        claimed.add(tid);
        progress = true;
        continue;
      }
      for (const p of props) {
        unresolved.set(p.src.id, { src: p.src, reason: { why: 'contested', target: tid } });
        next.push(p.src);
      }
    }
    open = next;
    if (!progress || open.length === 0) break;
  }

  const contested = new Map<string, string[]>();
  for (const { src, reason } of unresolved.values()) {
    result.set(src.id, SKIP);
    const name = `${args.label(src)} (source id ${src.id})`;
    if (reason.why === 'contested') pushTo(contested, reason.target, name);
    else {
      warnings.push({
        code: 'ambiguous-match',
        message: `${kind} ${name} matches several target ${kind}s by ${reason.by} (${reason.candidates.join(', ')}); skipped`,
      });
    }
  }
  for (const [tid, names] of contested) {
    warnings.push({
      code: 'ambiguous-match',
      message: `target ${kind} ${tid} is matched by several source ${kind}s (${names.sort(cmp).join(', ')}); all skipped`,
    });
  }
  return finish();
}

function pushTo<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function targetToSource(
  links: ReadonlyMap<string, Link>,
  targets: ReadonlyMap<string, unknown>,
  res: ReadonlyMap<string, Resolution>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const link of links.values()) if (targets.has(link.targetId)) out.set(link.targetId, link.sourceId);
  for (const [sid, r] of res) if (r.state === 'matched') out.set(r.targetId, sid);
  return out;
}

// ---- users ----------------------------------------------------------------------------------

/**
 * Each attribute's dotted path, split once: building a desired user per source user (100k on an
 * initial sync) split every path twice (getPath and setPath) for every attribute.
 */
const ATTRIBUTE_PARTS: ReadonlyMap<string, readonly string[]> = new Map(USER_ATTRIBUTES.map((a) => [a, a.split('.')]));

/** setPath for a defined value, with the path already split. */
function setParts(obj: Record<string, unknown>, parts: readonly string[], value: unknown): void {
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    let next = cur[parts[i]!];
    if (next === null || typeof next !== 'object') {
      next = {};
      cur[parts[i]!] = next;
    }
    cur = next as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** The source user restricted to the managed attributes, with externalId = source id. */
function buildDesiredUser(src: User, attrs: readonly UserAttribute[]): UserInput {
  const out: UserInput = { userName: src.userName, active: src.active };
  const rec = out as unknown as Record<string, unknown>;
  for (const a of attrs) {
    if (a === 'userName' || a === 'active') continue;
    if (a === 'externalId') rec.externalId = src.id;
    else if (a === 'enterprise.manager') {
      // Only the reference is managed: the manager's displayName is derived by most targets,
      // and comparing it would produce a diff on every run.
      const m = src.enterprise?.manager?.value;
      if (m) setPath(rec, a, { value: m });
    } else {
      const parts = ATTRIBUTE_PARTS.get(a)!;
      const v = getAt(src, parts);
      if (v !== undefined) setParts(rec, parts, v);
    }
  }
  return out;
}

function withoutManager(user: UserInput): UserInput {
  if (user.enterprise?.manager === undefined) return user;
  const { manager: _manager, ...rest } = user.enterprise;
  const out: UserInput = { ...user, enterprise: rest };
  if (Object.keys(rest).length === 0) delete out.enterprise;
  return out;
}

const NO_DIFFS: readonly AttributeDiff[] = Object.freeze([]);

interface AttrSpec {
  name: UserAttribute;
  /** The dotted path split once, not once per user and attribute. */
  parts: readonly string[];
}

const toSpec = (name: UserAttribute): AttrSpec => ({ name, parts: name.split('.') });

/** getPath over a pre-split path (same semantics). */
function getAt(obj: object, parts: readonly string[]): unknown {
  // Every user attribute path has one or two parts; those run without the loop (hot in no-op runs).
  if (parts.length === 1) return (obj as Record<string, unknown>)[parts[0]!];
  if (parts.length === 2) {
    const head = (obj as Record<string, unknown>)[parts[0]!];
    return head === null || typeof head !== 'object' ? undefined : (head as Record<string, unknown>)[parts[1]!];
  }
  let cur: unknown = obj;
  for (const part of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Field-level diffs between the source user (as the desired state: externalId = source id, manager
 * as a bare reference) and the target; manager references are compared in source-id space.
 */
function diffUser(
  src: User,
  target: User,
  specs: readonly AttrSpec[],
  /** Target id of the source's manager when it is linked already (or by this run). */
  managerTarget: string | undefined,
  t2s: () => ReadonlyMap<string, string>,
): readonly AttributeDiff[] {
  // Allocated only when something differs: the no-op case must stay allocation-free per user.
  let diffs: AttributeDiff[] | undefined;
  for (let i = 0; i < specs.length; i++) {
    const { name, parts } = specs[i]!;
    if (name === 'enterprise.manager') {
      const wantId = src.enterprise?.manager?.value || undefined;
      const tm = target.enterprise?.manager;
      const equal = tm?.value ? wantId !== undefined && managerTarget === tm.value : wantId === undefined;
      if (!equal) {
        // `before` in source ids when the target's manager is one of ours; otherwise as the
        // target has it (only humans read it).
        const haveId = tm?.value ? t2s().get(tm.value) : undefined;
        (diffs ??= []).push({
          attribute: name,
          before: haveId !== undefined ? { value: haveId } : tm,
          after: wantId === undefined ? undefined : { value: wantId },
        });
      }
      continue;
    }
    const after = name === 'externalId' ? src.id : getAt(src, parts);
    const before = getAt(target, parts);
    if (!sameValue(before, after)) (diffs ??= []).push({ attribute: name, before, after });
  }
  return diffs ?? NO_DIFFS;
}

/**
 * valuesEqual, made cheap for the common case. A no-op plan of 100k users compares ~10 attributes
 * each, and normalising + serialising every value would dominate the planning time. `looseEqual`
 * only ever answers "equal" when valuesEqual would too (it is structural equality where '', null
 * and undefined are the same); anything else goes to the exact comparison.
 */
function sameValue(a: unknown, b: unknown): boolean {
  return looseEqual(a, b) || valuesEqual(a, b);
}

function looseEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const unsetA = a === undefined || a === null || a === '';
  const unsetB = b === undefined || b === null || b === '';
  if (unsetA || unsetB) return unsetA && unsetB;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!looseEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const k in ra) if (!looseEqual(ra[k], rb[k])) return false;
  for (const k in rb) if (!(k in ra) && !looseEqual(undefined, rb[k])) return false;
  return true;
}

// ---- groups ---------------------------------------------------------------------------------

/**
 * Creates parents before children (a group listed as a member of another is the child), in
 * Kahn's order with ties broken by label then id. A cycle is broken at its smallest group, with a
 * `group-cycle` warning.
 */
function orderGroupCreates(
  creates: Extract<Change, { kind: 'create-group' }>[],
  sourceGroups: ReadonlyMap<string, Group>,
  warnings: PlanWarning[],
): Change[] {
  const byId = new Map(creates.map((c) => [c.ref.sourceId!, c]));
  const children = new Map<string, string[]>();
  const parents = new Map<string, string[]>();
  const indegree = new Map<string, number>();
  for (const id of byId.keys()) indegree.set(id, 0);
  for (const id of byId.keys()) {
    const seen = new Set<string>();
    for (const m of sourceGroups.get(id)!.members) {
      if (m.type !== 'Group' || !byId.has(m.value) || seen.has(m.value)) continue;
      seen.add(m.value);
      pushTo(children, id, m.value);
      pushTo(parents, m.value, id);
      indegree.set(m.value, indegree.get(m.value)! + 1);
    }
  }
  const order = (a: string, b: string): number => cmp(byId.get(a)!.ref.label, byId.get(b)!.ref.label) || cmp(a, b);
  const ready = [...byId.keys()].filter((id) => indegree.get(id) === 0).sort(order);
  const out: Change[] = [];
  const done = new Set<string>();
  const insertReady = (id: string): void => {
    let lo = 0;
    let hi = ready.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order(ready[mid]!, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    ready.splice(lo, 0, id);
  };
  while (done.size < byId.size) {
    if (ready.length === 0) {
      // Every remaining group has an unprocessed parent, so walking parents from any of them
      // must revisit a group: that loop is a cycle.
      const remaining = [...byId.keys()].filter((id) => !done.has(id)).sort(order);
      const path: string[] = [];
      const onPath = new Map<string, number>();
      let cur = remaining[0]!;
      while (!onPath.has(cur)) {
        onPath.set(cur, path.length);
        path.push(cur);
        cur = parents.get(cur)!.filter((p) => !done.has(p)).sort(order)[0]!;
      }
      const cycle = path.slice(onPath.get(cur)!).sort(order);
      const breakAt = cycle[0]!;
      warnings.push({
        code: 'group-cycle',
        message: `groups ${cycle.map((id) => byId.get(id)!.ref.label).join(', ')} contain each other; creating ${byId.get(breakAt)!.ref.label} first`,
      });
      indegree.set(breakAt, 0);
      insertReady(breakAt);
    }
    const id = ready.shift()!;
    if (done.has(id)) continue;
    done.add(id);
    out.push(byId.get(id)!);
    for (const child of children.get(id) ?? []) {
      if (done.has(child)) continue;
      const d = indegree.get(child)! - 1;
      indegree.set(child, d);
      if (d === 0) insertReady(child);
    }
  }
  return out;
}

// ---- ordering and summary -------------------------------------------------------------------

function cmpMember(a: MemberChange, b: MemberChange): number {
  return cmp(a.label, b.label) || cmp(a.type, b.type) || cmp(a.sourceId ?? a.targetId ?? '', b.sourceId ?? b.targetId ?? '');
}

function refOf(c: Change): ObjectRef {
  return c.kind === 'add-members' || c.kind === 'remove-members' ? c.group : c.ref;
}

function cmpByRef(a: Change, b: Change): number {
  const ra = refOf(a);
  const rb = refOf(b);
  return (
    cmp(ra.label, rb.label) ||
    cmp(ra.sourceId ?? '', rb.sourceId ?? '') ||
    cmp(ra.targetId ?? '', rb.targetId ?? '') ||
    cmp(a.kind, b.kind)
  );
}

function cmpMembership(a: Change, b: Change): number {
  return cmpByRef(a, b);
}

const PHASE_RANK: Record<Change['phase'], number> = {
  groups: 0,
  users: 1,
  memberships: 2,
  deactivations: 3,
  'group-deletes': 4,
};

function sortHeld(held: Change[]): Change[] {
  return [...held].sort((a, b) => PHASE_RANK[a.phase] - PHASE_RANK[b.phase] || cmpByRef(a, b));
}

export function summarize(changes: readonly Change[], heldBack: readonly Change[]): PlanSummary {
  // Held-back membership removals ride along with their people; only objects are counted.
  const heldObjects = heldBack.filter((c) => c.kind !== 'remove-members').length;
  const summary: PlanSummary = { create: 0, update: 0, remove: 0, memberships: 0, heldBack: heldObjects };
  const created = new Set<string>();
  const updated = new Set<string>();
  for (const c of changes) {
    switch (c.kind) {
      case 'create-user':
      case 'create-group':
        summary.create++;
        created.add(`${c.ref.kind}:${c.ref.sourceId}`);
        break;
      case 'update-user':
      case 'update-group':
        updated.add(`${c.ref.kind}:${c.ref.sourceId}`);
        break;
      case 'deactivate-user':
      case 'delete-user':
      case 'delete-group':
        summary.remove++;
        break;
      case 'add-members':
      case 'remove-members':
        summary.memberships += c.members.length;
        break;
    }
  }
  // Counted per object: a manager follow-up is part of its user's create or update, not another.
  for (const key of updated) if (!created.has(key)) summary.update++;
  return summary;
}

/**
 * Separate the member removals that concern objects whose own removal is held back from those
 * that do not (a person who merely changed department still leaves the old group).
 */
function splitMemberRemovals(memberRemovals: readonly Change[], removals: readonly Change[]): { runnable: Change[]; held: Change[] } {
  const heldTargets = new Set<string>();
  for (const r of removals) {
    if (r.kind === 'deactivate-user' || r.kind === 'delete-user') heldTargets.add(`User:${r.ref.targetId}`);
    else if (r.kind === 'delete-group') heldTargets.add(`Group:${r.ref.targetId}`);
  }
  const runnable: Change[] = [];
  const held: Change[] = [];
  for (const c of memberRemovals) {
    if (c.kind !== 'remove-members') continue;
    const keep = c.members.filter((m) => !heldTargets.has(`${m.type}:${m.targetId}`));
    const hold = c.members.filter((m) => heldTargets.has(`${m.type}:${m.targetId}`));
    if (keep.length > 0) runnable.push(hold.length === 0 ? c : { ...c, members: keep });
    if (hold.length > 0) held.push({ ...c, group: { ...c.group }, members: hold });
  }
  return { runnable, held };
}
