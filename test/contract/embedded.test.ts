import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedConnector } from '../../connectors/embedded/index.js';
import { DirectoryStore } from '../../connectors/embedded/store.js';
import type { Connector } from '../../src/core/connector.js';
import { silentLogger } from '../../src/core/logger.js';
import { describeReaderContract, describeWriterContract } from './contract.js';

function fresh(): { path: string; connector: Connector; cleanup(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'scim-sync-embedded-'));
  const path = join(dir, 'state.db');
  const connector = embeddedConnector.create({}, { name: 'dir', configDir: dir, statePath: path, logger: silentLogger, warn() {} });
  return { path, connector, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

describeReaderContract('embedded', async () => {
  const { path, connector, cleanup } = fresh();
  // Seed through the store directly: a fixture with nested groups, an inactive user and an empty group.
  const store = new DirectoryStore(path);
  const users = Array.from({ length: 30 }, (_, i) =>
    store.createUser({ userName: `user${i}@example.com`, active: i % 7 !== 0, externalId: `e${i}`, title: `T${i % 3}` }),
  );
  const groups = Array.from({ length: 5 }, (_, i) => store.createGroup({ displayName: `Group ${i}` }));
  groups.forEach((g, i) => store.addMembers(g, users.filter((_, u) => u % 5 === i).map((value) => ({ type: 'User' as const, value }))));
  store.addMembers(groups[0]!, [{ type: 'Group', value: groups[1]! }]);
  store.createGroup({ displayName: 'Empty' });
  store.close();
  return { connector, expected: { users: 30, groups: 6 }, cleanup };
});

describeWriterContract('embedded', async () => {
  const { connector, cleanup } = fresh();
  return { connector, cleanup };
});
