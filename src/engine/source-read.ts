import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/attributes.js';
import type { DeltaReader, DirectoryReader, SourceGroup, SourceUser } from '../core/connector.js';
import { ConnectorError, errorMessage, ScimSyncError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { JobConfig } from '../config/types.js';
import type { SourceSnapshotMeta, StateStore } from '../state/types.js';
import { TOOL_VERSION } from './tool-version.js';
import { readSnapshot, type Snapshot } from './read.js';

export interface SourceRead {
  snapshot: Snapshot;
  /** How the snapshot was obtained, for logs and the run record. */
  mode: 'full' | 'delta' | 'full-no-delta';
  /** Objects listed by a delta read (0 for full reads). */
  changed: { users: number; groups: number };
  /**
   * Keep what was read for the next delta read. Called by the engine once the plan is made, so a
   * read that fails half-way, or a plan that throws, leaves the stored snapshot as it was.
   */
  commit(): void;
}

export interface SourceReadInput {
  state: StateStore;
  logger: Logger;
  job: JobConfig;
  sourceName: string;
  /** The source connector's config block, as loaded: a different one invalidates the snapshot. */
  sourceConfig: unknown;
  reader: DirectoryReader;
  /**
   * The source's delta reader, asked again after taking the watermark: a connector may only learn
   * then that its server cannot filter by modification time (SCIM probes with that request).
   */
  delta: () => DeltaReader | undefined;
  /** `--full`: never a delta read. */
  full: boolean;
  now: Date;
}

/**
 * Read the job's source: in full, or — when the source supports delta reads, a snapshot from an
 * earlier read is kept in state for the same source config, and the last full read is recent
 * enough — only what changed since that snapshot's watermark, merged into it.
 *
 * Either way the planner gets a complete snapshot. A delta read cannot see deletions, so objects
 * deleted in the source stay in the merged snapshot until the next full read: a delta run never
 * removes anything it would not also remove after a full read, and may only remove later.
 */
export async function readSource(input: SourceReadInput): Promise<SourceRead> {
  const { state, logger, job, sourceName, reader, now } = input;
  const delta = input.delta();
  // Without a known tool version an upgrade could not invalidate the snapshot: read in full.
  if (!delta || !job.delta.enabled || TOOL_VERSION === undefined) {
    // A snapshot kept from when delta was on would go stale unseen; drop it so turning delta
    // back on starts with a full read.
    if (state.sourceSnapshotMeta(job.name)) state.clearSourceSnapshot(job.name);
    return { snapshot: await readSnapshot(sourceName, reader), mode: 'full-no-delta', changed: { users: 0, groups: 0 }, commit() {} };
  }

  const configKey = snapshotConfigKey(input.sourceConfig, job);
  const meta = state.sourceSnapshotMeta(job.name);
  const fullDue = meta === undefined || meta.configKey !== configKey || input.full || now.getTime() - Date.parse(meta.fullReadAt) >= job.delta.fullReadEvery;
  // Taken before listing: whatever changes while the listing runs is listed again next time.
  const watermark = await guard(sourceName, () => delta.watermark());
  if (input.delta() === undefined) {
    // The source found out it cannot do delta reads after all: read in full, keep no snapshot.
    logger.debug(`job ${job.name}: ${sourceName} cannot do delta reads; reading in full`);
    return readSource({ ...input, delta: () => undefined });
  }

  if (fullDue || meta === undefined) {
    const snapshot = await readSnapshot(sourceName, reader);
    const next: SourceSnapshotMeta = { configKey, watermark, fullReadAt: now.toISOString(), readAt: now.toISOString() };
    logger.debug(`job ${job.name}: full read of ${sourceName}${meta === undefined ? '' : reasonForFull(meta, configKey, input.full)}`);
    return {
      snapshot,
      mode: 'full',
      changed: { users: 0, groups: 0 },
      commit: () => state.replaceSourceSnapshot(job.name, next, snapshot.users.values(), snapshot.groups.values()),
    };
  }

  const stored = state.loadSourceSnapshot(job.name);
  if (!stored) {
    // Damaged rows: read in full rather than fail.
    state.clearSourceSnapshot(job.name);
    return readSource(input);
  }
  const changedUsers: SourceUser[] = [];
  const changedGroups: SourceGroup[] = [];
  await guard(sourceName, async () => {
    for await (const u of delta.changedUsers(meta.watermark)) changedUsers.push(u);
    for await (const g of delta.changedGroups(meta.watermark)) changedGroups.push(g);
  });
  const users = new Map(stored.users.map((u) => [u.id, u]));
  const groups = new Map(stored.groups.map((g) => [g.id, g]));
  for (const u of changedUsers) users.set(u.id, u);
  for (const g of changedGroups) groups.set(g.id, g);
  logger.debug(`job ${job.name}: delta read of ${sourceName} since ${meta.watermark}`, {
    users: changedUsers.length,
    groups: changedGroups.length,
    lastFullRead: meta.fullReadAt,
  });
  const next: SourceSnapshotMeta = { configKey, watermark, fullReadAt: meta.fullReadAt, readAt: now.toISOString() };
  return {
    snapshot: { users, groups },
    mode: 'delta',
    changed: { users: changedUsers.length, groups: changedGroups.length },
    commit: () => state.mergeSourceSnapshot(job.name, next, changedUsers, changedGroups),
  };
}

/**
 * What the stored snapshot depends on besides the source's content: its connector config (base
 * DNs, filters, attribute maps) and the tool version (a reader may map attributes differently).
 * Job mapping and scope are applied after the snapshot, so they are not part of it.
 */
function snapshotConfigKey(sourceConfig: unknown, job: JobConfig): string {
  return createHash('sha256')
    .update(canonicalJson({ tool: TOOL_VERSION, source: job.source, config: sourceConfig ?? null }))
    .digest('hex');
}

function reasonForFull(meta: SourceSnapshotMeta, configKey: string, full: boolean): string {
  if (full) return ' (--full)';
  if (meta.configKey !== configKey) return ' (source config or tool version changed since the last read)';
  return ` (last full read ${meta.fullReadAt})`;
}

async function guard<T>(connectorName: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScimSyncError) throw err;
    throw new ConnectorError(connectorName, `read failed: ${errorMessage(err)}`);
  }
}
