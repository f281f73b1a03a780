import { connectorRegistry } from '../../connectors/index.js';
import type { AnyConnectorDefinition, Connector, ReadWarning } from '../core/connector.js';
import { UsageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { LoadedConfig } from '../config/types.js';

export interface OpenedConnector {
  name: string;
  definition: AnyConnectorDefinition;
  connector: Connector;
}

/** Instantiate a configured connector by name; warnings it reports go to `warn`. */
export function openConnector(
  config: LoadedConfig,
  name: string,
  logger: Logger,
  warn: (w: ReadWarning) => void,
): OpenedConnector {
  const entry = config.connectors[name];
  if (!entry) throw new UsageError(`no connector named "${name}" in the configuration`);
  const definition = connectorRegistry.get(entry.type);
  if (!definition) throw new UsageError(`connector ${name}: unknown type "${entry.type}"`);
  const connector = definition.create(entry.config, {
    name,
    configDir: config.configDir,
    statePath: config.statePath,
    logger,
    warn,
  });
  return { name, definition, connector };
}
