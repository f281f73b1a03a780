import { getPath, USER_ATTRIBUTES, type UserAttribute } from '../core/attributes.js';
import type { DirectoryWriter } from '../core/connector.js';
import { AlreadyExistsError, errorMessage, RemoteError } from '../core/errors.js';
import type { GroupInput, MemberRef, UserInput } from '../core/model.js';
import { redact } from '../core/secrets.js';
import type { Change, ObjectRef, Plan } from '../plan/types.js';
import { PHASES } from '../plan/types.js';
import type { RunError, StateStore } from '../state/types.js';
import { LinkBatch } from './link-batch.js';
import { runPool } from './pool.js';

export interface ChangeResult {
  change: Change;
  status: 'applied' | 'failed' | 'skipped';
  /** Failure or skip reason, already redacted. */
  message?: string;
  /**
   * What happened besides the planned write: `adopted` — a create found the object already on
   * the target and linked it (counted as `adopt-user`/`adopt-group`); `recreated` — the linked
   * object was gone (404) and was created again (`onMissing: recreate`); `unlinked` — it was gone
   * and its link was dropped, so the next run plans a create or adoption.
   */
  effect?: 'adopted' | 'recreated' | 'unlinked';
}

export interface ApplyResult {
  results: ChangeResult[];
  /** Applied changes by kind. */
  counts: Record<string, number>;
  errors: RunError[];
  /**
   * True when the error budget (or `maxConsecutiveFailures`: the target looks unavailable) stopped
   * the run before every change was attempted; `stopReason` says which, for humans.
   */
  stoppedByBudget: boolean;
  stopReason?: string;
  /** True when the abort signal stopped the run before every change was attempted. */
  interrupted: boolean;
}

