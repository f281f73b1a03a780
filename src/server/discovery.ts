import { LIST_RESPONSE_URN, SERVICE_PROVIDER_CONFIG_URN } from '../scim/schemas.js';
import { notFound } from './errors.js';
import { coreSchemaOf, ENTERPRISE_SCHEMA, extensionsOf, GROUP_SCHEMA, USER_SCHEMA, type ResourceName, type SchemaDef } from './schema-defs.js';

/** `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7644 §4), built from what the server does. */

export const RESOURCE_TYPE_URN = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SCHEMA_URN = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export interface Capabilities {
  writable: boolean;
  maxResults: number;
  bulk: { maxOperations: number; maxPayloadSize: number };
}

export function serviceProviderConfig(base: string, caps: Capabilities): Record<string, unknown> {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_URN],
    documentationUri: 'https://github.com/scim-sync/scim-sync#serve',
    patch: { supported: caps.writable },
    bulk: caps.writable ? { supported: true, ...caps.bulk } : { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: caps.maxResults },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'A static bearer token from the server configuration (RFC 6750 header).',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

const ENDPOINTS: Record<ResourceName, string> = { User: '/Users', Group: '/Groups' };

function resourceType(base: string, name: ResourceName): Record<string, unknown> {
  return {
    schemas: [RESOURCE_TYPE_URN],
    id: name,
    name,
    endpoint: ENDPOINTS[name],
    description: name === 'User' ? 'User Account' : 'Group',
    schema: coreSchemaOf(name).id,
    schemaExtensions: extensionsOf(name).map((s) => ({ schema: s.id, required: false })),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${name}` },
  };
}

function schema(base: string, s: SchemaDef): Record<string, unknown> {
  return { schemas: [SCHEMA_URN], ...s, meta: { resourceType: 'Schema', location: `${base}/Schemas/${s.id}` } };
}

function list(resources: unknown[]): Record<string, unknown> {
  return { schemas: [LIST_RESPONSE_URN], totalResults: resources.length, itemsPerPage: resources.length, startIndex: 1, Resources: resources };
}

export function resourceTypes(base: string, name?: string): Record<string, unknown> {
  const all = (['User', 'Group'] as const).map((n) => resourceType(base, n));
  if (name === undefined) return list(all);
  const found = all.find((r) => String(r.id).toLowerCase() === name.toLowerCase());
  if (!found) throw notFound(`no resource type ${name}`);
  return found;
}

export function schemas(base: string, id?: string): Record<string, unknown> {
  const all = [USER_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA].map((s) => schema(base, s));
  if (id === undefined) return list(all);
  const found = all.find((s) => String(s.id).toLowerCase() === id.toLowerCase());
  if (!found) throw notFound(`no schema ${id}`);
  return found;
}
