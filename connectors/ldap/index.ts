import { defineConnector } from '../../src/core/connector.js';
import type { CheckResult, Connector, ConnectorContext } from '../../src/core/connector.js';
import { errorMessage } from '../../src/core/errors.js';
import { registerSecret } from '../../src/core/secrets.js';
import { LdapConnection, describeLdapError } from './client.js';
import { LDAP_SECRET_KEYS, ldapConfigSchema } from './config.js';
import type { LdapConfig } from './config.js';
import { createDeltaReader } from './delta.js';
import { attrsOf, strings } from './mapping.js';
import { createReader } from './reader.js';
import type { ReaderState } from './reader.js';
import { resolveSettings } from './settings.js';
import { createWriter } from './writer.js';

export { ldapConfigSchema, type LdapConfig, type LdapConfigInput } from './config.js';

/** Writes in flight by default: a directory server serialises writes to one entry anyway. */
const DEFAULT_CONCURRENCY = 4;
const PAGED_RESULTS_OID = '1.2.840.113556.1.4.319';

export function createLdapConnector(config: LdapConfig, ctx: ConnectorContext): Connector {
  // The loader registers resolved secrets; a password written inline in YAML is one too.
  registerSecret(config.bindPassword);
  const settings = resolveSettings(config);
  const conn = new LdapConnection(config, { connectorName: ctx.name, configDir: ctx.configDir, logger: ctx.logger });
  const state: ReaderState = {};
  return {
    reader: createReader(conn, settings, config, ctx, state),
    delta: createDeltaReader(conn, settings, config, ctx),
    writer: createWriter(conn, settings, config),
    async check(): Promise<CheckResult> {
      const details = [`LDAP ${conn.url} (${settings.flavor}${config.startTLS ? ', StartTLS' : ''}) as ${config.bindDN}`];
      let ok = true;
      try {
        const dse = await conn.rootDSE(['namingContexts', 'supportedControl', 'vendorName', 'vendorVersion', 'dnsHostName', 'highestCommittedUSN']);
        const attrs = attrsOf(dse ?? { dn: '' });
        const vendor = [...strings(attrs, 'vendorName'), ...strings(attrs, 'vendorVersion')].join(' ');
        if (vendor) details.push(`  server: ${vendor}`);
        details.push(`  naming contexts: ${strings(attrs, 'namingContexts').join('; ') || '(none listed)'}`);
        if (!strings(attrs, 'supportedControl').includes(PAGED_RESULTS_OID)) {
          ok = false;
          details.push('  the server does not announce paged results (RFC 2696): listings cannot be read completely');
        }
      } catch (err) {
        return { ok: false, details: [...details, `  ${errorMessage(err)}`] };
      }
      for (const [what, bases] of [['users', settings.users.baseDNs], ['groups', settings.groups.baseDNs]] as const) {
        for (const base of bases) {
          try {
            await conn.search(base, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
            details.push(`  ${what} base ${base}: readable`);
          } catch (err) {
            ok = false;
            details.push(`  ${what} base ${base}: ${describeLdapError(err)}`);
          }
        }
      }
      return { ok, details };
    },
    close: () => conn.close(),
  };
}

export const ldapConnector = defineConnector<LdapConfig>({
  type: 'ldap',
  description: 'LDAP directory (OpenLDAP) or Active Directory: source and target',
  capabilities: { read: true, write: true, nestedGroups: true, deactivate: true, delete: true, delta: true },
  defaultConcurrency: DEFAULT_CONCURRENCY,
  configSchema: ldapConfigSchema,
  secretKeys: LDAP_SECRET_KEYS,
  create: (config: LdapConfig, ctx: ConnectorContext) => createLdapConnector(config, ctx),
});
