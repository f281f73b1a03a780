import type { z } from 'zod';
import type { UserAttribute } from './attributes.js';
import type { Logger } from './logger.js';
import type { Group, GroupInput, MemberRef, ObjectKind, User, UserInput } from './model.js';

/**
 * The connector contract. A connector module exports one `ConnectorDefinition`; the static
 * registry in `connectors/index.ts` lists them. Connectors import only `src/core` (and `src/scim`
 * when they speak SCIM), never the engine, planner or CLI.
 */

/** What a connector can do; the engine and `validate` check jobs against these before running. */
export interface Capabilities {
  /** Can be a job's source (and be read as a target). */
  read: boolean;
  /** Can be a job's target. */
  write: boolean;
  /** Groups may contain groups. When false, nested memberships are flattened by the engine. */
  nestedGroups: boolean;
  /** Supports soft deactivation (`active=false`, AD account disable). */
  deactivate: boolean;
  /** Supports hard deletes. */
  delete: boolean;
  /** Implements `DeltaReader`: can list only what changed since a watermark it issued. */
  delta: boolean;
}

/** Something odd but not fatal found while reading: shown in the plan, recorded in history. */
export interface ReadWarning {
  /** Short stable category, e.g. `duplicate-id`, `unknown-manager`. */
  code: string;
  message: string;
  /** Where it came from, e.g. `hr/employees.csv:17`. */
  where?: string;
  /**
   * Set when the problem made the reader leave an object out of its listing (duplicate id, bad
   * row). The engine then leaves that object's target account alone this run, instead of
   * mistaking "left out" for "gone from the source" and deactivating it.
   */
  excluded?: { kind: ObjectKind; id: string };
}

export interface ConnectorContext {
  /** The connector's name in the config (`connectors.<name>`), for messages. */
  name: string;
  /** Directory of the config file; relative paths in connector config resolve against it. */
  configDir: string;
  /** Absolute path of the SQLite state file (the embedded directory lives there). */
  statePath: string;
  logger: Logger;
  /** Report a non-fatal problem found while reading. */
  warn(warning: ReadWarning): void;
}

export interface CheckResult {
  ok: boolean;
  /** Human-readable facts found while checking (server version, object counts, …). */
  details: string[];
}

/** A user as read from a source, with the raw fields the job's mapping templates may use. */
export interface SourceUser extends User {
  raw?: Readonly<Record<string, unknown>>;
}

export interface SourceGroup extends Group {
  raw?: Readonly<Record<string, unknown>>;
}

/**
 * Reading. Both listings are complete or they throw: a connector never returns a partial listing,
 * because the planner would turn the missing objects into deletes.
 */
export interface DirectoryReader {
  listUsers(): AsyncIterable<SourceUser>;
  listGroups(): AsyncIterable<SourceGroup>;
  /**
   * The user attributes this reader provides authoritatively. Only these are compared and written
   * when the connector is a source; an attribute missing here is never cleared on the target.
   */
  userAttributes(): readonly UserAttribute[];
  /**
   * A cheap token that changes whenever what listUsers()/listGroups() would return may have
   * changed. Undefined when the connector cannot tell (remote servers): the engine then always
   * reads in full.
   *
   * The engine skips reading both sides when their tokens (with config and state) equal those of
   * an earlier full comparison that found nothing to do, so a token that stays the same while
   * the listing changed would hide that change: when in doubt, return undefined. The token must
   * not depend on the connector instance or the clock, only on what would be listed.
   */
  snapshotToken?(): Promise<string | undefined>;
}

/**
 * Delta reading, for sources that can list what changed since a point they name themselves
 * (LDAP `modifyTimestamp`, AD `uSNChanged`, SCIM `meta.lastModified`).
 *
 * The engine keeps the last complete source snapshot in state and merges changed objects into
 * it. Deletions are not reported by delta reads; the engine only removes objects after a full
 * read (periodic, or `--full`), so a delta run can never produce deletes.
 */
export interface DeltaReader {
  /**
   * An opaque watermark for "now", taken before a listing starts so that anything changed while
   * the listing runs is seen again by the next delta read (seeing an object twice is harmless,
   * missing it is not). Err towards earlier: subtract clock skew where the watermark is a time.
   */
  watermark(): Promise<string>;
  /** Users created or modified after `since`, complete or throw, like `listUsers()`. */
  changedUsers(since: string): AsyncIterable<SourceUser>;
  /** Groups created or modified after `since` (a membership change modifies the group). */
  changedGroups(since: string): AsyncIterable<SourceGroup>;
}

/** Returned by creates so state can link the source object to the target's native id. */
export interface Created {
  id: string;
}

/**
 * Writing. Every method either succeeds completely or throws (`RemoteError` for a refusal that
 * concerns this object only); the applier records state only after it returns.
 *
 * References inside the inputs (`enterprise.manager.value`, member values) are target ids.
 */
export interface DirectoryWriter {
  createUser(user: UserInput): Promise<Created>;
  /**
   * `desired` carries the managed attributes after the change; only those named in `changed`
   * must be written (a cleared attribute is in `changed` and absent from `desired`).
   */
  updateUser(id: string, desired: UserInput, changed: readonly UserAttribute[]): Promise<void>;
  deactivateUser(id: string): Promise<void>;
  deleteUser(id: string): Promise<void>;
  createGroup(group: GroupInput): Promise<Created>;
  updateGroup(id: string, desired: GroupInput, changed: readonly ('displayName' | 'externalId')[]): Promise<void>;
  deleteGroup(id: string): Promise<void>;
  /** Add members in one call; the connector splits into batches the target accepts. */
  addMembers(groupId: string, members: readonly MemberRef[]): Promise<void>;
  removeMembers(groupId: string, members: readonly MemberRef[]): Promise<void>;
}

export interface Connector {
  readonly reader?: DirectoryReader;
  /** Present when `capabilities.delta` is true and the configured server supports it. */
  readonly delta?: DeltaReader;
  readonly writer?: DirectoryWriter;
  /** Verify configuration and connectivity without changing anything. */
  check(): Promise<CheckResult>;
  close(): Promise<void>;
}

export interface ConnectorDefinition<C = unknown> {
  type: string;
  description: string;
  capabilities: Capabilities;
  /** Validates the connector's YAML block (everything but `type`). Unknown keys must be rejected. */
  configSchema: z.ZodType<C>;
  /**
   * Writes in flight when a job does not set `concurrency`. Remote targets want few (rate
   * limits); a local target batches concurrent writes into one commit, so more is faster.
   */
  defaultConcurrency?: number;
  /** Names of config keys that hold secrets, redacted wherever config is shown. */
  secretKeys?: readonly string[];
  create(config: C, ctx: ConnectorContext): Connector;
}

/** Erases the config type so definitions of different connectors fit one registry. */
export type AnyConnectorDefinition = ConnectorDefinition<never> & {
  configSchema: z.ZodType<unknown>;
  create(config: unknown, ctx: ConnectorContext): Connector;
};

export function defineConnector<C>(def: ConnectorDefinition<C>): AnyConnectorDefinition {
  return def as unknown as AnyConnectorDefinition;
}
