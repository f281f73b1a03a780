import { validateDetailed } from 'node-cron';
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

const CRON_HELP = '5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, e.g. "*/30 * * * *"';

/** node-cron's own validation, so what passes here is exactly what the scheduler accepts. */
function cronProblem(expr: string): string | undefined {
  const result = validateDetailed(expr.trim());
  if (result.valid) return undefined;
  const first = result.errors[0];
  if (!first || first.field === 'expression') return `expected a cron expression with ${CRON_HELP}`;
  if (/impossible/.test(first.message)) return `invalid cron expression: ${first.message}`;
  return `invalid cron expression: the ${first.field} field "${first.value ?? ''}" is not valid (${CRON_HELP})`;
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
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

/** `host:port`, `[v6]:port` or `:port` (every interface); port 0 picks a free one. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!), port };
}

const LISTEN = 'expected host:port, e.g. 127.0.0.1:8080, [::1]:8080 or :8080 (every interface)';
const BYTES = 'expected a whole number of bytes, at least 1024';
const RESULTS = 'expected a whole number from 1 to 100000';

/**
 * A bearer token: `{ value, readOnly? }`, or just the value. No label: every string under
 * `tokens` is treated as a secret by the loader, so the access log names tokens by position.
 */
const serverTokenSchema = z.union(
  [
    z.string().min(1).transform((value) => ({ value, readOnly: false })),
    z.strictObject({ value: z.string().min(1), readOnly: z.boolean().default(false) }),
  ],
  { error: 'expected a token: a string, or { value, readOnly }' },
);

export const serverSchema = z.strictObject({
  listen: z.string().refine((t) => parseListen(t) !== undefined, { error: LISTEN }).default('127.0.0.1:8080'),
  /** The connector served; the embedded directory unless another readable connector is named. */
  directory: z.string().min(1).default('embedded'),
  basePath: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*\/?$/, { error: 'expected a URL path such as /scim/v2 (or "" for the root)' })
    .default('/scim/v2'),
  tokens: z.array(serverTokenSchema).default([]),
  /** Serve read-only even when the directory can be written. */
  readOnly: z.boolean().default(false),
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  maxBodyBytes: z.int({ error: BYTES }).min(1024, { error: BYTES }).default(1_048_576),
  maxResults: z.int({ error: RESULTS }).min(1, { error: RESULTS }).max(100_000, { error: RESULTS }).default(1000),
  bulk: z
    .strictObject({
      maxOperations: z.int({ error: RESULTS }).min(1, { error: RESULTS }).max(100_000, { error: RESULTS }).default(1000),
      maxPayloadSize: z.int({ error: BYTES }).min(1024, { error: BYTES }).default(1_048_576),
    })
    .prefault({}),
});

const WEBHOOK_EVENTS = ['failure', 'held', 'changes'] as const;

export const historySchema = z
  .strictObject({
    // Run records kept per job, newest first; older ones are pruned after each run.
    keepRuns: z.int({ error: 'expected a whole number, 1 or more' }).min(1, { error: 'expected a whole number, 1 or more' }).default(1000),
    keepFor: durationSchema.default(90 * 86_400_000),
  })
  .prefault({});

export const notifySchema = z
  .strictObject({
    webhook: z
      .strictObject({
        url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
        on: z.array(z.enum(WEBHOOK_EVENTS)).min(1).refine(unique, { error: 'lists the same event twice' }).default(['failure', 'held']),
        headers: z.record(z.string(), z.string()).default({}),
        timeout: durationSchema.default(10_000),
        retries: z.int({ error: 'expected a whole number from 0 to 10' }).min(0).max(10, { error: 'expected a whole number from 0 to 10' }).default(4),
      })
      .optional(),
  })
  .prefault({});

export const metricsSchema = z
  .strictObject({
    // host:port where `schedule` and `serve` serve /metrics (Prometheus text format); off when unset.
    listen: z.string().refine((t) => parseListen(t) !== undefined, { error: LISTEN }).optional(),
  })
  .prefault({});

export const loggingSchema = z
  .strictObject({
    // auto: human lines on a terminal, JSON lines otherwise (journald, files, log shippers).
    format: z.enum(['text', 'json', 'auto']).default('text'),
    level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  })
  .prefault({});

export const topLevelSchema = z.strictObject({
  state: z.string().min(1).optional(),
  history: historySchema,
  notify: notifySchema,
  metrics: metricsSchema,
  logging: loggingSchema,
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
    .superRefine((expr, ctx) => {
      const problem = cronProblem(expr);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  // IANA zone for `schedule`; the scheduler's host zone when unset.
  timezone: z.string().refine(isTimeZone, { error: 'expected an IANA time zone such as "Europe/Berlin" or "UTC"' }).optional(),
  // A random delay of up to this long before each scheduled run, so many hosts do not hit a
  // server at the same second.
  jitter: durationSchema.optional(),
  // When another run of the job holds its lock (a schedule tick, a cron `run`): skip this run,
  // or wait for the other one to finish (at most `overlapTimeout`, then skip).
  overlap: z.enum(['skip', 'wait']).default('skip'),
  overlapTimeout: durationSchema.default(3_600_000),
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
