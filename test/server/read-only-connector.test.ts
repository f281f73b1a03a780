/** Serving a connector other than the embedded directory: a CSV export, read-only, over real HTTP. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { openServedDirectory } from '../../src/cli/commands/serve.js';
import { startScimServer, type RunningServer } from '../../src/server/http.js';
import { csvOf, HR_CONNECTOR_YAML, person, workspace } from '../e2e/helpers.js';
import { ADMIN, call, patch, q, resources, user } from './helpers.js';

let server: RunningServer;
beforeAll(async () => {
  const dir = await workspace();
  const people = Array.from({ length: 6 }, (_, i) => person(i));
  people[3]!.status = 'left';
  await writeFile(join(dir, 'employees.csv'), csvOf(people));
  await writeFile(join(dir, 'scim-sync.config.yaml'), `state: ./state.db\nconnectors:\n${HR_CONNECTOR_YAML}server:\n  directory: hr\n`);
  const config = await loadConfig({ cwd: dir, env: {} });
  const backend = await openServedDirectory(config, config.server!, silentLogger);
  expect(backend.writable).toBe(false);
  server = await startScimServer({
    backend,
    tokens: [{ name: 'admin', value: ADMIN, readOnly: false }],
    host: '127.0.0.1',
    port: 0,
    basePath: '/scim/v2',
    maxBodyBytes: 65536,
    maxResults: 100,
    bulk: { maxOperations: 10, maxPayloadSize: 65536 },
    logger: silentLogger,
  });
});
afterAll(async () => {
  await server.close(1000);
});

describe('serving a CSV connector read-only', () => {
  it('lists, filters, pages and sorts what the connector reads', async () => {
    const all = await call(server, 'GET', '/Users?sortBy=userName&sortOrder=descending&count=2');
    expect(all.json).toMatchObject({ totalResults: 6, itemsPerPage: 2 });
    expect(resources(all).map((u) => u.userName)).toEqual(['first5.last5@example.com', 'first4.last4@example.com']);
    const one = await call(server, 'GET', `/Users?filter=${q('userName eq "FIRST2.LAST2@example.com"')}`);
    expect(resources(one).map((u) => u.id)).toEqual(['E0002']);
    const inactive = await call(server, 'GET', `/Users?filter=${q('active eq false')}`);
    expect(resources(inactive).map((u) => u.id)).toEqual(['E0003']);
    const groups = await call(server, 'GET', '/Groups?excludedAttributes=members');
    expect(resources(groups).map((g) => g.displayName).sort()).toEqual(['Engineering', 'Sales']);
    const got = await call(server, 'GET', '/Users/E0001');
    expect(got.status).toBe(200);
    expect(got.json.groups).toEqual([expect.objectContaining({ display: 'Sales', type: 'direct' })]);
    // ETags are content hashes: stable across reads.
    expect((await call(server, 'GET', '/Users/E0001', { headers: { 'if-none-match': String(got.headers.etag) } })).status).toBe(304);
  });

  it('says it cannot write, and refuses every write with 501', async () => {
    const spc = await call(server, 'GET', '/ServiceProviderConfig');
    expect(spc.json).toMatchObject({ patch: { supported: false }, bulk: { supported: false } });
    expect((await call(server, 'POST', '/Users', { body: user('new@example.com') })).status).toBe(501);
    expect((await call(server, 'PATCH', '/Users/E0001', { body: patch({ op: 'replace', path: 'title', value: 'x' }) })).status).toBe(501);
    expect((await call(server, 'DELETE', '/Users/E0001')).status).toBe(501);
    expect((await call(server, 'GET', '/Users/E0001')).status).toBe(200);
  });
});
