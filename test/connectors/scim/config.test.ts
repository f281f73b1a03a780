import { describe, expect, it } from 'vitest';
import { scimConfigSchema } from '../../../connectors/scim/config.js';

describe('scim config', () => {
  it('applies defaults and trims the base URL', () => {
    expect(scimConfigSchema.parse({ baseUrl: 'https://app.example.com/scim/v2/', auth: { bearer: 't' } })).toEqual({
      baseUrl: 'https://app.example.com/scim/v2',
      auth: { bearer: 't' },
      timeouts: { connect: 10_000, headers: 30_000, body: 60_000 },
      retry: { attempts: 5, baseDelay: 500, maxDelay: 30_000 },
      pageSize: 100,
      memberBatchSize: 100,
      memberRemoveStyle: 'filter',
      updateMethod: 'auto',
    });
  });

  it('accepts each auth form and partial timeouts', () => {
    const base = { baseUrl: 'http://127.0.0.1:8080/scim' };
    for (const auth of [
      { bearer: 'x' },
      { basic: { username: 'u', password: 'p' } },
      { header: { name: 'X-Api-Key', value: 'k' } },
      { oauth2: { tokenUrl: 'https://idp.example.com/token', clientId: 'c', clientSecret: 's', scope: 'scim' } },
    ]) {
      expect(scimConfigSchema.safeParse({ ...base, auth }).success, JSON.stringify(auth)).toBe(true);
    }
    expect(scimConfigSchema.parse({ ...base, auth: { bearer: 'x' }, timeouts: { headers: 5 } }).timeouts).toEqual({ connect: 10_000, headers: 5, body: 60_000 });
  });

  it('rejects unknown keys, two auth forms, bad URLs and half a client certificate', () => {
    const bad = [
      { baseUrl: 'https://x', auth: { bearer: 'x' }, extra: 1 },
      { baseUrl: 'https://x', auth: { bearer: 'x', basic: { username: 'u', password: 'p' } } },
      { baseUrl: 'ftp://x', auth: { bearer: 'x' } },
      { baseUrl: 'https://x', auth: { header: { name: 'bad header', value: 'v' } } },
      { baseUrl: 'https://x', auth: { bearer: 'x' }, tls: { certFile: 'c.pem' } },
      { baseUrl: 'https://x', auth: { bearer: 'x' }, pageSize: 0 },
      { baseUrl: 'https://x', auth: { bearer: '' } },
    ];
    for (const c of bad) expect(scimConfigSchema.safeParse(c).success, JSON.stringify(c)).toBe(false);
  });
});
