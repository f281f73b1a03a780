import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ReadWarning } from '../../../src/core/connector.js';
import { ConnectorError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ScimClient } from '../../../connectors/scim/client.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import { createReader } from '../../../connectors/scim/reader.js';
import { sendJson, startServer } from './http-server.js';
import type { TestServer } from './http-server.js';

let server: TestServer;
let client: ScimClient;
let warnings: ReadWarning[] = [];

const users = Array.from({ length: 25 }, (_, i) => ({ id: `u${String(i).padStart(2, '0')}`, userName: `user${i}@example.com`, active: true }));

beforeAll(async () => {
  server = await startServer();
  client = new ScimClient(scimConfigSchema.parse({ baseUrl: server.url, auth: { bearer: 'reader-token' }, retry: { attempts: 2 } }), {
    logger: silentLogger,
    configDir: '.',
    connections: 2,
    sleep: async () => {},
  });
});
afterAll(async () => {
  await client.close();
  await server.close();
});
afterEach(() => {
  warnings = [];
});

const reader = (pageSize = 10) => createReader(client, { name: 'app', warn: (w) => warnings.push(w) }, { pageSize });

async function ids(pageSize = 10): Promise<string[]> {
  const out: string[] = [];
  for await (const u of reader(pageSize).listUsers()) out.push(u.id);
  return out;
}

async function failure(pageSize = 10): Promise<ConnectorError> {
  try {
    await ids(pageSize);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return err as ConnectorError;
  }
  throw new Error('expected the listing to fail');
}

const all = users.map((u) => u.id);

interface Paging {
  start: number;
  count: number;
  n: number;
}

/** Serves `users` through `page`, which decides what each request gets. */
function serve(page: (p: Paging) => Record<string, unknown>): void {
  server.handle((req, res, n) => {
    const url = new URL(req.url, 'http://x');
    const start = Number(url.searchParams.get('startIndex'));
    const count = Number(url.searchParams.get('count'));
    sendJson(res, 200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], ...page({ start, count, n }) });
  });
}

const slice = (start: number, count: number) => users.slice(start - 1, start - 1 + count);
const requests = () => server.seen.length;

describe('SCIM reader paging', () => {
  it('reads an honest server without an extra request after a short last page', async () => {
    serve(({ start, count }) => ({ totalResults: users.length, itemsPerPage: slice(start, count).length, startIndex: start, Resources: slice(start, count) }));
    expect(await ids()).toEqual(all);
    expect(requests()).toBe(3);
    expect(server.seen[0]!.url).toBe('/Users?startIndex=1&count=10');
    expect(warnings).toEqual([]);
  });

  it('copes with a server that ignores count (everything at once)', async () => {
    serve(({ start }) => ({ totalResults: users.length, Resources: users.slice(start - 1) }));
    expect(await ids()).toEqual(all);
    expect(requests()).toBe(1);
  });

  it('copes with a server that ignores count and startIndex', async () => {
    serve(() => ({ totalResults: users.length, Resources: users }));
    expect(await ids(100)).toEqual(all);
    expect(await ids(10)).toEqual(all);
  });

  it('ignores a wrong itemsPerPage', async () => {
    serve(({ start, count }) => ({ totalResults: users.length, itemsPerPage: 1000, Resources: slice(start, count) }));
    expect(await ids()).toEqual(all);
  });

  it('reads to the end without totalResults', async () => {
    serve(({ start, count }) => ({ Resources: slice(start, count) }));
    expect(await ids()).toEqual(all);
    // ends on the empty page
    expect(requests()).toBe(4);
  });

  it('follows pages shorter than asked mid-way', async () => {
    serve(({ start, count, n }) => ({ totalResults: users.length, Resources: slice(start, n % 2 === 0 ? 3 : count) }));
    expect(await ids()).toEqual(all);
    serve(({ start }) => ({ Resources: slice(start, 4) }));
    expect(await ids()).toEqual(all);
  });

  it('drops a repeated page and carries on', async () => {
    serve(({ start, count, n }) => ({ totalResults: users.length, Resources: n === 2 ? slice(1, count) : slice(start - (n > 2 ? count : 0), count) }));
    expect(await ids()).toEqual(all);
  });

  it('dedupes overlapping pages without totalResults', async () => {
    serve(({ start, count }) => ({ Resources: slice(Math.max(1, start - 2), count) }));
    expect(await ids()).toEqual(all);
  });

  it('fails when the server keeps repeating the first page short of totalResults', async () => {
    serve(({ count }) => ({ totalResults: users.length, Resources: slice(1, count) }));
    const err = await failure();
    expect(err.message).toContain('10 of 25 listed');
  });

  it('keeps reading past a totalResults that lies low', async () => {
    serve(({ start, count }) => ({ totalResults: 5, Resources: slice(start, count) }));
    expect(await ids()).toEqual(all);
  });

  it('ends with a warning when totalResults lies high', async () => {
    serve(({ start, count }) => ({ totalResults: 40, Resources: slice(start, count) }));
    expect(await ids()).toEqual(all);
    expect(warnings.map((w) => w.code)).toEqual(['scim-total-mismatch']);
  });

  it('stops an endless listing at the page budget derived from totalResults', async () => {
    serve(({ n, count }) => ({ totalResults: 3, Resources: Array.from({ length: count }, (_, i) => ({ id: `x${n}-${i}`, userName: `x${n}-${i}` })) }));
    const err = await failure();
    expect(err.message).toContain('no end after 7 pages');
  });

  it('fails the whole listing on a server error mid-way', async () => {
    server.handle((req, res, n) => {
      if (n >= 2) return sendJson(res, 400, { status: '400', detail: 'invalid startIndex' });
      sendJson(res, 200, { totalResults: 25, Resources: slice(1, 10) });
    });
    const err = await failure();
    expect(err.message).toBe('connector app: listing users from /Users: startIndex=11: 400: invalid startIndex');
  });

  it('fails on a malformed resource, naming it', async () => {
    serve(() => ({ Resources: [{ id: 'bad' }] }));
    expect((await failure()).message).toContain('user resource bad has no "userName"');
  });

  it('lists groups with members', async () => {
    server.handle((req, res) => {
      const start = Number(new URL(req.url, 'http://x').searchParams.get('startIndex'));
      sendJson(res, 200, start > 1 ? { Resources: [] } : { Resources: [{ id: 'g1', displayName: 'G', members: [{ value: 'u00', type: 'User' }] }] });
    });
    const groups = [];
    for await (const g of reader().listGroups()) groups.push(g);
    expect(groups).toEqual([{ id: 'g1', displayName: 'G', members: [{ type: 'User', value: 'u00' }] }]);
    expect(server.seen[0]!.url).toBe('/Groups?startIndex=1&count=10');
  });

  it('declares every user attribute but externalId', () => {
    expect(reader().userAttributes()).not.toContain('externalId');
    expect(reader().userAttributes()).toContain('enterprise.manager');
  });
});
