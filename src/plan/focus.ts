import { summarize } from './planner.js';
import type { Change, MemberChange, ObjectRef, Plan } from './types.js';

/** One user or group, by its source id, its target id, or both. */
export interface FocusTarget {
  kind: 'user' | 'group';
  sourceId?: string;
  targetId?: string;
  /** userName or displayName, for messages. */
  label: string;
}

function refMatches(ref: ObjectRef, t: FocusTarget): boolean {
  if (ref.kind !== t.kind) return false;
  return (t.sourceId !== undefined && ref.sourceId === t.sourceId) || (t.targetId !== undefined && ref.targetId === t.targetId);
}

function memberMatches(m: MemberChange, t: FocusTarget): boolean {
  if (m.type !== (t.kind === 'user' ? 'User' : 'Group')) return false;
  return (t.sourceId !== undefined && m.sourceId === t.sourceId) || (t.targetId !== undefined && m.targetId === t.targetId);
}

function focusChange(c: Change, t: FocusTarget): Change | undefined {
  if (c.kind === 'add-members' || c.kind === 'remove-members') {
    // A group's own membership changes all concern it; for anyone else only their own entries.
    if (refMatches(c.group, t)) return c;
    const members = c.members.filter((m) => memberMatches(m, t));
    return members.length ? { ...c, members } : undefined;
  }
  return refMatches(c.ref, t) ? c : undefined;
}

/**
 * The plan narrowed to the changes that concern one object: its own create, update or removal,
 * and its memberships (`run --only`, `explain`). The rest of the plan is left for a full run.
 * Safety rules already applied to the whole plan stay: a removal held back stays held back.
 */
export function focusPlan(plan: Plan, target: FocusTarget): Plan {
  const pick = (list: readonly Change[]) => list.map((c) => focusChange(c, target)).filter((c): c is Change => c !== undefined);
  const changes = pick(plan.changes);
  const heldBack = pick(plan.heldBack);
  const focused: Plan = { ...plan, changes, heldBack, summary: summarize(changes, heldBack) };
  if (heldBack.length === 0) delete focused.holdReason;
  return focused;
}
