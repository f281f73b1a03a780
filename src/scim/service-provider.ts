/**
 * What a server says it supports, from `/ServiceProviderConfig` (RFC 7643 §5). Parsed leniently:
 * a missing or malformed entry means "not advertised", never an error, because the document is
 * advisory and many servers fill it in carelessly.
 */

export interface ServiceProviderConfig {
  patch: boolean;
  bulk: { supported: boolean; maxOperations?: number; maxPayloadSize?: number };
  filter: { supported: boolean; maxResults?: number };
  changePassword: boolean;
  sort: boolean;
  etag: boolean;
  /** `type` (or `name`) of each advertised authentication scheme, e.g. `oauthbearertoken`. */
  authenticationSchemes: string[];
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function supported(v: unknown): boolean {
  const s = obj(v).supported;
  return s === true || (typeof s === 'string' && s.toLowerCase() === 'true');
}

function positive(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

export function parseServiceProviderConfig(json: unknown): ServiceProviderConfig {
  const doc = obj(json);
  const bulk = obj(doc.bulk);
  const filter = obj(doc.filter);
  const schemes = Array.isArray(doc.authenticationSchemes) ? doc.authenticationSchemes : [];
  return {
    patch: supported(doc.patch),
    bulk: { supported: supported(bulk), maxOperations: positive(bulk.maxOperations), maxPayloadSize: positive(bulk.maxPayloadSize) },
    filter: { supported: supported(filter), maxResults: positive(filter.maxResults) },
    changePassword: supported(doc.changePassword),
    sort: supported(doc.sort),
    etag: supported(doc.etag),
    authenticationSchemes: schemes
      .map((s) => obj(s).type ?? obj(s).name)
      .filter((s): s is string => typeof s === 'string' && s !== ''),
  };
}

/** One line per capability, for `validate` / `check()`. */
export function describeServiceProviderConfig(c: ServiceProviderConfig): string[] {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  return [
    `PATCH: ${yes(c.patch)}`,
    `bulk: ${c.bulk.supported ? `yes${c.bulk.maxOperations ? ` (max ${c.bulk.maxOperations} operations)` : ''}` : 'no'}`,
    `filter: ${c.filter.supported ? `yes${c.filter.maxResults ? ` (max ${c.filter.maxResults} results)` : ''}` : 'no'}`,
    `sort: ${yes(c.sort)}, ETag: ${yes(c.etag)}, changePassword: ${yes(c.changePassword)}`,
    `authentication: ${c.authenticationSchemes.length ? c.authenticationSchemes.join(', ') : 'not advertised'}`,
  ];
}
