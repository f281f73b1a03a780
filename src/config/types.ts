/** The validated configuration, with every default applied. */

export const USER_MATCHERS = ['externalId', 'userName', 'emails.value'] as const;
export type UserMatcher = (typeof USER_MATCHERS)[number];
export const GROUP_MATCHERS = ['externalId', 'displayName'] as const;
export type GroupMatcher = (typeof GROUP_MATCHERS)[number];

export const DELETE_MODES = ['deactivate', 'delete', 'never'] as const;

/** What the applier does when a linked target object is gone (404): see src/apply/applier.ts. */
export const ON_MISSING = ['relink', 'recreate'] as const;
export type OnMissing = (typeof ON_MISSING)[number];
export type DeleteMode = (typeof DELETE_MODES)[number];

/** A mapping value: a `{{template}}` string or a JSONata expression. */
export type MappingValue = string | { expr: string };

export interface JobConfig {
  name: string;
  /** Connector name. */
  source: string;
  /** Connector name; `embedded` when not given. */
  target: string;
  /** Cron expression for `schedule` (node-cron syntax, optional seconds field first). */
  schedule?: string;
  /** IANA time zone the schedule is read in; the host's when unset. */
  timezone?: string;
  /** Longest random delay (ms) before a scheduled run starts. */
  jitter?: number;
  /** Another run of this job holds the lock: `skip` this one, or `wait` up to overlapTimeout ms. */
  overlap: 'skip' | 'wait';
  overlapTimeout: number;
  /** SCIM filters (already checked to parse) applied to source objects. */
  scope: { users?: string; groups?: string };
  /** Matchers in order; `externalId` is the stable anchor. */
  match: { users: UserMatcher[]; groups: GroupMatcher[] };
  mapping: {
    /** Keys are user attribute paths or aliases (`email`, `phone`, `mobile`, `manager`, `department`, …). */
    users: Record<string, MappingValue>;
    groups: { displayName?: string };
  };
  deletes: { mode: DeleteMode; maxCount: number; maxPercent: number };
  /** Stop the run after this many failed changes. */
  errorBudget: number;
  /** Stop the run after this many target-unavailable failures in a row (set by the loader; default 10). */
  maxConsecutiveFailures?: number;
  /** A linked target object gone (404): `relink` (default) or `recreate`. Set by the loader. */
  onMissing?: OnMissing;
  /**
   * Delta reads for sources that support them. `fullReadEvery` (ms): the longest a run may go
   * on delta reads before reading in full, the only way deletions in the source are seen.
   */
  delta: { enabled: boolean; fullReadEvery: number };
  /** Parallel writes within a phase; unset means the target connector's default. */
  concurrency?: number;
}

export interface ConnectorConfig {
  name: string;
  type: string;
  /** The block minus `type`, as parsed (with defaults) by the connector's own schema. */
  config: unknown;
}

export interface ServerTokenConfig {
  value: string;
  readOnly: boolean;
}

/** The `serve` settings, with defaults applied (see serverSchema). */
export interface ServerConfig {
  /** `host:port`. */
  listen: string;
  /** Connector name. */
  directory: string;
  basePath: string;
  tokens: ServerTokenConfig[];
  readOnly: boolean;
  /** PEM file paths, relative to the config file. */
  tls?: { cert: string; key: string };
  maxBodyBytes: number;
  maxResults: number;
  bulk: { maxOperations: number; maxPayloadSize: number };
}

export type WebhookEvent = 'failure' | 'held' | 'changes';

export interface OperationsConfig {
  history: { keepRuns: number; keepFor: number };
  notify: { webhook?: { url: string; on: WebhookEvent[]; headers: Record<string, string>; timeout: number; retries: number } };
  metrics: { listen?: string };
  logging: { format: 'text' | 'json' | 'auto'; level?: 'debug' | 'info' | 'warn' | 'error' };
}

export interface LoadedConfig {
  /** Absolute path of the config file (package.json when the config is its `scim-sync` key). */
  file: string | undefined;
  /** Relative paths in the config resolve against this directory. */
  configDir: string;
  /** Absolute path of the SQLite state file. */
  statePath: string;
  connectors: Record<string, ConnectorConfig>;
  jobs: Record<string, JobConfig>;
  server?: ServerConfig;
  /** history retention, notifications, metrics, logging */
  operations: OperationsConfig;
  /** Non-fatal findings (literal secrets, …) for `validate` and the log. */
  warnings: string[];
}
