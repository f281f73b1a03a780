import { embeddedConnector } from '../../connectors/embedded/index.js';
import type { Group, User } from '../../src/core/model.js';
import { silentLogger } from '../../src/core/logger.js';

/** Read the embedded directory in a state file through the connector itself, as `serve` will. */
export async function readDirectory(statePath: string): Promise<{ users: User[]; groups: Group[] }> {
  const connector = embeddedConnector.create({}, { name: 'embedded', configDir: '.', statePath, logger: silentLogger, warn: () => {} });
  try {
    const users: User[] = [];
    const groups: Group[] = [];
    for await (const u of connector.reader!.listUsers()) users.push(u);
    for await (const g of connector.reader!.listGroups()) groups.push(g);
    return { users, groups };
  } finally {
    await connector.close();
  }
}
