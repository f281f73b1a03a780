import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Agent, EnvHttpProxyAgent, Pool, ProxyAgent, request as undiciRequest } from 'undici';
import type { Dispatcher } from 'undici';
import { RemoteError, errorMessage } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { redact, registerSecret } from '../../src/core/secrets.js';
import { describeScimError } from '../../src/scim/errors.js';
import type { ScimConfig } from './config.js';
import { AimdLimiter } from './limiter.js';
import { PROFILES } from './profiles.js';

/**
 * HTTP for the SCIM connector: one keep-alive undici `Pool` per connector, JSON in and out,
 * authentication, and retries. Uses `pool.request` rather than `fetch`: fetch measured about 6×
 * slower on loopback for the same request count (WHATWG streams and Response objects per call).
 *
 * Behind a forward proxy (config `proxy`, or HTTPS_PROXY/HTTP_PROXY/NO_PROXY) the pool is an
 * undici ProxyAgent / EnvHttpProxyAgent instead: CONNECT tunnels for https targets, absolute-URI
 * requests for http ones. Those agents replace the `connect` option with their tunnel, so TLS
 * settings for the SCIM server go in `requestTls` and the connect timeout in both `requestTls`
 * and `proxyTls`; header/body timeouts are passed per request so every dispatcher honours them.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ScimResponse {
  status: number;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface RequestOptions {
  /** What is being done to what, for error messages: `create user jdoe@example.com`. */
  object: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Non-2xx statuses handed back to the caller instead of thrown (404 on delete, 409 on create). */
  accept?: readonly number[];
  /** Extra request headers (`If-Match`). */
  headers?: Record<string, string>;
}

export interface ClientOptions {
  logger: Logger;
  /** Resolves relative TLS file paths. */
  configDir: string;
  /** Connections kept open; also the most requests in flight. */
  connections: number;
  /** Injected in tests so backoff does not really wait. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/** Errors raised before a single byte reached the server: retrying them cannot duplicate a write. */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Errors after the request may have reached the server; retried only when repeating is harmless. */
const MIDFLIGHT_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECT_CODES.has(code) || MIDFLIGHT_CODES.has(code))) return code;
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined if unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const text = v.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface CachedToken {
  value: string;
  /** When to stop using it (already moved ahead of the real expiry). */
  refreshAt: number;
}

/** Refresh this long before the server's expiry, so a token never expires between check and use. */
const TOKEN_MARGIN_MS = 60_000;
/** Used when the token endpoint gives no `expires_in`. */
const DEFAULT_TOKEN_LIFETIME_S = 300;

interface TlsConnectOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
}

type Outcome = { kind: 'response'; response: ScimResponse } | { kind: 'error'; err: unknown; code: string | undefined };

