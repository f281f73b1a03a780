import { z } from 'zod';
import { registerSecret } from '../../src/core/secrets.js';
import { PROFILE_NAMES } from './profiles.js';

/**
 * Configuration of a SCIM 2.0 connection. Everything but `baseUrl` and `auth` has a default that
 * suits a typical SaaS SCIM endpoint; the README documents each key.
 */

const nonEmpty = z.string().min(1, 'must not be empty');
const positiveInt = z.number().int().positive();

const authSchema = z.union([
  z.strictObject({ bearer: nonEmpty }),
  z.strictObject({ basic: z.strictObject({ username: nonEmpty, password: nonEmpty }) }),
  z.strictObject({
    header: z.strictObject({
      // An HTTP header name (RFC 9110 token), e.g. `Authorization` or `X-Api-Key`.
      name: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name'),
      value: nonEmpty,
    }),
  }),
  z.strictObject({
    oauth2: z.strictObject({
      tokenUrl: z.url({ protocol: /^https?$/ }),
      clientId: nonEmpty,
      clientSecret: nonEmpty,
      scope: nonEmpty.optional(),
    }),
  }),
]);

export type ScimAuth = z.infer<typeof authSchema>;

export const DEFAULT_TIMEOUTS = { connect: 10_000, headers: 30_000, body: 60_000 } as const;
export const DEFAULT_RETRY = { attempts: 5, baseDelay: 500, maxDelay: 30_000 } as const;

/**
 * Proxy credentials are secrets, but the URL itself is not: registering only the credentials (at
 * parse time, before any message can carry them) keeps the proxy host visible in `config` output.
 */
function registerProxyCredentials(url: string): string {
  const u = new URL(url);
  for (const part of [u.username, u.password]) {
    if (part === '') continue;
    registerSecret(part);
    registerSecret(decodeURIComponent(part));
  }
  if (u.username || u.password) {
    registerSecret(Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64'));
  }
  return url;
}

export const scimConfigSchema = z.strictObject({
  /** The SCIM root, e.g. `https://app.example.com/scim/v2`; `/Users` and `/Groups` are appended. */
  baseUrl: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
  auth: authSchema,
  timeouts: z
    .strictObject({
      connect: positiveInt.default(DEFAULT_TIMEOUTS.connect),
      headers: positiveInt.default(DEFAULT_TIMEOUTS.headers),
      body: positiveInt.default(DEFAULT_TIMEOUTS.body),
    })
    .default(DEFAULT_TIMEOUTS),
  retry: z
    .strictObject({
      /** Total tries per request, the first included. */
      attempts: positiveInt.max(20).default(DEFAULT_RETRY.attempts),
      /** First backoff in ms; doubles each retry, with jitter. */
      baseDelay: positiveInt.default(DEFAULT_RETRY.baseDelay),
      /** Cap on any single wait, `Retry-After` included, so a hostile header cannot stall a run. */
      maxDelay: positiveInt.default(DEFAULT_RETRY.maxDelay),
    })
    .default(DEFAULT_RETRY),
  /** `count` asked per page when listing. Servers may return fewer; the reader copes. */
  pageSize: positiveInt.max(10_000).default(100),
  /** Known server whose defaults apply (connectors/scim/profiles.ts); explicit keys below win. */
  profile: z.enum(PROFILE_NAMES).default('generic'),
  /** Member changes per PATCH request (AWS Identity Center accepts at most 100). Default: the profile's. */
  memberBatchSize: positiveInt.max(10_000).optional(),
  /** How member removals are written: RFC `members[value eq "…"]` paths, or a `value` list. Default: the profile's. */
  memberRemoveStyle: z.enum(['filter', 'value']).optional(),
  /** `auto` uses PATCH when /ServiceProviderConfig says it is supported, else PUT. Default: the profile's. */
  updateMethod: z.enum(['auto', 'patch', 'put']).optional(),
  /** List groups without members, then read each group's members with its own GET. */
  largeGroups: z.boolean().default(false),
  tls: z
    .strictObject({
      caFile: nonEmpty.optional(),
      certFile: nonEmpty.optional(),
      keyFile: nonEmpty.optional(),
      /** Turns certificate verification off. Only for test servers; a warning is logged. */
      insecure: z.boolean().optional(),
    })
    .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
      message: 'certFile and keyFile must be given together',
    })
    .optional(),
  /**
   * Forward proxy for every request (SCIM and OAuth token), e.g. `http://user:pw@proxy:3128`;
   * `false` ignores HTTPS_PROXY/HTTP_PROXY. Absent: those variables (and NO_PROXY) apply.
   */
  proxy: z.union([z.url({ protocol: /^https?$/ }).transform(registerProxyCredentials), z.literal(false)]).optional(),
  /**
   * Look the object up (externalId, then userName / displayName) before each create, so an
   * existing one is adopted without a POST. For targets that cannot list everything; otherwise
   * the planner already adopts from its full read of the target.
   */
  lookupBeforeCreate: z.boolean().default(false),
  /** Delta reads: ms subtracted from the server's `Date` header for the watermark (clock skew, commit lag). */
  deltaSkew: z.number().int().min(0).max(86_400_000).default(60_000),
  /** Connections kept open to the server; defaults to the job's concurrency. */
  concurrency: positiveInt.max(256).optional(),
});

export type ScimConfig = z.infer<typeof scimConfigSchema>;
/** The config as written (defaults not yet applied), e.g. for tests. */
export type ScimConfigInput = z.input<typeof scimConfigSchema>;

/** Config keys holding secrets: redacted wherever config is shown. */
export const SCIM_SECRET_KEYS = ['bearer', 'password', 'value', 'clientSecret'] as const;
