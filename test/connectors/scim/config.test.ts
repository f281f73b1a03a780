import { describe, expect, it } from 'vitest';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import { redact } from '../../../src/core/secrets.js';
import { PROFILES, PROFILE_NAMES, normalizeResource, resolveProfile } from '../../../connectors/scim/profiles.js';

describe('scim config', () => {
  it('applies defaults and trims the base URL', () => {
    expect(scimConfigSchema.parse({ baseUrl: 'https://app.example.com/scim/v2/', auth: { bearer: 't' } })).toEqual({
      baseUrl: 'https://app.example.com/scim/v2',
      auth: { bearer: 't' },
      timeouts: { connect: 10_000, headers: 30_000, body: 60_000 },
      retry: { attempts: 5, baseDelay: 500, maxDelay: 30_000 },
      pageSize: 100,
      profile: 'generic',
      largeGroups: false,
      lookupBeforeCreate: false,
      deltaSkew: 60_000,
    });
  });

  it('takes a proxy URL (its credentials become secrets) or false, and nothing else', () => {
    const base = { baseUrl: 'https://app.example.com/scim/v2', auth: { bearer: 'tok-123' } };
    expect(scimConfigSchema.parse({ ...base, proxy: 'http://svc:pr0xy-Secret@proxy.corp:3128' }).proxy).toBe('http://svc:pr0xy-Secret@proxy.corp:3128');
    expect(redact('proxy said pr0xy-Secret')).toBe('proxy said [REDACTED]');
    expect(scimConfigSchema.parse({ ...base, proxy: false }).proxy).toBe(false);
    expect(scimConfigSchema.safeParse({ ...base, proxy: 'socks5://proxy:1080' }).success).toBe(false);
    expect(scimConfigSchema.safeParse({ ...base, proxy: true }).success).toBe(false);
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
      { baseUrl: 'https://x', auth: { bearer: 'x' }, profile: 'azure' },
    ];
    for (const c of bad) expect(scimConfigSchema.safeParse(c).success, JSON.stringify(c)).toBe(false);
  });
});

describe('scim profiles', () => {
  const parse = (extra: Record<string, unknown>) => scimConfigSchema.parse({ baseUrl: 'https://x', auth: { bearer: 'x' }, ...extra });

  it('generic is the default and keeps the RFC behaviour', () => {
    expect(resolveProfile(parse({}))).toMatchObject({ profile: 'generic', memberBatchSize: 100, updateMethod: 'auto', memberRemoveStyle: 'filter', authScheme: 'Bearer' });
  });

  it('each profile supplies its data', () => {
    expect(resolveProfile(parse({ profile: 'aws-identity-center' }))).toMatchObject({ memberBatchSize: 100, memberBatchSizeLimit: 100, updateMethod: 'patch', memberRemoveStyle: 'value' });
    expect(resolveProfile(parse({ profile: 'entra-compatible' }))).toMatchObject({ updateMethod: 'patch', memberRemoveStyle: 'value' });
    expect(resolveProfile(parse({ profile: 'arkid' }))).toMatchObject({ authScheme: 'jwt', enterpriseKey: 'enterprise_extension', refKey: 'ref', nullsForUnset: true, childGroupMembers: true });
    expect(Object.keys(PROFILES).sort()).toEqual([...PROFILE_NAMES].sort());
  });

  it('explicit keys override the profile, with a warning past a documented limit', () => {
    const warnings: string[] = [];
    const s = resolveProfile(parse({ profile: 'aws-identity-center', memberBatchSize: 500, memberRemoveStyle: 'filter', updateMethod: 'put' }), (m) => warnings.push(m));
    expect(s).toMatchObject({ memberBatchSize: 500, memberRemoveStyle: 'filter', updateMethod: 'put' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('above the 100');
    expect(resolveProfile(parse({ profile: 'aws-identity-center', memberBatchSize: 50 }), (m) => warnings.push(m)).memberBatchSize).toBe(50);
    expect(warnings).toHaveLength(1);
  });

  it('renames the enterprise extension alias to its URN, and leaves others alone', () => {
    const urn = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    expect(normalizeResource({ id: '1', enterprise_extension: { department: 'R&D' } }, { enterpriseKey: 'enterprise_extension' })).toEqual({ id: '1', [urn]: { department: 'R&D' } });
    expect(normalizeResource({ id: '1', enterprise_extension: { department: 'R&D' } }, {})).toEqual({ id: '1', enterprise_extension: { department: 'R&D' } });
  });
});
