import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadWarning, SourceGroup, SourceUser } from '../../../src/core/connector.js';
import { silentLogger } from '../../../src/core/logger.js';
import { csvConnector } from '../../../connectors/csv/index.js';

export interface Harness {
  dir: string;
  write(name: string, content: string | Buffer): Promise<void>;
  cleanup(): Promise<void>;
}

export async function harness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'scim-sync-csv-'));
  return {
    dir,
    write: (name, content) => writeFile(join(dir, name), content),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export function connect(dir: string, rawConfig: unknown) {
  const config = csvConnector.configSchema.parse(rawConfig);
  const warnings: ReadWarning[] = [];
  const connector = csvConnector.create(config, {
    name: 'hr',
    configDir: dir,
    statePath: join(dir, 'state.db'),
    logger: silentLogger,
    warn: (w) => warnings.push(w),
  });
  return { connector, warnings, reader: connector.reader! };
}

export async function readAll(dir: string, rawConfig: unknown) {
  const { reader, warnings, connector } = connect(dir, rawConfig);
  const users: SourceUser[] = [];
  const groups: SourceGroup[] = [];
  for await (const u of reader.listUsers()) users.push(u);
  for await (const g of reader.listGroups()) groups.push(g);
  return { users, groups, warnings, attributes: reader.userAttributes(), connector };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}
