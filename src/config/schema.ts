import { z } from 'zod';
import { DELETE_MODES, GROUP_MATCHERS, ON_MISSING, USER_MATCHERS } from './types.js';

/**
 * zod schemas for the parts of the config this module owns. Connector blocks are validated by
 * each connector's own schema; mapping values and scope filters by their own modules (they need
 * a parser, not a shape), so those appear here only as shapes.
 *
 * Messages that matter to users are set on the fields; everything else goes through
 * `humanErrorMap` (issues.ts).
 */

/** Job and connector names: safe in file names, log lines and CLI arguments. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const NAME_RULE = 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"';

/** Cheap shape check; the scheduler validates the expression fully when it registers the job. */
function looksLikeCron(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  return (fields.length === 5 || fields.length === 6) && fields.every((f) => /^[0-9A-Za-z*/,?#-]+$/.test(f));
}

const PERCENT = 'expected a number from 0 to 100';
const COUNT = 'expected a whole number, 0 or more';
const CONCURRENCY = 'expected a whole number from 1 to 64';

const DURATION = 'expected a duration such as "30m", "24h" or "7d"';
const DURATION_UNITS_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "24h", "7d" → milliseconds. */
export const durationSchema = z
  .string({ error: DURATION })
  .regex(/^\d+[smhd]$/, { error: DURATION })
  .transform((text) => Number(text.slice(0, -1)) * DURATION_UNITS_MS[text.slice(-1)]!)
  .refine((ms) => ms > 0, { error: DURATION });

function unique<T>(values: readonly T[]): boolean {
  return new Set(values).size === values.length;
}

export const serverSchema = z.looseObject({
  listen: z.string().min(1).optional(),
  directory: z.string().min(1).optional(),
  tokens: z.array(z.unknown()).optional(),
});

export const topLevelSchema = z.strictObject({
  state: z.string().min(1).optional(),
  // null: a key written with nothing after it (`jobs:`) means "none yet", not an error.
  connectors: z.record(z.string(), z.unknown()).nullish(),
  jobs: z.record(z.string(), z.unknown()).nullish(),
  server: serverSchema.optional(),
});

export const deletesSchema = z.strictObject({
  mode: z.enum(DELETE_MODES).default('deactivate'),
  maxCount: z.int({ error: COUNT }).min(0, { error: COUNT }).default(500),
  maxPercent: z.number({ error: PERCENT }).min(0, { error: PERCENT }).max(100, { error: PERCENT }).default(10),
});

export const jobSchema = z.strictObject({
  source: z.string().min(1),
  target: z.string().min(1).default('embedded'),
  schedule: z
    .string()
    .refine(looksLikeCron, { error: 'expected a cron expression with 5 or 6 fields, e.g. "*/30 * * * *"' })
    .optional(),
  scope: z
    .strictObject({
      users: z.string().min(1).optional(),
      groups: z.string().min(1).optional(),
    })
    .prefault({}),
  match: z
    .strictObject({
      users: z
        .array(z.enum(USER_MATCHERS))
        .min(1)
        .refine(unique, { error: 'lists the same matcher twice' })
        .default(['externalId', 'userName']),
      groups: z
        .array(z.enum(GROUP_MATCHERS))
        .min(1)
        .refine(unique, { error: 'lists the same matcher twice' })
        .default(['externalId', 'displayName']),
    })
    .prefault({}),
  mapping: z
    .strictObject({
      // Keys and values are checked by validateUserMapping (src/mapping), which knows the attributes.
      users: z.record(z.string(), z.unknown()).default({}),
      groups: z.strictObject({ displayName: z.string().min(1).optional() }).prefault({}),
    })
    .prefault({}),
  deletes: deletesSchema.prefault({}),
  errorBudget: z.int({ error: COUNT }).min(0, { error: COUNT }).default(50),
  /** Stop after this many target-unavailable failures (5xx, timeouts, refused) in a row with no success between. */
  maxConsecutiveFailures: z.int({ error: 'expected a whole number, 1 or more' }).min(1, { error: 'expected a whole number, 1 or more' }).default(10),
  /** A linked target object answering 404 to an update, deactivation or member change: drop the link, or create it again. */
  onMissing: z.enum(ON_MISSING).default('relink'),
  // Delta reads, for sources that support them: only what changed since the last read is
  // listed and merged into the snapshot kept in state. Deletions in the source are only seen by
  // a full read, hence the periodic one.
  delta: z
    .strictObject({
      enabled: z.boolean().default(true),
      fullReadEvery: durationSchema.default(24 * 3_600_000),
    })
    .prefault({}),
  concurrency: z.int({ error: CONCURRENCY }).min(1, { error: CONCURRENCY }).max(64, { error: CONCURRENCY }).optional(),
});

export type JobSchemaOutput = z.output<typeof jobSchema>;
