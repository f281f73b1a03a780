import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { ScimClient } from '../../../connectors/scim/client.js';
import { scimConfigSchema } from '../../../connectors/scim/config.js';
import { AimdLimiter } from '../../../connectors/scim/limiter.js';
import { sendJson, startServer } from './http-server.js';
import type { TestServer } from './http-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('AimdLimiter', () => {
  it('halves once per burst of pushback, floors at 1, and recovers additively', async () => {
    const l = new AimdLimiter(8);
    const epochs = await Promise.all(Array.from({ length: 8 }, () => l.acquire()));
    expect(l.active).toBe(8);
    // Eight 429s answering requests sent together: one halving, not eight.
    for (const e of epochs) l.release(e, 'pushback');
    expect(l.limit).toBe(4);
    for (let i = 0; i < 5; i++) l.release(await l.acquire(), 'pushback');
    expect(l.limit).toBe(1);
    // About one more permit per round of `limit` successes.
    for (let i = 0; i < 1; i++) l.release(await l.acquire(), 'ok');
    expect(l.limit).toBe(2);
    for (let i = 0; i < 2; i++) l.release(await l.acquire(), 'ok');
    expect(l.limit).toBe(3);
    for (let i = 0; i < 100; i++) l.release(await l.acquire(), 'ok');
    expect(l.limit).toBe(8);
  });

  it('makes callers wait beyond the limit', async () => {
    const l = new AimdLimiter(2);
    const a = await l.acquire();
    await l.acquire();
    let third = false;
    const p = l.acquire().then(() => (third = true));
    await wait(10);
    expect(third).toBe(false);
    l.release(a, 'ok');
    await p;
    expect(third).toBe(true);
  });
});

describe('ScimClient under a 429 storm', () => {
  it('lowers the requests in flight at the server while it pushes back, then recovers', async () => {
    let inFlight = 0;
    const arrivals: { n: number; concurrent: number; storm: boolean }[] = [];
    const STORM = 60;
    // The first answers wait until the whole pool has arrived (or 2 s): on a loaded machine the
    // 8th connection can take longer to open than one answer takes, and the check below is
    // about what the client sends before any answer, not about how fast sockets open.
    let poolArrived: () => void = () => {};
    const pool = new Promise<void>((resolve) => (poolArrived = resolve));
    server.handle(async (_req, res, n) => {
      inFlight++;
      const storm = n <= STORM;
      arrivals.push({ n, concurrent: inFlight, storm });
      if (n === 8) poolArrived();
      if (n <= 8) await Promise.race([pool, wait(2000)]);
      await wait(15);
      inFlight--;
      if (storm) sendJson(res, 429, { detail: 'slow down' }, { 'retry-after': '0' });
      else sendJson(res, 200, { ok: true });
    });
    const client = new ScimClient(scimConfigSchema.parse({ baseUrl: server.url, auth: { bearer: 'storm-token' }, retry: { attempts: 20 } }), {
      logger: silentLogger,
      configDir: '.',
      connections: 8,
      sleep: () => wait(1),
    });
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => client.request('GET', `/Users/u${i}`, { object: `read user u${i}` })));
    } finally {
      await client.close();
    }
    const max = (xs: { concurrent: number }[]) => Math.max(...xs.map((x) => x.concurrent));
    // Before the first answer: the full pool.
    expect(max(arrivals.slice(0, 8))).toBe(8);
    // Once the storm is under way, one request at a time (AIMD floor).
    expect(max(arrivals.filter((a) => a.storm && a.n > 20))).toBe(1);
    // After the storm, concurrency grows back.
    expect(max(arrivals.filter((a) => !a.storm))).toBeGreaterThan(1);
    expect(arrivals.length).toBe(STORM + 40);
  });
});