export interface ApplyOptions {
  job: string;
  plan: Plan;
  writer: DirectoryWriter;
  state: StateStore;
  concurrency: number;
  /** Stop starting new changes once this many have failed. */
  errorBudget: number;
  /**
   * Stop starting new changes once this many in a row failed as "target unavailable" (RemoteError
   * marked transient: 5xx, timeouts, refused connections after the connector's own retries), with
   * no success in between. A dead target then costs a few rounds of retries, not the whole budget's.
   * Default 10.
   */
  maxConsecutiveFailures?: number;
  /**
   * The job's matchers. A create answered "already exists" (AlreadyExistsError naming exactly one
   * object) adopts that object only when it was found by `externalId` (the anchor, always allowed,
   * as in the planner) or by a matcher listed here. Default: the config defaults.
   */
  match?: { users: readonly string[]; groups: readonly string[] };
  /**
   * A linked object answering 404 to an update, deactivation or member change is gone from the
   * target. `relink` (default): drop the link and report it; the next run plans a create or an
   * adoption. `recreate`: create it now from the desired state in the plan and link the new one.
   */
  onMissing?: 'relink' | 'recreate';
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** A change could not be attempted because something it depends on is missing. */
class DependencyError extends Error {}

/** The linked object was gone (404) and its link was dropped: reported, not counted as a failure. */
class UnlinkedError extends Error {}

/** What `execute` reports besides success. */
interface Outcome {
  note?: string;
  effect?: ChangeResult['effect'];
}

const DEFAULT_MATCH = { users: ['externalId', 'userName'], groups: ['externalId', 'displayName'] } as const;
const DEFAULT_MAX_CONSECUTIVE = 10;

/**
 * Executes a plan phase by phase. Each change is attempted independently: one failure is recorded
 * and the run goes on (up to the error budget). State is written only after the target accepted a
 * write, so a crash at any point leaves state describing only what really exists; objects created
 * just before a crash carry `externalId` and are relinked by the next plan. (Links of created and
 * adopted objects are committed in batches, within 100 ms of their writes: see LinkBatch.)
 */
export async function applyPlan(opts: ApplyOptions): Promise<ApplyResult> {
  const { job, plan, writer, state } = opts;
  // The common scheduled run changes nothing: skip loading every link just to resolve nothing.
  if (plan.changes.length === 0) return { results: [], counts: {}, errors: [], stoppedByBudget: false, interrupted: false };
  const match = opts.match ?? DEFAULT_MATCH;
  const onMissing = opts.onMissing ?? 'relink';
  const maxConsecutive = opts.maxConsecutiveFailures ?? DEFAULT_MAX_CONSECUTIVE;
  const initial = state.loadLinks(job);
  // Source id → target id, extended as creates succeed so later phases can resolve references.
  const userIds = new Map<string, string>();
  const groupIds = new Map<string, string>();
  for (const [s, l] of initial.users) userIds.set(s, l.targetId);
  for (const [s, l] of initial.groups) groupIds.set(s, l.targetId);
  // Target id → source id of every linked object, so an adoption never takes another's object.
  const claimed = { user: new Map<string, string>(), group: new Map<string, string>() };
  for (const [s, l] of initial.users) claimed.user.set(l.targetId, s);
  for (const [s, l] of initial.groups) claimed.group.set(l.targetId, s);
  // Target ids found gone (404) in this run: dropped (a later reference is skipped) or replaced by a new object.
  const gone = new Set<string>();
  const replaced = new Map<string, string>();
  // Source objects whose create failed: their dependants are skipped, not attempted half-way.
  const failedSources = new Set<string>();

  const results: ChangeResult[] = [];
  const counts: Record<string, number> = {};
  const errors: RunError[] = [];
  let failures = 0;
  let consecutive = 0;
  let done = 0;
  let stoppedByBudget = false;
  let stopReason: string | undefined;
  let interrupted = false;
  const total = plan.changes.length;

  // Links of created/adopted objects are committed in batches shortly after their writes (see
  // LinkBatch). A batch that cannot be committed turns its changes into failures (at the end, when
  // every result is in): the objects exist on the target, unlinked, and the next run relinks them.
  const lostLinks = new Map<Change, string>();
  const links = new LinkBatch<Change>(state, job, (lost, err) => {
    const message = redact(`the target accepted the write, but its link could not be saved in state: ${errorMessage(err)}`);
    for (const change of lost) lostLinks.set(change, message);
    failures += lost.length;
    if (failures >= opts.errorBudget) stop('error budget exhausted');
  });
  /** Every other state write goes after the queued links, so state sees writes in their order. */
  const direct = <R>(write: () => R): R => {
    links.flush();
    return write();
  };

  const resolve = (ref: ObjectRef): string => {
    const map = ref.kind === 'user' ? userIds : groupIds;
    let id = ref.targetId ?? (ref.sourceId === undefined ? undefined : map.get(ref.sourceId));
    if (id === undefined) {
      throw new DependencyError(`${ref.kind} ${ref.label} does not exist on the target (its create failed or was skipped)`);
    }
    id = replaced.get(id) ?? id;
    if (gone.has(id)) throw new DependencyError(`${ref.kind} ${ref.label} is gone from the target (${id} answered 404); its link was dropped`);
    return id;
  };

  /** Manager values in plans are source ids; the target needs its own id. */
  const toTargetUser = (user: UserInput): UserInput => {
    const manager = user.enterprise?.manager;
    if (!manager) return user;
    const targetId = userIds.get(manager.value);
    const enterprise = { ...user.enterprise };
    if (targetId === undefined) delete enterprise.manager;
    else enterprise.manager = { ...manager, value: targetId };
    return { ...user, enterprise };
  };

  /**
   * The object a refused create found, if the job may adopt it; otherwise rethrows, naming why not.
   * Mirrors the planner: externalId (the anchor) always, other attributes per `match`, never an
   * object linked to another source object or anchored (by its own externalId) to one.
   */
  const adoptable = (err: unknown, kind: 'user' | 'group', sourceId: string, externalId: string | undefined): { id: string; by: string } => {
    if (!(err instanceof AlreadyExistsError) || err.existing === undefined) throw err;
    const { id, by, externalId: theirs } = err.existing;
    const owner = claimed[kind].get(id);
    const reason =
      by !== 'externalId' && !(kind === 'user' ? match.users : match.groups).includes(by)
        ? `the job's match.${kind}s does not include ${by}`
        : owner !== undefined && owner !== sourceId
          ? `it is linked to source ${kind} ${owner}`
          : theirs !== undefined && theirs !== externalId
            ? `its externalId ${JSON.stringify(theirs)} anchors it to another source ${kind}`
            : undefined;
    if (reason !== undefined) throw new RemoteError(err.object, `${err.detail}; not adopted: ${reason}`, err.status);
    return { id, by };
  };

  /** Create, or adopt the existing object the target names (a 409, or a lookup before create). */
  const createOrAdoptUser = async (sourceId: string, user: UserInput): Promise<{ id: string; adoptedBy?: string }> => {
    try {
      return await writer.createUser(user);
    } catch (err) {
      const found = adoptable(err, 'user', sourceId, user.externalId);
      // Write every managed attribute the source has: the object's current values are unknown.
      // One the source leaves unset is not cleared now; the next run's comparison clears it.
      const present = USER_ATTRIBUTES.filter((a) => getPath(user as unknown as Record<string, unknown>, a) !== undefined);
      await writer.updateUser(found.id, user, present);
      return { id: found.id, adoptedBy: found.by };
    }
  };

  const createOrAdoptGroup = async (sourceId: string, group: GroupInput): Promise<{ id: string; adoptedBy?: string }> => {
    try {
      return await writer.createGroup(group);
    } catch (err) {
      const found = adoptable(err, 'group', sourceId, group.externalId);
      const present = (['displayName', 'externalId'] as const).filter((a) => group[a] !== undefined);
      await writer.updateGroup(found.id, group, present);
      return { id: found.id, adoptedBy: found.by };
    }
  };

  const recordLink = (change: Change, kind: 'user' | 'group', sourceId: string, made: { id: string; adoptedBy?: string }, fingerprint: string): Outcome | undefined => {
    (kind === 'user' ? userIds : groupIds).set(sourceId, made.id);
    claimed[kind].set(made.id, sourceId);
    links.add(kind, { sourceId, targetId: made.id, origin: made.adoptedBy ? 'adopted' : 'created', fingerprint }, change);
    if (!made.adoptedBy) return undefined;
    return { effect: 'adopted', note: `already on the target as ${made.id} (found by ${made.adoptedBy}); adopted it and wrote the desired attributes` };
  };

  /**
   * The linked object answered 404. With `recreate` and a desired object at hand, create it again
   * and link the new one; otherwise drop the link (UnlinkedError) so the next run plans it afresh.
   */
  const whenGone = async (
    change: Change,
    kind: 'user' | 'group',
    sourceId: string | undefined,
    targetId: string,
    recreate: (() => Promise<{ id: string; adoptedBy?: string }>) | undefined,
    fingerprint: string | undefined,
  ): Promise<Outcome> => {
    if (onMissing === 'recreate' && recreate !== undefined && sourceId !== undefined && fingerprint !== undefined) {
      const made = await recreate();
      replaced.set(targetId, made.id);
      claimed[kind].delete(targetId);
      recordLink(change, kind, sourceId, made, fingerprint);
      const how = made.adoptedBy ? `adopted ${made.id} (found by ${made.adoptedBy})` : `created it again as ${made.id}`;
      return { effect: 'recreated', note: `${kind} ${targetId} was gone from the target (404); ${how}` };
    }
    gone.add(targetId);
    claimed[kind].delete(targetId);
    if (sourceId !== undefined) {
      direct(() => state.unlink(job, kind, sourceId));
      (kind === 'user' ? userIds : groupIds).delete(sourceId);
    }
    throw new UnlinkedError(`${kind} ${targetId} is gone from the target (404); its link was dropped and the next run will create or adopt it`);
  };

  /** Runs a write on a linked object; a 404 goes to `whenGone`. */
  const onLinked = async (write: () => Promise<void>, gone404: () => Promise<Outcome>): Promise<Outcome | undefined> => {
    try {
      await write();
      return undefined;
    } catch (err) {
      if (err instanceof RemoteError && err.status === 404) return gone404();
      throw err;
    }
  };

  const execute = async (change: Change): Promise<Outcome | undefined> => {
    switch (change.kind) {
      case 'create-user': {
        const made = await createOrAdoptUser(change.ref.sourceId!, toTargetUser(change.user));
        // Known in memory at once, so reports waiting on this manager need not wait for the commit.
        return recordLink(change, 'user', change.ref.sourceId!, made, change.fingerprint);
      }
      case 'update-user': {
        const targetId = resolve(change.ref);
        const sourceId = change.ref.sourceId!;
        if (change.diffs.length > 0) {
          const changed = change.diffs.map((d) => d.attribute) as UserAttribute[];
          const desired = toTargetUser(change.user);
          const out = await onLinked(
            () => writer.updateUser(targetId, desired, changed),
            () => whenGone(change, 'user', sourceId, targetId, () => createOrAdoptUser(sourceId, desired), change.fingerprint),
          );
          if (out) return out;
        }
        if (change.adopt) {
          links.add('user', { sourceId, targetId, origin: 'adopted', fingerprint: change.fingerprint }, change);
          userIds.set(sourceId, targetId);
          claimed.user.set(targetId, sourceId);
        } else {
          direct(() => state.setFingerprint(job, 'user', sourceId, change.fingerprint));
        }
        return undefined;
      }
      case 'deactivate-user': {
        const targetId = resolve(change.ref);
        try {
          await writer.deactivateUser(targetId);
        } catch (err) {
          if (!(err instanceof RemoteError && err.status === 404)) throw err;
          // Gone is as good as inactive, whatever onMissing says: a leaver is never recreated.
          gone.add(targetId);
          if (change.ref.sourceId !== undefined) direct(() => state.unlink(job, 'user', change.ref.sourceId!));
          return { effect: 'unlinked', note: `user ${targetId} is already gone from the target (404); its link was dropped` };
        }
        // The link stays: if the person comes back, the same account is reactivated.
        if (change.ref.sourceId !== undefined) direct(() => state.setFingerprint(job, 'user', change.ref.sourceId!, change.fingerprint ?? null));
        return undefined;
      }
      case 'delete-user': {
        await alreadyGoneIsDone(() => writer.deleteUser(resolve(change.ref)));
        if (change.ref.sourceId !== undefined) direct(() => state.unlink(job, 'user', change.ref.sourceId!));
        return undefined;
      }
      case 'create-group': {
        const made = await createOrAdoptGroup(change.ref.sourceId!, change.group);
        return recordLink(change, 'group', change.ref.sourceId!, made, change.fingerprint);
      }
      case 'update-group': {
        const targetId = resolve(change.ref);
        const sourceId = change.ref.sourceId!;
        if (change.diffs.length > 0) {
          const changed = change.diffs.map((d) => d.attribute) as ('displayName' | 'externalId')[];
          const out = await onLinked(
            () => writer.updateGroup(targetId, change.group, changed),
            // A recreated group starts without members; the next run's comparison adds the rest.
            () => whenGone(change, 'group', sourceId, targetId, () => createOrAdoptGroup(sourceId, change.group), change.fingerprint),
          );
          if (out) return out;
        }
        if (change.adopt) {
          links.add('group', { sourceId, targetId, origin: 'adopted', fingerprint: change.fingerprint }, change);
          groupIds.set(sourceId, targetId);
          claimed.group.set(targetId, sourceId);
        } else {
          direct(() => state.setFingerprint(job, 'group', sourceId, change.fingerprint));
        }
        return undefined;
      }
      case 'delete-group': {
        await alreadyGoneIsDone(() => writer.deleteGroup(resolve(change.ref)));
        if (change.ref.sourceId !== undefined) direct(() => state.unlink(job, 'group', change.ref.sourceId!));
        return undefined;
      }
      case 'add-members':
      case 'remove-members': {
        const groupId = resolve(change.group);
        const members: MemberRef[] = [];
        const missing: string[] = [];
        for (const m of change.members) {
          const map = m.type === 'User' ? userIds : groupIds;
          const known = m.targetId ?? (m.sourceId === undefined ? undefined : map.get(m.sourceId));
          const id = known === undefined ? undefined : (replaced.get(known) ?? known);
          if (id === undefined || gone.has(id)) missing.push(m.label);
          else members.push({ type: m.type, value: id });
        }
        if (members.length > 0) {
          // The plan holds no desired group here (only its members), so a gone group is always
          // unlinked, whatever onMissing says; the next run creates or adopts it whole.
          const out = await onLinked(
            () => (change.kind === 'add-members' ? writer.addMembers(groupId, members) : writer.removeMembers(groupId, members)),
            () => whenGone(change, 'group', change.group.sourceId, groupId, undefined, undefined),
          );
          if (out) return out;
        }
        if (missing.length > 0) {
          const note = `${missing.length} member(s) not on the target were left out: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`;
          if (members.length === 0) throw new DependencyError(note);
          return { note };
        }
        return undefined;
      }
    }
  };

  // Users whose link is being made in this apply, by source id: a report's change waits for its
  // manager's, which the planner ordered earlier, so the manager's target id is known in time.
  const linking = new Map<string, Promise<void>>();
  // Only users someone reports to are waited for: remembering every create's task held 100k
  // promises for nothing.
  const managers = new Set<string>();
  for (const c of plan.changes) {
    const m = c.kind === 'create-user' || c.kind === 'update-user' ? c.user.enterprise?.manager?.value : undefined;
    if (m !== undefined) managers.add(m);
  }

  try {
    for (const phase of PHASES) {
      const phaseChanges = plan.changes.filter((c) => c.phase === phase);
      await runPool(phaseChanges, opts.concurrency, async (change) => {
        const task = attempt(change);
        if ((change.kind === 'create-user' || (change.kind === 'update-user' && change.adopt)) && managers.has(change.ref.sourceId!)) {
          linking.set(change.ref.sourceId!, task);
        }
        await task;
      });
      // A phase's links are in state before the next phase writes anything.
      links.flush();
    }
  } finally {
    // Also when something unexpected throws: what the target accepted is recorded.
    links.flush();
  }
  if (lostLinks.size > 0) {
    for (const r of results) {
      const message = r.status === 'applied' ? lostLinks.get(r.change) : undefined;
      if (message === undefined) continue;
      const counted = r.effect === 'adopted' ? (r.change.kind === 'create-user' ? 'adopt-user' : 'adopt-group') : r.change.kind;
      if (--counts[counted]! === 0) delete counts[counted];
      r.status = 'failed';
      r.message = message;
      delete r.effect;
      errors.push({ object: describe(r.change), message });
    }
  }

  function stop(reason: string): void {
    if (stoppedByBudget) return;
    stoppedByBudget = true;
    stopReason = reason;
  }

  async function attempt(change: Change): Promise<void> {
    const manager = change.kind === 'create-user' || change.kind === 'update-user' ? change.user.enterprise?.manager?.value : undefined;
    const managerTask = manager === undefined ? undefined : linking.get(manager);
    if (managerTask !== undefined) await managerTask;
    if (stoppedByBudget || interrupted || opts.signal?.aborted) {
      if (opts.signal?.aborted) interrupted = true;
      // Not counted as done: these were never attempted, and the run reports itself as cut short.
      results.push({ change, status: 'skipped', message: stoppedByBudget ? (stopReason ?? 'error budget exhausted') : 'interrupted' });
      return;
    }
    if (dependsOnFailed(change, failedSources)) {
      results.push({ change, status: 'skipped', message: 'an object it depends on failed' });
    } else {
      try {
        const out = await execute(change);
        const result: ChangeResult = { change, status: 'applied' };
        if (out?.note) result.message = out.note;
        if (out?.effect) result.effect = out.effect;
        results.push(result);
        const counted = out?.effect === 'adopted' ? (change.kind === 'create-user' ? 'adopt-user' : 'adopt-group') : change.kind;
        counts[counted] = (counts[counted] ?? 0) + 1;
        consecutive = 0;
      } catch (err) {
        if (err instanceof DependencyError) {
          // The root cause is already recorded as the failed create; this is only its consequence.
          results.push({ change, status: 'skipped', message: err.message });
        } else if (err instanceof UnlinkedError) {
          // Not the target failing: someone removed the object. Reported (the run is partial), but
          // neither the budget nor the consecutive count is charged, and the next run repairs it.
          results.push({ change, status: 'skipped', message: err.message, effect: 'unlinked' });
          errors.push({ object: describe(change), message: err.message });
          consecutive = 0;
        } else {
          const message = redact(errorMessage(err));
          results.push({ change, status: 'failed', message });
          errors.push({ object: describe(change), message });
          if (change.kind === 'create-user' || change.kind === 'create-group') failedSources.add(key(change.ref));
          failures++;
          // A refusal (4xx) proves the target is up; only "unavailable" failures run in a row.
          consecutive = err instanceof RemoteError && err.transient ? consecutive + 1 : 0;
          if (failures >= opts.errorBudget) stop('error budget exhausted');
          else if (consecutive >= maxConsecutive) {
            stop(`the target looks unavailable: ${consecutive} changes in a row failed with server or connection errors`);
          }
        }
      }
    }
    done++;
    opts.onProgress?.(done, total);
  }

  return { results, counts, errors, stoppedByBudget, ...(stopReason !== undefined ? { stopReason } : {}), interrupted };
}

/**
 * A delete answered 404 reached its goal: the object is gone (someone removed it between plan and
 * apply). Treating that as success lets state drop the link instead of failing on every later run.
 */
async function alreadyGoneIsDone(remove: () => Promise<void>): Promise<void> {
  try {
    await remove();
  } catch (err) {
    if (!(err instanceof RemoteError && err.status === 404)) throw err;
  }
}

function key(ref: ObjectRef): string {
  return `${ref.kind}:${ref.sourceId ?? ref.targetId ?? ref.label}`;
}

function dependsOnFailed(change: Change, failed: ReadonlySet<string>): boolean {
  if (failed.size === 0) return false;
  if (change.kind === 'add-members' || change.kind === 'remove-members') return failed.has(key(change.group));
  return false;
}

/** How a change is named in errors and history: `create user jdoe@example.com`. */
export function describe(change: Change): string {
  switch (change.kind) {
    case 'add-members':
      return `add members to group ${change.group.label}`;
    case 'remove-members':
      return `remove members from group ${change.group.label}`;
    default: {
      const [verb, noun] = change.kind.split('-') as [string, string];
      return `${verb} ${noun} ${change.ref.label}`;
    }
  }
}
