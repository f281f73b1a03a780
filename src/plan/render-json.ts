import { z } from 'zod';
import { PLAN_VERSION, type Plan } from './types.js';

/**
 * JSON form of a Plan (`plan --json`, `plan --out`). Keys are emitted in a fixed order — a few
 * meaningful ones first, the rest alphabetically — so the same plan always gives the same bytes
 * and saved plans diff cleanly.
 */
const KEY_PRIORITY = [
  'version',
  'job',
  'source',
  'target',
  'stateSerial',
  'summary',
  'holdReason',
  'kind',
  'phase',
  'ref',
  'group',
  'adopt',
  'reason',
  'attribute',
  'before',
  'after',
];
const rank = new Map(KEY_PRIORITY.map((k, i) => [k, i]));

function orderKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(orderKeys);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort((a, b) => {
    const ra = rank.get(a) ?? KEY_PRIORITY.length;
    const rb = rank.get(b) ?? KEY_PRIORITY.length;
    return ra - rb || (a < b ? -1 : a > b ? 1 : 0);
  });
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = orderKeys(obj[k]);
  return out;
}

/** The plan as a plain value with keys in the fixed order, to embed in a larger JSON document. */
export function planJsonValue(plan: Plan): unknown {
  return orderKeys(plan);
}

export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify(planJsonValue(plan), null, 2)}\n`;
}

// ---- parsing --------------------------------------------------------------------------------

const multiValue = z.object({ value: z.string(), type: z.string().optional(), primary: z.boolean().optional() });
const userInput = z.object({
  externalId: z.string().optional(),
  userName: z.string(),
  active: z.boolean(),
  name: z
    .object({
      formatted: z.string().optional(),
      familyName: z.string().optional(),
      givenName: z.string().optional(),
      middleName: z.string().optional(),
      honorificPrefix: z.string().optional(),
      honorificSuffix: z.string().optional(),
    })
    .optional(),
  displayName: z.string().optional(),
  nickName: z.string().optional(),
  title: z.string().optional(),
  userType: z.string().optional(),
  preferredLanguage: z.string().optional(),
  locale: z.string().optional(),
  timezone: z.string().optional(),
  emails: z.array(multiValue).optional(),
  phoneNumbers: z.array(multiValue).optional(),
  enterprise: z
    .object({
      employeeNumber: z.string().optional(),
      costCenter: z.string().optional(),
      organization: z.string().optional(),
      division: z.string().optional(),
      department: z.string().optional(),
      manager: z.object({ value: z.string(), displayName: z.string().optional() }).optional(),
    })
    .optional(),
});
const groupInput = z.object({ externalId: z.string().optional(), displayName: z.string() });
const objectRef = z.object({
  kind: z.enum(['user', 'group']),
  sourceId: z.string().optional(),
  targetId: z.string().optional(),
  label: z.string(),
});
const memberChange = z.object({
  type: z.enum(['User', 'Group']),
  sourceId: z.string().optional(),
  targetId: z.string().optional(),
  label: z.string(),
});
// JSON drops an undefined side ("unset"), so both sides may be absent; the transform puts the
// keys back so the result is an AttributeDiff again.
const diff = z
  .object({ attribute: z.string(), before: z.unknown().optional(), after: z.unknown().optional() })
  .transform((d) => ({ attribute: d.attribute, before: d.before, after: d.after }));
const matchedBy = z.enum(['link', 'externalId', 'userName', 'emails.value', 'displayName']);
const removalReason = z.enum(['removed-from-source', 'out-of-scope']);

const change = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('create-user'), phase: z.literal('users'), ref: objectRef, user: userInput, fingerprint: z.string() }),
  z.object({
    kind: z.literal('update-user'),
    phase: z.enum(['users', 'memberships']),
    ref: objectRef,
    adopt: matchedBy.optional(),
    diffs: z.array(diff),
    user: userInput,
    fingerprint: z.string(),
  }),
  z.object({
    kind: z.literal('deactivate-user'),
    phase: z.literal('deactivations'),
    ref: objectRef,
    reason: z.enum(['removed-from-source', 'out-of-scope', 'inactive-in-source']),
    fingerprint: z.string().optional(),
  }),
  z.object({ kind: z.literal('delete-user'), phase: z.literal('deactivations'), ref: objectRef, reason: removalReason }),
  z.object({ kind: z.literal('create-group'), phase: z.literal('groups'), ref: objectRef, group: groupInput, fingerprint: z.string() }),
  z.object({
    kind: z.literal('update-group'),
    phase: z.literal('groups'),
    ref: objectRef,
    adopt: matchedBy.optional(),
    diffs: z.array(diff),
    group: groupInput,
    fingerprint: z.string(),
  }),
  z.object({ kind: z.literal('delete-group'), phase: z.literal('group-deletes'), ref: objectRef, reason: removalReason }),
  z.object({ kind: z.literal('add-members'), phase: z.literal('memberships'), group: objectRef, members: z.array(memberChange) }),
  z.object({ kind: z.literal('remove-members'), phase: z.literal('memberships'), group: objectRef, members: z.array(memberChange) }),
]);

const count = z.number().int().nonnegative();
const planSchema = z.object({
  version: z.literal(PLAN_VERSION),
  job: z.string(),
  source: z.string(),
  target: z.string(),
  stateSerial: z.number().int(),
  changes: z.array(change),
  heldBack: z.array(change),
  holdReason: z.string().optional(),
  warnings: z.array(z.object({ code: z.string(), message: z.string(), where: z.string().optional() })),
  summary: z.object({ create: count, update: count, remove: count, memberships: count, heldBack: count }),
  unchangedSince: z.string().optional(),
  deltaRead: z
    .object({ users: count, groups: count, lastFullRead: z.string(), nextFullRead: z.string() })
    .optional(),
});

/** Compile-time check that what the schema accepts is a Plan. */
const _planShape: (p: z.infer<typeof planSchema>) => Plan = (p) => p;

/** Reads a saved plan. Throws an Error with a message fit for the user on anything but a valid plan. */
export function parsePlanJson(text: string): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`not a plan file: invalid JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error('not a plan file: expected a JSON object');
  }
  // Checked before the shape, so a plan from another release gets the useful message rather than
  // a list of fields that moved.
  const version = (raw as Record<string, unknown>).version;
  if (version !== PLAN_VERSION) {
    const seen = version === undefined ? 'has no version' : `is version ${JSON.stringify(version)}`;
    throw new Error(
      `plan file ${seen}; this scim-sync reads plan version ${PLAN_VERSION} only — re-create the plan with this version`,
    );
  }
  const parsed = planSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 10)
      .map((i) => `  ${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
    const more = parsed.error.issues.length > 10 ? [`  … and ${parsed.error.issues.length - 10} more`] : [];
    throw new Error(`malformed plan file:\n${[...issues, ...more].join('\n')}`);
  }
  return _planShape(parsed.data);
}
