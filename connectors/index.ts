import type { AnyConnectorDefinition } from '../src/core/connector.js';
import { csvConnector } from './csv/index.js';
import { embeddedConnector } from './embedded/index.js';
import { ldapConnector } from './ldap/index.js';
import { scimConnector } from './scim/index.js';

/** The static registry: every connector type the CLI knows, by `type`. */
export const connectorRegistry: ReadonlyMap<string, AnyConnectorDefinition> = new Map(
  [csvConnector, embeddedConnector, ldapConnector, scimConnector].map((d) => [d.type, d]),
);
