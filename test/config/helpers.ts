import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { defineConnector, type AnyConnectorDefinition, type Capabilities } from '../../src/core/connector.js';
import { ConfigError } from '../../src/core/errors.js';

const caps = (over: Partial<Capabilities>): Capabilities => ({
  read: true,
  write: true,
  nestedGroups: false,
  deactivate: true,
  delete: true,
  delta: false,
  ...over,
});

const notUsed = () => {
  throw new Error('not used in config tests');
};

/** Connector types shaped like the real ones, so config tests do not depend on their progress. */
export const fakeRegistry: ReadonlyMap<string, AnyConnectorDefinition> = new Map(
  [
    defineConnector({
      type: 'csv',
      description: 'fake csv',
      capabilities: caps({ write: false, deactivate: false, delete: false }),
      configSchema: z.strictObject({
        users: z.strictObject({ path: z.string().min(1), id: z.string().min(1), delimiter: z.string().default(',') }),
      }),
      create: notUsed,
    }),
    defineConnector({
      type: 'scim',
      description: 'fake scim',
      capabilities: caps({}),
      configSchema: z.strictObject({
        baseUrl: z.string().min(1),
        auth: z.strictObject({ bearer: z.string().min(1) }).optional(),
        timeoutMs: z.int().positive().default(30000),
      }),
      secretKeys: ['bearer'],
      create: notUsed,
    }),
    defineConnector({
      type: 'ldap',
      description: 'fake ldap',
      capabilities: caps({}),
      configSchema: z.strictObject({ url: z.string(), bindDN: z.string(), credential: z.string() }),
      secretKeys: ['credential'],
      create: notUsed,
    }),
    defineConnector({
      type: 'sink',
      description: 'write-only, no deactivate',
      capabilities: caps({ read: false, deactivate: false }),
      configSchema: z.strictObject({}),
      create: notUsed,
    }),
    defineConnector({
      type: 'embedded',
      description: 'fake embedded',
      capabilities: caps({}),
      configSchema: z.strictObject({ pageSize: z.int().default(100) }),
      create: notUsed,
    }),
  ].map((d) => [d.type, d]),
);

export async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'scim-sync-config-'));
}

/** Writes files (relative path → content) under dir, creating folders. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, content);
  }
}

/** Runs fn and returns the ConfigError it throws (fails the test otherwise). */
export async function configError(fn: () => Promise<unknown>): Promise<ConfigError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** Issues as "path: message" lines, the way users see them. */
export function lines(err: ConfigError): string[] {
  return err.issues.map((i) => `${i.path}: ${i.message}`);
}
