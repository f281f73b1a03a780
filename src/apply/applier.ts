import type { UserAttribute } from '../core/attributes.js';
import type { DirectoryWriter } from '../core/connector.js';
import { errorMessage, RemoteError } from '../core/errors.js';
import type { MemberRef, UserInput } from '../core/model.js';
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
}

export interface ApplyResult {
  results: ChangeResult[];
  /** Applied changes by kind. */
  counts: Record<string, number>;
  errors: RunError[];
  /** True when the error budget stopped the run before every change was attempted. */
  stoppedByBudget: boolean;
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
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** A change could not be attempted because something it depends on is missing. */
class DependencyError extends Error {}

/**
 * Executes a plan phase by phase. Each change is attempted independently: one failure is recorded
 * and the run goes on (up to the error budget). State is written only after the target accepted a
 * write, so a crash at any point leaves state describing only what really exists; objects created
 * just before a crash carry `externalId` and are relinked by the next plan.
 */
export async function applyPlan(opts: ApplyOptions): Promise<ApplyResult> {
  const { job, plan, writer, state } = opts;
  // The common scheduled run changes nothing: skip loading every link just to resolve nothing.
  if (plan.changes.length === 0) return { results: [], counts: {}, errors: [], stoppedByBudget: false, interrupted: false };
  const initial = state.loadLinks(job);
  const links = new LinkBatch(state, job);
  // Source id → target id, extended as creates succeed so later phases can resolve references.
  const userIds = new Map<string, string>();
  const groupIds = new Map<string, string>();
  for (const [s, l] of initial.users) userIds.set(s, l.targetId);
  for (const [s, l] of initial.groups) groupIds.set(s, l.targetId);
  // Source objects whose create failed: their dependants are skipped, not attempted half-way.
  const failedSources = new Set<string>();

  const results: ChangeResult[] = [];
  const counts: Record<string, number> = {};
  const errors: RunError[] = [];
  let failures = 0;
  let done = 0;
  let stoppedByBudget = false;
  let interrupted = false;
  const total = plan.changes.length;

  const resolve = (ref: ObjectRef): string => {
    if (ref.targetId) return ref.targetId;
    const map = ref.kind === 'user' ? userIds : groupIds;
    const id = ref.sourceId === undefined ? undefined : map.get(ref.sourceId);
    if (id === undefined) {
      throw new DependencyError(`${ref.kind} ${ref.label} does not exist on the target (its create failed or was skipped)`);
    }
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

  /** Returns a note when the change applied only in part (members that could not be resolved). */
  const execute = async (change: Change): Promise<string | void> => {
    switch (change.kind) {
      case 'create-user': {
        const created = await writer.createUser(toTargetUser(change.user));
        // Known in memory at once, so reports waiting on this manager need not wait for the commit.
        userIds.set(change.ref.sourceId!, created.id);
        await links.link('user', { sourceId: change.ref.sourceId!, targetId: created.id, origin: 'created', fingerprint: change.fingerprint });
        return;
      }
      case 'update-user': {
        const targetId = resolve(change.ref);
        if (change.diffs.length > 0) {
          const changed = change.diffs.map((d) => d.attribute) as UserAttribute[];
          await writer.updateUser(targetId, toTargetUser(change.user), changed);
        }
        if (change.adopt) {
          state.link(job, 'user', { sourceId: change.ref.sourceId!, targetId, origin: 'adopted', fingerprint: change.fingerprint });
          userIds.set(change.ref.sourceId!, targetId);
        } else {
          state.setFingerprint(job, 'user', change.ref.sourceId!, change.fingerprint);
        }
        return;
      }
      case 'deactivate-user': {
        await writer.deactivateUser(resolve(change.ref));
        // The link stays: if the person comes back, the same account is reactivated.
        if (change.ref.sourceId !== undefined) state.setFingerprint(job, 'user', change.ref.sourceId, change.fingerprint ?? null);
        return;
      }
      case 'delete-user': {
        await alreadyGoneIsDone(() => writer.deleteUser(resolve(change.ref)));
        if (change.ref.sourceId !== undefined) state.unlink(job, 'user', change.ref.sourceId);
        return;
      }
      case 'create-group': {
        const created = await writer.createGroup(change.group);
        groupIds.set(change.ref.sourceId!, created.id);
        await links.link('group', { sourceId: change.ref.sourceId!, targetId: created.id, origin: 'created', fingerprint: change.fingerprint });
        return;
      }
      case 'update-group': {
        const targetId = resolve(change.ref);
        if (change.diffs.length > 0) {
          const changed = change.diffs.map((d) => d.attribute) as ('displayName' | 'externalId')[];
          await writer.updateGroup(targetId, change.group, changed);
        }
        if (change.adopt) {
          state.link(job, 'group', { sourceId: change.ref.sourceId!, targetId, origin: 'adopted', fingerprint: change.fingerprint });
          groupIds.set(change.ref.sourceId!, targetId);
        } else {
          state.setFingerprint(job, 'group', change.ref.sourceId!, change.fingerprint);
        }
        return;
      }
      case 'delete-group': {
        await alreadyGoneIsDone(() => writer.deleteGroup(resolve(change.ref)));
        if (change.ref.sourceId !== undefined) state.unlink(job, 'group', change.ref.sourceId);
        return;
      }
      case 'add-members':
      case 'remove-members': {
        const groupId = resolve(change.group);
        const members: MemberRef[] = [];
        const missing: string[] = [];
        for (const m of change.members) {
          const map = m.type === 'User' ? userIds : groupIds;
          const id = m.targetId ?? (m.sourceId === undefined ? undefined : map.get(m.sourceId));
          if (id === undefined) missing.push(m.label);
          else members.push({ type: m.type, value: id });
        }
        if (members.length > 0) {
          if (change.kind === 'add-members') await writer.addMembers(groupId, members);
          else await writer.removeMembers(groupId, members);
        }
        if (missing.length > 0) {
          const note = `${missing.length} member(s) not on the target were left out: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`;
          if (members.length === 0) throw new DependencyError(note);
          return note;
        }
        return;
      }
    }
  };

  // Users whose link is being made in this apply, by source id: a report's change waits for its
  // manager's, which the planner ordered earlier, so the manager's target id is known in time.
  const linking = new Map<string, Promise<void>>();

  for (const phase of PHASES) {
    const phaseChanges = plan.changes.filter((c) => c.phase === phase);
    await runPool(phaseChanges, opts.concurrency, async (change) => {
      const task = attempt(change);
      if (change.kind === 'create-user' || (change.kind === 'update-user' && change.adopt)) linking.set(change.ref.sourceId!, task);
      await task;
    });
  }

  async function attempt(change: Change): Promise<void> {
    const manager = change.kind === 'create-user' || change.kind === 'update-user' ? change.user.enterprise?.manager?.value : undefined;
    if (manager !== undefined) await linking.get(manager);
    if (stoppedByBudget || interrupted || opts.signal?.aborted) {
      if (opts.signal?.aborted) interrupted = true;
      // Not counted as done: these were never attempted, and the run reports itself as cut short.
      results.push({ change, status: 'skipped', message: stoppedByBudget ? 'error budget exhausted' : 'interrupted' });
      return;
    }
    if (dependsOnFailed(change, failedSources)) {
      results.push({ change, status: 'skipped', message: 'an object it depends on failed' });
    } else {
      try {
        const note = await execute(change);
        results.push(note ? { change, status: 'applied', message: note } : { change, status: 'applied' });
        counts[change.kind] = (counts[change.kind] ?? 0) + 1;
      } catch (err) {
        if (err instanceof DependencyError) {
          // The root cause is already recorded as the failed create; this is only its consequence.
          results.push({ change, status: 'skipped', message: err.message });
        } else {
          const message = redact(errorMessage(err));
          results.push({ change, status: 'failed', message });
          errors.push({ object: describe(change), message });
          if (change.kind === 'create-user' || change.kind === 'create-group') failedSources.add(key(change.ref));
          failures++;
          if (failures >= opts.errorBudget) stoppedByBudget = true;
        }
      }
    }
    done++;
    opts.onProgress?.(done, total);
  }

  return { results, counts, errors, stoppedByBudget, interrupted };
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