/** The proxy from the environment, as curl and most tools read it; undefined when none is set. */
export function envProxy(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY;
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Credentials inside a proxy URL, registered as secrets; the URL with them masked, for logs. */
function proxySecrets(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(unparsable proxy URL)';
  }
  for (const part of [u.username, u.password]) {
    if (part === '') continue;
    registerSecret(part);
    registerSecret(decodeURIComponent(part));
  }
  const withCredentials = u.username !== '' || u.password !== '';
  if (withCredentials) registerSecret(Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64'));
  // `origin` never carries the user info; say that there was some without showing it.
  return withCredentials ? `${u.protocol}//***@${u.host}` : u.origin;
}

export class ScimClient {
  private readonly pool: Dispatcher;
  private readonly basePath: string;
  private readonly origin: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private tokenAgent: Dispatcher | undefined;
  private token: CachedToken | undefined;
  private tokenLoading: Promise<CachedToken> | undefined;
  private readonly staticAuth: string | undefined;
  private readonly staticAuthHeader: string;
  /** Requests in flight, lowered while the server answers 429/503 (AIMD). */
  readonly limiter: AimdLimiter;
  /** Read once: the files are the same for the pool and the token endpoint, and the warning is said once. */
  private readonly tls: TlsConnectOptions;

  constructor(
    private readonly config: ScimConfig,
    private readonly opts: ClientOptions,
  ) {
    const url = new URL(config.baseUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;

    const auth = config.auth;
    this.staticAuthHeader = 'authorization';
    if ('bearer' in auth) {
      registerSecret(auth.bearer);
      // Some servers want another scheme word (ArkID: `jwt`); the profile says which.
      this.staticAuth = `${PROFILES[config.profile].authScheme} ${auth.bearer}`;
    } else if ('basic' in auth) {
      registerSecret(auth.basic.password);
      const encoded = Buffer.from(`${auth.basic.username}:${auth.basic.password}`).toString('base64');
      registerSecret(encoded);
      this.staticAuth = `Basic ${encoded}`;
    } else if ('header' in auth) {
      registerSecret(auth.header.value);
      this.staticAuthHeader = auth.header.name.toLowerCase();
      this.staticAuth = auth.header.value;
    } else {
      registerSecret(auth.oauth2.clientSecret);
    }

    this.limiter = new AimdLimiter(opts.connections);
    this.tls = this.tlsOptions();
    this.pool = this.dispatcher(opts.connections, true);
  }

  /** The proxy in use (credentials masked), or undefined for direct connections. */
  get proxy(): string | undefined {
    const p = this.config.proxy;
    if (p === false) return undefined;
    const env = process.env;
    // As EnvHttpProxyAgent picks it: https targets fall back to HTTP_PROXY, http targets use only HTTP_PROXY.
    const fromEnv = this.origin.startsWith('https:')
      ? (env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY)
      : (env.http_proxy ?? env.HTTP_PROXY);
    const url = p ?? (fromEnv?.trim() ? fromEnv : undefined);
    return url === undefined ? undefined : `${proxySecrets(url)}${p === undefined ? ' (from the environment; NO_PROXY applies)' : ''}`;
  }

  /**
   * A pool to the SCIM origin (`pooled`), or an agent for any origin (the OAuth token endpoint),
   * through the configured or environment proxy when there is one.
   */
  private dispatcher(connections: number, pooled: boolean): Dispatcher {
    const { connect: timeout, headers: headersTimeout, body: bodyTimeout } = this.config.timeouts;
    const connect = { timeout, ...this.tls };
    const viaProxy = {
      connections,
      headersTimeout,
      bodyTimeout,
      requestTls: connect,
      // The proxy's own certificate is checked against the system roots: `tls.caFile` is for the SCIM server.
      proxyTls: { timeout },
      // http targets as absolute-URI requests (what forward proxies expect); https always tunnels.
      proxyTunnel: false,
    };
    if (typeof this.config.proxy === 'string') {
      proxySecrets(this.config.proxy);
      return new ProxyAgent({ uri: this.config.proxy, ...viaProxy });
    }
    const fromEnv = this.config.proxy === false ? undefined : envProxy();
    if (fromEnv !== undefined) {
      for (const v of [process.env.https_proxy, process.env.HTTPS_PROXY, process.env.http_proxy, process.env.HTTP_PROXY]) if (v) proxySecrets(v);
      return new EnvHttpProxyAgent({ ...viaProxy, connect });
    }
    return pooled ? new Pool(this.origin, { connections, connect, headersTimeout, bodyTimeout }) : new Agent({ connect, headersTimeout, bodyTimeout });
  }

  private tlsOptions(): TlsConnectOptions {
    const tls = this.config.tls;
    if (!tls) return {};
    const read = (p: string) => readFileSync(resolve(this.opts.configDir, p));
    if (tls.insecure) {
      this.opts.logger.warn(`SCIM ${this.config.baseUrl}: TLS certificate verification is OFF (tls.insecure: true); use only against test servers`);
    }
    return {
      ...(tls.caFile ? { ca: read(tls.caFile) } : {}),
      ...(tls.certFile ? { cert: read(tls.certFile) } : {}),
      ...(tls.keyFile ? { key: read(tls.keyFile) } : {}),
      ...(tls.insecure ? { rejectUnauthorized: false } : {}),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.tokenAgent?.close()]);
  }

  /**
   * One SCIM call with retries. Resolves with 2xx (and `accept`ed) responses; anything else
   * becomes a RemoteError carrying the server's SCIM detail, redacted.
   */
  async request(method: HttpMethod, path: string, options: RequestOptions): Promise<ScimResponse> {
    const { attempts } = this.config.retry;
    let refreshedToken = false;
    for (let attempt = 1; ; attempt++) {
      let usedToken: string | undefined;
      let outcome: Outcome;
      try {
        const auth = await this.authorization();
        usedToken = auth.token;
        outcome = { kind: 'response', response: await this.limited(() => this.send(method, path, options, auth.header)) };
      } catch (err) {
        if (err instanceof RemoteError) throw err;
        outcome = { kind: 'error', err, code: errorCode(err) };
      }

      if (outcome.kind === 'response') {
        const res = outcome.response;
        if ((res.status >= 200 && res.status < 300) || options.accept?.includes(res.status)) return res;
        // A rejected OAuth token may have been revoked or rotated early: fetch a new one, once.
        if (res.status === 401 && usedToken !== undefined && !refreshedToken) {
          refreshedToken = true;
          if (this.token?.value === usedToken) this.token = undefined;
          attempt--;
          continue;
        }
        // 429 and 503 say the server did not process the request, so even a POST may be repeated.
        // PUT, DELETE and GET are idempotent by definition; the PATCH bodies this connector sends
        // are too (replace/remove by path, member add/remove of a set), so a repeat is harmless.
        const pushback = res.status === 429 || res.status === 503;
        const transient = pushback || res.status >= 500;
        const retryable = pushback || (transient && method !== 'POST');
        if (retryable && attempt < attempts) {
          const hinted = pushback ? parseRetryAfter(res.headers['retry-after'], this.now()) : undefined;
          await this.sleep(this.delay(attempt, hinted));
          continue;
        }
        throw new RemoteError(options.object, redact(describeScimError(res.body, res.status)), res.status, transient);
      }

      // A POST that reached the server may have created the object even though the answer was
      // lost; repeating it could create a duplicate (or fail with a confusing 409). It is retried
      // only when the connection never got that far. If it did, the error reaches the applier; the
      // next run finds the object by externalId and relinks it, so nothing is lost either way.
      const { code } = outcome;
      const connectPhase = code !== undefined && CONNECT_CODES.has(code);
      const midFlight = code !== undefined && MIDFLIGHT_CODES.has(code);
      const retryable = connectPhase || (midFlight && method !== 'POST');
      const detail = redact(`${errorMessage(outcome.err)}${code ? ` (${code})` : ''}`);
      if (retryable && attempt < attempts) {
        this.opts.logger.debug(`SCIM ${method} ${path}: ${detail}; retrying (attempt ${attempt + 1} of ${attempts})`);
        await this.sleep(this.delay(attempt, undefined));
        continue;
      }
      const tries = attempt > 1 ? ` after ${attempt} attempts` : '';
      throw new RemoteError(options.object, `${detail}${tries}`, undefined, connectPhase || midFlight);
    }
  }

  /** One send under the AIMD limiter; the permit is given back before any backoff wait. */
  private async limited(send: () => Promise<ScimResponse>): Promise<ScimResponse> {
    const epoch = await this.limiter.acquire();
    let outcome: 'ok' | 'pushback' | 'other' = 'other';
    try {
      const res = await send();
      outcome = res.status === 429 || res.status === 503 ? 'pushback' : res.status < 500 ? 'ok' : 'other';
      return res;
    } finally {
      this.limiter.release(epoch, outcome);
    }
  }

  /** Exponential backoff with jitter (50–100 % of the step), or the server's hint; both capped. */
  private delay(attempt: number, hinted: number | undefined): number {
    const { baseDelay, maxDelay } = this.config.retry;
    if (hinted !== undefined) return Math.min(hinted, maxDelay);
    const step = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1));
    return Math.round(step * (0.5 + this.random() * 0.5));
  }

  private async send(method: HttpMethod, path: string, options: RequestOptions, auth: [string, string] | undefined): Promise<ScimResponse> {
    const headers: Record<string, string> = { accept: 'application/scim+json, application/json' };
    if (auth) headers[auth[0]] = auth[1];
    if (options.headers) Object.assign(headers, options.headers);
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/scim+json';
    }
    const { headers: headersTimeout, body: bodyTimeout } = this.config.timeouts;
    const res = await this.pool.request({
      origin: this.origin,
      method,
      path: this.basePath + path + queryString(options.query),
      headers,
      body,
      headersTimeout,
      bodyTimeout,
    });
    // Read the whole body inside the retry loop: a reset mid-body is as transient as one before it.
    const text = await res.body.text();
    let parsed: unknown;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          throw new RemoteError(options.object, `${res.statusCode}: response is not JSON: ${redact(text.slice(0, 200))}`, res.statusCode);
        }
        // Error pages (HTML from a proxy) are described from their text.
        parsed = text;
      }
    }
    return { status: res.statusCode, body: parsed, headers: res.headers };
  }

  private async authorization(): Promise<{ header: [string, string] | undefined; token?: string }> {
    if (this.staticAuth !== undefined) return { header: [this.staticAuthHeader, this.staticAuth] };
    const token = await this.oauthToken();
    return { header: ['authorization', `Bearer ${token.value}`], token: token.value };
  }

  /** The cached client-credentials token; concurrent callers share one fetch. */
  private async oauthToken(): Promise<CachedToken> {
    if (this.token && this.now() < this.token.refreshAt) return this.token;
    this.tokenLoading ??= this.fetchToken().finally(() => {
      this.tokenLoading = undefined;
    });
    this.token = await this.tokenLoading;
    return this.token;
  }

  private async fetchToken(): Promise<CachedToken> {
    const auth = this.config.auth;
    if (!('oauth2' in auth)) throw new Error('no OAuth2 configuration');
    const { tokenUrl, clientId, clientSecret, scope } = auth.oauth2;
    const object = `obtain OAuth2 token from ${tokenUrl}`;
    this.tokenAgent ??= this.dispatcher(1, false);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) form.set('scope', scope);
    // RFC 6749 §2.3.1: client credentials in HTTP Basic, form-encoded first.
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    registerSecret(basic);
    let status: number;
    let text: string;
    try {
      const dispatcher: Dispatcher = this.tokenAgent;
      const res = await undiciRequest(tokenUrl, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
        body: form.toString(),
        headersTimeout: this.config.timeouts.headers,
        bodyTimeout: this.config.timeouts.body,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new RemoteError(object, redact(errorMessage(err)), undefined, true);
    }
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      json = undefined;
    }
    const obj = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
    if (status < 200 || status >= 300 || typeof obj.access_token !== 'string' || obj.access_token === '') {
      throw new RemoteError(object, redact(describeScimError(json ?? text, status)), status, status >= 500);
    }
    registerSecret(obj.access_token);
    const lifetime = typeof obj.expires_in === 'number' && obj.expires_in > 0 ? obj.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    // Short-lived tokens get refreshed at half-life instead, so the margin never exceeds the lifetime.
    const margin = Math.min(TOKEN_MARGIN_MS, (lifetime * 1000) / 2);
    return { value: obj.access_token, refreshAt: this.now() + lifetime * 1000 - margin };
  }
}

function queryString(query: RequestOptions['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}
