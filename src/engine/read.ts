import type { DirectoryReader, SourceGroup, SourceUser } from '../core/connector.js';
import { ConnectorError, errorMessage, ScimSyncError } from '../core/errors.js';

export interface Snapshot {
  users: Map<string, SourceUser>;
  groups: Map<string, SourceGroup>;
}

/**
 * Read a complete listing. Any failure — a thrown error half-way through an iterator included —
 * fails the whole read, so a partial snapshot can never reach the planner and become deletes.
 */
export async function readSnapshot(connectorName: string, reader: DirectoryReader): Promise<Snapshot> {
  const users = new Map<string, SourceUser>();
  const groups = new Map<string, SourceGroup>();
  try {
    for await (const u of reader.listUsers()) users.set(u.id, u);
    for await (const g of reader.listGroups()) groups.set(g.id, g);
  } catch (err) {
    if (err instanceof ScimSyncError) throw err;
    throw new ConnectorError(connectorName, `read failed: ${errorMessage(err)}`);
  }
  return { users, groups };
}
