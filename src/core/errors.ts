/**
 * Every failure a user can cause or meet is one of these. The CLI maps them to exit codes and
 * messages in one place; anything else reaching the top is a bug and is reported as such.
 */
export abstract class ScimSyncError extends Error {
  /** Short machine-readable category, also used in JSON output. */
  abstract readonly code: string;
}

export interface ConfigIssue {
  /** YAML path such as `jobs.hr-to-app.deletes.maxPercent`; empty for the document root. */
  path: string;
  message: string;
}

export class ConfigError extends ScimSyncError {
  readonly code = 'config';
  constructor(
    readonly issues: ConfigIssue[],
    readonly file?: string,
  ) {
    super(
      `${file ? `${file}: ` : ''}invalid configuration:\n` +
        issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Bad data in a source file: always names file, line and (when known) column. */
export class InputError extends ScimSyncError {
  readonly code = 'input';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
    readonly reason: string,
  ) {
    const where = [file, line, column].filter((x) => x !== undefined).join(':');
    super(`${where}: ${reason}`);
    this.name = 'InputError';
  }
}

/** A remote system (or the embedded directory) refused or failed an operation on one object. */
export class RemoteError extends ScimSyncError {
  readonly code = 'remote';
  constructor(
    /** What was being done to what, e.g. `create user jdoe@example.com`. */
    readonly object: string,
    /** The server's own answer (status line, SCIM detail, LDAP result), already redacted. */
    readonly detail: string,
    readonly status?: number,
    /** True when retrying later may succeed (timeouts, 5xx, 429). */
    readonly transient = false,
  ) {
    super(`${object}: ${detail}`);
    this.name = 'RemoteError';
  }
}

/**
 * A create refused because the object already exists on the target (SCIM 409, LDAP
 * entryAlreadyExists), or found by a lookup before creating. `existing` is set when the connector
 * found exactly one such object: the applier then decides, by the job's match settings, whether
 * to adopt it (connectors do not know those settings).
 */
export class AlreadyExistsError extends RemoteError {
  constructor(
    object: string,
    detail: string,
    readonly existing: {
      id: string;
      /** The attribute it was found by: `externalId`, `userName`, `displayName`. */
      by: string;
      /** Its externalId on the target, if any (an anchor naming another source object forbids adoption). */
      externalId?: string;
    } | undefined,
    status?: number,
  ) {
    super(object, detail, status);
    this.name = 'AlreadyExistsError';
  }
}

/** A connector could not be reached or could not read completely. Fails the whole job. */
export class ConnectorError extends ScimSyncError {
  readonly code = 'connector';
  constructor(
    readonly connector: string,
    message: string,
  ) {
    super(`connector ${connector}: ${message}`);
    this.name = 'ConnectorError';
  }
}

export class LockHeldError extends ScimSyncError {
  readonly code = 'locked';
  constructor(
    readonly job: string,
    readonly holder: string,
  ) {
    super(`job ${job} is locked by ${holder}; another run is in progress`);
    this.name = 'LockHeldError';
  }
}

export class StalePlanError extends ScimSyncError {
  readonly code = 'stale-plan';
  constructor(message: string) {
    super(message);
    this.name = 'StalePlanError';
  }
}

/** A user-facing usage problem: unknown job name, missing file argument, and so on. */
export class UsageError extends ScimSyncError {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
