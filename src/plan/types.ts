import type { ReadWarning } from '../core/connector.js';
import type { UserAttribute } from '../core/attributes.js';
import type { Group, GroupInput, MemberType, User, UserInput } from '../core/model.js';

/**
 * A plan is a versioned, JSON-serialisable value: `plan --out` writes it, `apply` reads it back.
 * Bump PLAN_VERSION on any incompatible change; `apply` refuses other versions.
 */
export const PLAN_VERSION = 1;

/** Phases run in this order; a phase starts only after the previous one finished. */
export const PHASES = ['groups', 'users', 'memberships', 'deactivations', 'group-deletes'] as const;
export type Phase = (typeof PHASES)[number];

export interface AttributeDiff {
  attribute: string;
  before: unknown;
  after: unknown;
}

/** How a target object came to be linked to its source object. */
export type MatchedBy = 'link' | 'externalId' | 'userName' | 'emails.value' | 'displayName';

/**
 * A reference to an object that may not exist on the target yet: the applier resolves `sourceId`
 * through the links state holds (including links made earlier in the same apply).
 */
export interface ObjectRef {
  kind: 'user' | 'group';
  sourceId?: string;
  targetId?: string;
  /** userName or displayName, for humans. */
  label: string;
}

export interface MemberChange {
  type: MemberType;
  /** Set for members being added (resolved at apply time). */
  sourceId?: string;
  /** Set for members being removed (they exist on the target). */
  targetId?: string;
  label: string;
}

/**
 * User and group payloads inside a plan use *source ids* for references (manager), which the
 * applier translates to target ids.
 */
export type Change =
  | { kind: 'create-user'; phase: 'users'; ref: ObjectRef; user: UserInput; fingerprint: string }
  | {
      kind: 'update-user';
      phase: 'users' | 'memberships';
      ref: ObjectRef;
      /** Set when this run links an existing target object (adoption or relink). */
      adopt?: MatchedBy;
      diffs: AttributeDiff[];
      /** Managed attributes after the change, references as source ids. */
      user: UserInput;
      fingerprint: string;
    }
  | {
      kind: 'deactivate-user';
      phase: 'deactivations';
      ref: ObjectRef;
      reason: 'removed-from-source' | 'out-of-scope' | 'inactive-in-source';
      fingerprint?: string;
    }
  | { kind: 'delete-user'; phase: 'deactivations'; ref: ObjectRef; reason: 'removed-from-source' | 'out-of-scope' }
  | { kind: 'create-group'; phase: 'groups'; ref: ObjectRef; group: GroupInput; fingerprint: string }
  | {
      kind: 'update-group';
      phase: 'groups';
      ref: ObjectRef;
      adopt?: MatchedBy;
      diffs: AttributeDiff[];
      group: GroupInput;
      fingerprint: string;
    }
  | { kind: 'delete-group'; phase: 'group-deletes'; ref: ObjectRef; reason: 'removed-from-source' | 'out-of-scope' }
  | { kind: 'add-members'; phase: 'memberships'; group: ObjectRef; members: MemberChange[] }
  | { kind: 'remove-members'; phase: 'memberships'; group: ObjectRef; members: MemberChange[] };

export type ChangeKind = Change['kind'];

export type PlanWarning = ReadWarning;

export interface PlanSummary {
  create: number;
  update: number;
  /** deactivate-user + delete-user + delete-group changes that will run. */
  remove: number;
  /** Member additions and removals, counted per member. */
  memberships: number;
  /** Object removals held back by the safety rules (their membership removals wait with them). */
  heldBack: number;
}

export interface Plan {
  version: typeof PLAN_VERSION;
  job: string;
  source: string;
  target: string;
  /** State serial of the job when planned; `apply` refuses the plan if state moved on. */
  stateSerial: number;
  /** Ordered by phase; within a phase, order matters only where noted (parents before children). */
  changes: Change[];
  /** Deactivations/deletes held back by `deletes.maxCount` / `maxPercent` (or a failed/empty read). */
  heldBack: Change[];
  /** Why removals were held back, for humans. Empty when nothing was held back. */
  holdReason?: string;
  warnings: PlanWarning[];
  summary: PlanSummary;
  /**
   * Set when the engine did not read either side because their snapshot tokens, the config and
   * state equal those of a full comparison that found nothing to do: the ISO time of that
   * comparison. Such a plan has no changes and that comparison's warnings.
   */
  unchangedSince?: string;
  /**
   * Set by the engine when the source was read as a delta (only what changed since the last read,
   * merged into the snapshot kept in state). Deletions in the source are not seen until the next
   * full read, so a plan made this way says so.
   */
  deltaRead?: DeltaReadInfo;
}

export interface DeltaReadInfo {
  /** Objects the delta read listed. */
  users: number;
  groups: number;
  /** ISO time of the last full read; deletions made in the source after it are not seen yet. */
  lastFullRead: string;
  /** ISO time by which the next full read happens. */
  nextFullRead: string;
}

/** Everything the planner needs; it does no I/O and reads no clock. */
export interface PlanInput {
  job: string;
  source: string;
  target: string;
  stateSerial: number;
  /** Source objects after mapping and scoping, keyed by source id. */
  sourceUsers: ReadonlyMap<string, User>;
  sourceGroups: ReadonlyMap<string, Group>;
  /**
   * Source ids that exist in the source but fell outside the job's scope. Their linked target
   * objects are removed with reason `out-of-scope` rather than `removed-from-source`.
   */
  outOfScope: { users: ReadonlySet<string>; groups: ReadonlySet<string> };
  targetUsers: ReadonlyMap<string, User>;
  targetGroups: ReadonlyMap<string, Group>;
  links: Links;
  /** The user attributes the job manages (compared and written). */
  userAttributes: readonly UserAttribute[];
  policy: PlanPolicy;
  /** Warnings from reading, carried into the plan. */
  warnings: PlanWarning[];
}

export interface Link {
  sourceId: string;
  targetId: string;
  /** created: this job created it; adopted: matched an existing object and took it over. */
  origin: 'created' | 'adopted';
  fingerprint: string | null;
}

export interface Links {
  users: ReadonlyMap<string, Link>;
  groups: ReadonlyMap<string, Link>;
}

export interface PlanPolicy {
  /** Fallback matchers tried in order after the externalId anchor, to adopt target objects. */
  matchUsers: readonly ('userName' | 'emails.value')[];
  matchGroups: readonly 'displayName'[];
  deletes: {
    mode: 'deactivate' | 'delete' | 'never';
    maxCount: number;
    maxPercent: number;
    /** `--allow-deletes`: ignore the thresholds (never the failed/empty-read rule). */
    allow: boolean;
  };
  /**
   * True when the source read is trustworthy for removals. The engine sets false for an empty
   * source; a failed read never reaches the planner at all.
   */
  sourceComplete: boolean;
}

export type { User, Group };
