import kleur from 'kleur';
import type { Change, MemberChange, ObjectRef, Plan } from './types.js';

/**
 * Terraform-like human output of a Plan. Only the caller knows whether colour is wanted (TTY,
 * --no-color, NO_COLOR), so kleur's own environment sniffing is overridden for the duration of
 * one render — rendering is synchronous, so nothing else can observe the switch.
 */
export interface RenderTextOptions {
  color: boolean;
  /** Show every member instead of the first MEMBER_LIMIT per group. */
  verbose?: boolean;
}

const MEMBER_LIMIT = 20;

const REASONS: Record<string, string> = {
  'removed-from-source': 'removed from source',
  'out-of-scope': 'out of scope',
  'inactive-in-source': 'inactive in source',
};

export function renderPlanText(plan: Plan, opts: RenderTextOptions): string {
  const prev = kleur.enabled;
  kleur.enabled = opts.color;
  try {
    return render(plan, opts.verbose ?? false);
  } finally {
    kleur.enabled = prev;
  }
}

function render(plan: Plan, verbose: boolean): string {
  const lines: string[] = [];
  append(lines, renderChanges(plan.changes, verbose));

  if (plan.warnings.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(kleur.bold('Warnings:'));
    for (const w of plan.warnings) lines.push(`  ${kleur.yellow('!')} ${w.code}: ${w.message}${w.where ? ` (${w.where})` : ''}`);
  }

  if (plan.heldBack.length > 0) {
    if (lines.length > 0) lines.push('');
    const n = plan.summary.heldBack;
    lines.push(kleur.bold(`Held back (${n} removal${n === 1 ? '' : 's'} not applied):`));
    if (plan.holdReason) lines.push(`  ${plan.holdReason}`);
    append(lines, renderChanges(plan.heldBack, verbose));
  }

  if (plan.deltaRead) {
    if (lines.length > 0) lines.push('');
    const d = plan.deltaRead;
    lines.push(
      `Delta read: ${d.users} user${d.users === 1 ? '' : 's'} and ${d.groups} group${d.groups === 1 ? '' : 's'} changed in the source. ` +
        `Deletions since the last full read (${d.lastFullRead}) show up at the next one (by ${d.nextFullRead}, or now with --full).`,
    );
  }

  if (plan.changes.length === 0 && plan.heldBack.length === 0) {
    if (lines.length > 0) lines.push('');
    // Both lines start with "No changes." so scripts looking for it match either.
    lines.push(
      plan.unchangedSince === undefined
        ? 'No changes. Target is in sync.'
        : `No changes. Source and target are unchanged since they were last compared in full (${plan.unchangedSince}).`,
    );
    return `${lines.join('\n')}\n`;
  }

  if (lines.length > 0) lines.push('');
  const s = plan.summary;
  let summary =
    `Plan: ${s.create} to create, ${s.update} to update, ${s.remove} to remove, ` +
    `${s.memberships} membership change${s.memberships === 1 ? '' : 's'}.`;
  if (s.heldBack > 0) summary += ` (${s.heldBack} removal${s.heldBack === 1 ? '' : 's'} held back)`;
  lines.push(kleur.bold(summary));
  return `${lines.join('\n')}\n`;
}

function renderChanges(changes: readonly Change[], verbose: boolean): string[] {
  const lines: string[] = [];
  // Membership changes for one group are shown together, at the place of the first of them.
  const memberBlocks = new Map<string, { adds: MemberChange[]; removes: MemberChange[]; ref: ObjectRef }>();
  for (const c of changes) {
    if (c.kind !== 'add-members' && c.kind !== 'remove-members') continue;
    const key = groupKey(c.group);
    let block = memberBlocks.get(key);
    if (block === undefined) {
      block = { adds: [], removes: [], ref: c.group };
      memberBlocks.set(key, block);
    }
    append(c.kind === 'add-members' ? block.adds : block.removes, c.members);
  }
  const shown = new Set<string>();

  for (const c of changes) {
    switch (c.kind) {
      case 'create-user':
      case 'create-group':
        lines.push(kleur.green(`  + create ${c.ref.kind} ${c.ref.label}`));
        break;
      case 'update-user':
      case 'update-group': {
        let head: string;
        if (c.adopt !== undefined) head = `  ~ adopt ${c.ref.kind} ${c.ref.label} (matched by ${c.adopt})`;
        else if (c.kind === 'update-user' && c.phase === 'memberships') {
          head = `  ~ update user ${c.ref.label} (after creates)`;
        } else head = `  ~ update ${c.ref.kind} ${c.ref.label}`;
        lines.push(kleur.yellow(head));
        for (const d of c.diffs) lines.push(`      ${d.attribute}: ${formatValue(d.before)} → ${formatValue(d.after)}`);
        break;
      }
      case 'deactivate-user':
      case 'delete-user':
      case 'delete-group': {
        const verb = c.kind === 'deactivate-user' ? 'deactivate' : 'delete';
        lines.push(kleur.red(`  - ${verb} ${c.ref.kind} ${c.ref.label} (${REASONS[c.reason] ?? c.reason})`));
        break;
      }
      case 'add-members':
      case 'remove-members': {
        const key = groupKey(c.group);
        if (shown.has(key)) break;
        shown.add(key);
        append(lines, renderMembers(memberBlocks.get(key)!, verbose));
        break;
      }
    }
  }
  return lines;
}

function renderMembers(
  block: { adds: MemberChange[]; removes: MemberChange[]; ref: ObjectRef },
  verbose: boolean,
): string[] {
  const parts: string[] = [];
  if (block.adds.length > 0) parts.push(`+${block.adds.length} member${block.adds.length === 1 ? '' : 's'}`);
  if (block.removes.length > 0) parts.push(`-${block.removes.length} member${block.removes.length === 1 ? '' : 's'}`);
  const lines = [kleur.yellow(`  ~ group ${block.ref.label}: ${parts.join(', ')}`)];
  const all = [
    ...block.adds.map((m) => kleur.green(`      + ${memberLabel(m)}`)),
    ...block.removes.map((m) => kleur.red(`      - ${memberLabel(m)}`)),
  ];
  const limit = verbose ? all.length : MEMBER_LIMIT;
  lines.push(...all.slice(0, limit));
  if (all.length > limit) lines.push(`      … and ${all.length - limit} more`);
  return lines;
}

function memberLabel(m: MemberChange): string {
  return m.type === 'Group' ? `group ${m.label}` : m.label;
}

function groupKey(ref: ObjectRef): string {
  return `${ref.sourceId ?? ''}\u0000${ref.targetId ?? ''}\u0000${ref.label}`;
}

/** JSON-ish: strings quoted, arrays and objects compact, undefined as `(unset)`. */
export function formatValue(value: unknown): string {
  if (value === undefined || value === null) return '(unset)';
  return JSON.stringify(value);
}

/** push(...items) passes every item as an argument and overflows the stack at ~100k items. */
function append<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}
