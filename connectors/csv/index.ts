import {
  defineConnector,
  type CheckResult,
  type Connector,
  type ConnectorContext,
  type DirectoryReader,
  type ReadWarning,
} from '../../src/core/connector.js';
import { errorMessage } from '../../src/core/errors.js';
import { arrayListing } from '../../src/core/listing.js';
import { csvConfigSchema, type CsvConfig } from './config.js';
import { loadDirectory, type CsvDirectory } from './load.js';
import { compileUserMapping } from './mapping.js';
import { csvSnapshotToken } from './token.js';

export { csvConfigSchema, type CsvConfig } from './config.js';

const MAX_CHECK_WARNINGS = 10;

function createCsvConnector(config: CsvConfig, ctx: ConnectorContext): Connector {
  const attributes = compileUserMapping(config.mapping).attributes;
  // Users and groups come from the same files; read them once per connector instance (one run).
  let loading: Promise<CsvDirectory> | undefined;
  const load = () => (loading ??= loadDirectory(config, ctx.configDir, (w) => ctx.warn(w)));

  const reader: DirectoryReader = {
    listUsers: () => arrayListing(async () => (await load()).users),
    listGroups: () => arrayListing(async () => (await load()).groups),
    userAttributes: () => attributes,
    snapshotToken: () => csvSnapshotToken(config, ctx.configDir),
  };

  return {
    reader,
    async check(): Promise<CheckResult> {
      const warnings: ReadWarning[] = [];
      let dir: CsvDirectory;
      try {
        dir = await loadDirectory(config, ctx.configDir, (w) => warnings.push(w));
      } catch (err) {
        return { ok: false, details: [errorMessage(err)] };
      }
      const details = dir.files.map((f) => `${f.file}: ${f.rows} rows, columns: ${f.columns.join(', ')}`);
      const inactive = dir.users.filter((u) => !u.active).length;
      details.push(`${dir.users.length} users (${inactive} inactive), ${dir.groups.length} groups`);
      if (warnings.length > 0) details.push(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}:`);
      for (const w of warnings.slice(0, MAX_CHECK_WARNINGS)) details.push(`  ${w.where ? `${w.where}: ` : ''}${w.message} [${w.code}]`);
      if (warnings.length > MAX_CHECK_WARNINGS) details.push(`  … and ${warnings.length - MAX_CHECK_WARNINGS} more`);
      return { ok: true, details };
    },
    async close() {
      loading = undefined;
    },
  };
}

export const csvConnector = defineConnector<CsvConfig>({
  type: 'csv',
  description: 'CSV exports from HR systems: users, optional groups and memberships files (read only)',
  capabilities: { read: true, write: false, nestedGroups: true, deactivate: false, delete: false, delta: false },
  configSchema: csvConfigSchema,
  create: createCsvConnector,
});
