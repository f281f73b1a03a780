import { defineConnector } from '../../src/core/connector.js';
import type { CheckResult, Connector, ConnectorContext } from '../../src/core/connector.js';
import { errorMessage } from '../../src/core/errors.js';
import { describeServiceProviderConfig, parseServiceProviderConfig } from '../../src/scim/service-provider.js';
import type { ServiceProviderConfig } from '../../src/scim/service-provider.js';
import { parseListResponse } from '../../src/scim/schemas.js';
import { ScimClient } from './client.js';
import type { ClientOptions } from './client.js';
import { SCIM_SECRET_KEYS, scimConfigSchema } from './config.js';
import type { ScimConfig } from './config.js';
import { describeResourceTypes, describeSchemas, parseResourceTypes, parseSchemas } from '../../src/scim/discovery.js';
import { resolveProfile } from './profiles.js';
import { createDelta } from './delta.js';
import { createListing, createReader } from './reader.js';
import { createWriter } from './writer.js';

export { scimConfigSchema, type ScimConfig } from './config.js';

/** Connections when neither the connector nor the job says: also the definition's default concurrency. */
const DEFAULT_CONCURRENCY = 8;

/** Test seams: fake clocks and sleeps. Not part of the YAML config. */
export type ScimTestHooks = Pick<ClientOptions, 'sleep' | 'random' | 'now'>;

export function createScimConnector(config: ScimConfig, ctx: ConnectorContext, hooks: ScimTestHooks = {}): Connector {
  const settings = resolveProfile(config, (m) => ctx.logger.warn(`SCIM ${config.baseUrl}: ${m}`));
  const client = new ScimClient(config, {
    logger: ctx.logger,
    configDir: ctx.configDir,
    connections: config.concurrency ?? DEFAULT_CONCURRENCY,
    ...hooks,
  });

  // Read once per connector instance (one run): the answer does not change within a run.
  let discovering: Promise<ServiceProviderConfig | undefined> | undefined;
  const discover = () =>
    (discovering ??= client
      .request('GET', '/ServiceProviderConfig', { object: 'read /ServiceProviderConfig' })
      .then((res) => parseServiceProviderConfig(res.body))
      .catch((err: unknown) => {
        ctx.logger.warn(`SCIM ${config.baseUrl}: cannot read /ServiceProviderConfig (${errorMessage(err)}); assuming PATCH support`);
        return undefined;
      }));

  const updateMethod = async (): Promise<'patch' | 'put'> => {
    if (settings.updateMethod !== 'auto') return settings.updateMethod;
    // Without a readable document, PATCH: nearly every server supports it, and one that does not
    // answers with a clear error rather than a wrong write.
    const spc = await discover();
    return spc === undefined || spc.patch ? 'patch' : 'put';
  };

  const etags = async (): Promise<boolean> => (await discover())?.etag ?? false;

  const readerOptions = {
    pageSize: config.pageSize,
    enterpriseKey: settings.enterpriseKey,
    largeGroups: config.largeGroups,
    memberFetchConcurrency: config.concurrency ?? DEFAULT_CONCURRENCY,
  };
  const listing = createListing(client, ctx, readerOptions);
  const delta = createDelta(client, ctx, listing, discover, { skewMs: config.deltaSkew, ...(hooks.now ? { now: hooks.now } : {}) });

  return {
    reader: createReader(client, ctx, readerOptions),
    // Offered until the server is known not to filter on meta.lastModified (see delta.ts).
    get delta() {
      return delta.known()?.ok === false ? undefined : delta.reader;
    },
    writer: createWriter(client, {
      memberBatchSize: settings.memberBatchSize,
      memberRemoveStyle: settings.memberRemoveStyle,
      updateMethod,
      etags,
      lookupBeforeCreate: config.lookupBeforeCreate,
      ...(settings.enterpriseKey !== undefined ? { enterpriseKey: settings.enterpriseKey } : {}),
    }),
    async check(): Promise<CheckResult> {
      const details = [`SCIM server ${config.baseUrl} (profile ${settings.profile})`];
      const proxy = client.proxy;
      details.push(`  connections: ${proxy === undefined ? 'direct' : `through proxy ${proxy}`}`);
      let ok = true;
      try {
        const res = await client.request('GET', '/ServiceProviderConfig', { object: 'read /ServiceProviderConfig' });
        details.push(...describeServiceProviderConfig(parseServiceProviderConfig(res.body)).map((d) => `  ${d}`));
      } catch (err) {
        // The capabilities decide PATCH vs PUT; a server that cannot say is not validated.
        ok = false;
        details.push(`  /ServiceProviderConfig unreadable: ${errorMessage(err)}`);
      }
      // Optional documents (RFC 7644 §4): a 404 means the server does not publish them.
      const optional = [
        { path: '/ResourceTypes', describe: (b: unknown) => describeResourceTypes(parseResourceTypes(b)) },
        { path: '/Schemas', describe: (b: unknown) => describeSchemas(parseSchemas(b)) },
      ] as const;
      for (const doc of optional) {
        try {
          const res = await client.request('GET', doc.path, { object: `read ${doc.path}`, accept: [404] });
          details.push(`  ${doc.path}: ${res.status === 404 ? 'not provided (404)' : doc.describe(res.body)}`);
        } catch (err) {
          ok = false;
          details.push(`  ${doc.path} unreadable: ${errorMessage(err)}`);
        }
      }
      const method = await updateMethod();
      details.push(`  updates sent as ${method.toUpperCase()}${method === 'put' && (await etags()) ? ' with If-Match (ETags)' : ''}`);
      if (config.lookupBeforeCreate) details.push('  creates look up an existing object first (lookupBeforeCreate)');
      try {
        const support = await delta.probe();
        details.push(`  delta reads (as a source): ${support.ok ? 'yes, by meta.lastModified gt' : `no — ${support.reason}; every read is a full read`}`);
      } catch (err) {
        ok = false;
        details.push(`  delta reads: probe failed: ${errorMessage(err)}`);
      }
      // Counting proves the credentials can read, which the (often public) config document does not.
      for (const endpoint of ['/Users', '/Groups'] as const) {
        try {
          const res = await client.request('GET', endpoint, { object: `count ${endpoint}`, query: { startIndex: 1, count: 1 } });
          const total = parseListResponse(res.body).totalResults;
          details.push(`  ${endpoint}: ${total !== undefined ? `${total} resources` : 'readable (no totalResults given)'}`);
        } catch (err) {
          ok = false;
          details.push(`  ${endpoint}: ${errorMessage(err)}`);
        }
      }
      return { ok, details };
    },
    close: () => client.close(),
  };
}

export const scimConnector = defineConnector<ScimConfig>({
  type: 'scim',
  description: 'SCIM 2.0 server (RFC 7643/7644): source and target',
  capabilities: { read: true, write: true, nestedGroups: true, deactivate: true, delete: true, delta: true },
  // Remote targets rate-limit; 8 keeps a typical SaaS endpoint below its limits while hiding latency.
  defaultConcurrency: DEFAULT_CONCURRENCY,
  configSchema: scimConfigSchema,
  secretKeys: SCIM_SECRET_KEYS,
  create: (config: ScimConfig, ctx: ConnectorContext) => createScimConnector(config, ctx),
});
