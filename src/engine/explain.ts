import type { ReadWarning } from '../core/connector.js';
import type { Group, User } from '../core/model.js';
import { focusPlan, type FocusTarget } from '../plan/focus.js';
import type { Change, MatchedBy, Plan } from '../plan/types.js';
import { resolveObjectKey } from './object-key.js';
import { getJob, planWithDetails, type EngineContext } from './run-job.js';

export interface Explanation {
  job: string;
  key: string;
  object: FocusTarget;
  source:
    | { found: false }
    | { found: true; id: string; inScope: boolean; scopeFilter?: string; object: User | Group; raw?: Readonly<Record<string, unknown>> };
  target: { found: false } | { found: true; id: string; object: User | Group };
  /** How source and target object are (or would be) paired. */
  match: { by: MatchedBy | 'none'; linkOrigin?: 'created' | 'adopted'; detail: string };
  /** The plan narrowed to this object: exactly what `run --only KEY` would apply. */
  plan: Plan;
  /** Warnings from the read or the plan that mention this object. */
  warnings: ReadWarning[];
}

function adoptedBy(changes: readonly Change[]): MatchedBy | undefined {
  for (const c of changes) if ((c.kind === 'update-user' || c.kind === 'update-group') && c.adopt) return c.adopt;
  return undefined;
}

/**
 * `explain JOB KEY`: a full comparison of the job (nothing is written), and everything it found
 * about one object: whether the source has it and whether it is in scope, what it is paired with
 * on the target and how, and the exact changes a run would make to it.
 */
export async function explainObject(ctx: EngineContext, jobName: string, key: string): Promise<Explanation> {
  const job = getJob(ctx.config, jobName);
  const { plan, details } = await planWithDetails(ctx, jobName);
  const object = resolveObjectKey(details, key);
  const users = object.kind === 'user';
  const scopeFilter = users ? job.scope.users : job.scope.groups;
  const focused = focusPlan(plan, object);

  let source: Explanation['source'] = { found: false };
  if (object.sourceId !== undefined) {
    const read = users ? details.source.users.get(object.sourceId) : details.source.groups.get(object.sourceId);
    const mapped = users ? details.prepared.users.get(object.sourceId) : details.prepared.groups.get(object.sourceId);
    if (read) {
      const { raw, ...rest } = read;
      const { raw: _mappedRaw, ...shown } = (mapped ?? rest) as (User | Group) & { raw?: unknown };
      source = { found: true, id: object.sourceId, inScope: mapped !== undefined, ...(scopeFilter ? { scopeFilter } : {}), object: shown, ...(raw ? { raw } : {}) };
    }
  }

  const link = object.sourceId !== undefined ? (users ? details.links.users : details.links.groups).get(object.sourceId) : undefined;
  const targetId = object.targetId ?? link?.targetId;
  const targetObject = targetId !== undefined ? (users ? details.target.users.get(targetId) : details.target.groups.get(targetId)) : undefined;
  const target: Explanation['target'] = targetObject && targetId !== undefined ? { found: true, id: targetId, object: targetObject } : { found: false };

  const creates = focused.changes.some((c) => c.kind === 'create-user' || c.kind === 'create-group');
  const adopt = adoptedBy(focused.changes);
  let match: Explanation['match'];
  if (adopt) {
    match = { by: adopt, detail: `not linked yet; matched the existing target object by ${adopt}, which this run adopts (links and updates)` };
  } else if (link && targetObject) {
    match = { by: 'link', linkOrigin: link.origin, detail: `linked in state to target id ${link.targetId} (${link.origin} by this job)` };
  } else if (link) {
    match = { by: 'link', linkOrigin: link.origin, detail: `linked in state to target id ${link.targetId}, which the target no longer has` };
  } else if (creates) {
    const matchers = users ? job.match.users : job.match.groups;
    match = { by: 'none', detail: `no target object matched (tried ${matchers.join(', ')}): a run creates it` };
  } else if (source.found && !source.inScope) {
    match = { by: 'none', detail: 'not provisioned: out of scope, and not linked' };
  } else if (!source.found) {
    match = { by: 'none', detail: 'not in the source and not linked: scim-sync does not manage it and never changes it' };
  } else {
    match = { by: 'none', detail: 'not paired with a target object and not created (see the warnings)' };
  }

  const mentions = [object.sourceId, object.targetId, object.label].filter((x): x is string => Boolean(x));
  const warnings = plan.warnings.filter(
    (w) =>
      (w.excluded && w.excluded.kind === object.kind && w.excluded.id === object.sourceId) ||
      mentions.some((m) => w.message.includes(m) || (w.where ?? '').includes(m)),
  );
  return { job: job.name, key, object, source, target, match, plan: focused, warnings };
}
