import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildNotification } from '../../src/ops/notify.js';
import { postWebhook } from '../../src/ops/webhook.js';
import type { RunRecord } from '../../src/state/types.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** A local webhook receiver answering with the scripted statuses in turn (then 200). */
async function receiver(statuses: number[], extraHeaders: Record<string, string> = {}) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(text) });
      const status = statuses.shift() ?? 200;
      res.writeHead(status, extraHeaders).end(status === 200 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const opts = { headers: { authorization: 'Bearer t0k' }, timeout: 2000, retries: 3, baseDelay: 5 };

function run(over: Partial<RunRecord> = {}): RunRecord {
  return {
    id: 42,
    job: 'hr-to-app',
    trigger: 'schedule',
    startedAt: '2026-11-01T00:00:00.000Z',
    endedAt: '2026-11-01T00:00:09.000Z',
    outcome: 'partial',
    counts: { 'create-user': 2 },
    errors: [{ object: 'create user jo@example.com', message: 'HTTP 400: userName invalid' }],
    heldBack: 0,
    ...over,
  };
}

describe('webhook notifications', () => {
  it('posts the documented body, with the configured headers', async () => {
    const hook = await receiver([]);
    const body = buildNotification(run(), ['failure', 'held'], 'scim-sync 0.1.0');
    const result = await postWebhook(hook.url, body, opts);
    expect(result).toEqual({ ok: true, attempts: 1, status: 200 });
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.headers['content-type']).toBe('application/json');
    expect(hook.received[0]!.headers.authorization).toBe('Bearer t0k');
    expect(hook.received[0]!.body).toMatchObject({
      version: 1,
      event: 'failure',
      events: ['failure'],
      job: 'hr-to-app',
      runId: 42,
      outcome: 'partial',
      counts: { 'create-user': 2 },
      errorCount: 1,
      errors: [{ object: 'create user jo@example.com', message: 'HTTP 400: userName invalid' }],
      heldBack: 0,
      tool: 'scim-sync 0.1.0',
      text: 'scim-sync job hr-to-app: run #42 partial; 2 changes applied; 1 error (first: create user jo@example.com: HTTP 400: userName invalid).',
    });
  });

  it('retries 5xx and 429 with backoff until the receiver accepts', async () => {
    const hook = await receiver([503, 429, 500], { 'retry-after': '0' });
    const result = await postWebhook(hook.url, { hello: 1 }, opts);
    expect(result).toEqual({ ok: true, attempts: 4, status: 200 });
    expect(hook.received).toHaveLength(4);
  });

  it('does not retry a 4xx rejection, and gives up after the retries on a dead receiver', async () => {
    const hook = await receiver([404]);
    expect(await postWebhook(hook.url, {}, opts)).toEqual({ ok: false, attempts: 1, status: 404, error: 'HTTP 404: nope' });

    const dead = await receiver([]);
    const deadUrl = dead.url;
    await new Promise((r) => servers.pop()!.close(r));
    const result = await postWebhook(deadUrl, {}, { ...opts, retries: 2 });
    expect(result.ok).toBe(false);
    expect(result.attempts).toBe(3);
    expect(result.error).toMatch(/ECONNREFUSED/);
    expect(result.error).not.toContain(deadUrl);
  });

  it('sends only for the configured events, naming the most severe', () => {
    const quiet = run({ outcome: 'success', errors: [], counts: {} });
    expect(buildNotification(quiet, ['failure', 'held', 'changes'], 't')).toBeUndefined();
    const changed = run({ outcome: 'success', errors: [] });
    expect(buildNotification(changed, ['failure', 'held'], 't')).toBeUndefined();
    expect(buildNotification(changed, ['changes'], 't')?.event).toBe('changes');
    const held = run({ outcome: 'held', errors: [], heldBack: 12 });
    expect(buildNotification(held, ['failure', 'held', 'changes'], 't')).toMatchObject({ event: 'held', events: ['held', 'changes'] });
  });
});
