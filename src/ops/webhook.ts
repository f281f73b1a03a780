import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { errorMessage } from '../core/errors.js';

export interface WebhookOptions {
  headers: Record<string, string>;
  /** ms per attempt, headers and body included. */
  timeout: number;
  /** Further attempts after the first. */
  retries: number;
  /** First backoff in ms; doubles per retry, with jitter. */
  baseDelay?: number;
  signal?: AbortSignal;
}

export interface WebhookResult {
  ok: boolean;
  attempts: number;
  /** The last HTTP status, when a response arrived. */
  status?: number;
  /** Why it failed, without the URL (which may carry a token, as Slack's do). */
  error?: string;
}

const MAX_DELAY_MS = 60_000;

/**
 * POST a JSON body, retrying network errors, 429 and 5xx with exponential backoff and jitter
 * (honouring `Retry-After`). Other 4xx are not retried: the receiver rejected the request and
 * will reject it again. Never throws: a notification that cannot be delivered must not turn a
 * good run into a failed one; the caller logs the result.
 */
export async function postWebhook(url: string, body: unknown, opts: WebhookOptions): Promise<WebhookResult> {
  const payload = JSON.stringify(body);
  const base = opts.baseDelay ?? 1000;
  let last: WebhookResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= opts.retries + 1; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'scim-sync', ...opts.headers },
        body: payload,
        headersTimeout: opts.timeout,
        bodyTimeout: opts.timeout,
        signal: opts.signal,
      });
      const text = await res.body.text().catch(() => '');
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, attempts: attempt, status: res.statusCode };
      last = { ok: false, attempts: attempt, status: res.statusCode, error: `HTTP ${res.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}` };
      if (res.statusCode !== 429 && res.statusCode < 500) return last;
      const ra = res.headers['retry-after'];
      const seconds = Number(Array.isArray(ra) ? ra[0] : ra);
      if (Number.isFinite(seconds) && seconds >= 0) retryAfterMs = seconds * 1000;
    } catch (err) {
      if (opts.signal?.aborted) return { ok: false, attempts: attempt, error: 'aborted' };
      // undici's messages do not include the URL; the code is what an operator can act on.
      const code = (err as { code?: unknown }).code;
      last = { ok: false, attempts: attempt, error: typeof code === 'string' ? `${code}: ${errorMessage(err)}` : errorMessage(err) };
    }
    if (attempt > opts.retries) break;
    const step = Math.min(MAX_DELAY_MS, base * 2 ** (attempt - 1));
    const delay = Math.min(MAX_DELAY_MS, retryAfterMs ?? step * (0.5 + Math.random() / 2));
    try {
      await sleep(delay, undefined, { signal: opts.signal });
    } catch {
      return { ...last, error: 'aborted' };
    }
  }
  return last;
}
