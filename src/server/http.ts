import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import { TokenChecker, type Caller, type TokenEntry } from './auth.js';
import type { Backend } from './backend.js';
import type { BulkLimits } from './bulk.js';
import { badRequest, ScimHttpError } from './errors.js';
import { ScimHandler, type ScimResponse } from './handler.js';

/**
 * The SCIM server on node:http (or node:https): authentication, body limits, JSON, the access
 * log and graceful shutdown around ScimHandler. No framework: routing is a switch over a handful
 * of endpoints, and every byte of a request is bounded here.
 */

export interface ServerOptions {
  backend: Backend;
  tokens: readonly TokenEntry[];
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Path prefix of the SCIM API, e.g. `/scim/v2` (empty: the root). */
  basePath: string;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Largest request body accepted, except /Bulk which takes `bulk.maxPayloadSize`. */
  maxBodyBytes: number;
  maxResults: number;
  bulk: BulkLimits;
  logger: Logger;
}

export interface RunningServer {
  /** Base URL of the SCIM API, e.g. http://127.0.0.1:8080/scim/v2. */
  url: string;
  port: number;
  /** Requests being received or answered right now. */
  inFlight(): number;
  /** Stops accepting connections, lets requests in flight finish (at most `graceMs`), closes the backend. */
  close(graceMs?: number): Promise<void>;
}

const JSON_TYPE = /^application\/(scim\+)?json\b|^application\/[\w.+-]+\+json\b/i;
const CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const REALM = 'Bearer realm="scim-sync"';

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!done) reject(err);
    });
  });
}

function send(res: ServerResponse, r: ScimResponse, close: boolean): number {
  const text = r.body === undefined ? '' : JSON.stringify(r.body);
  const headers: Record<string, string | number> = { ...r.headers };
  if (text !== '') {
    headers['Content-Type'] = CONTENT_TYPE;
    headers['Content-Length'] = Buffer.byteLength(text);
  }
  if (close) headers.Connection = 'close';
  res.writeHead(r.status, headers);
  res.end(text);
  return Buffer.byteLength(text);
}

function errorResponse(e: ScimHttpError): ScimResponse {
  return { status: e.status, body: e.body(), headers: e.headers };
}

export async function startScimServer(opts: ServerOptions): Promise<RunningServer> {
  const tokens = new TokenChecker(opts.tokens);
  const handler = new ScimHandler({ backend: opts.backend, maxResults: opts.maxResults, bulk: opts.bulk });
  const basePath = opts.basePath.replace(/\/+$/, '');
  const scheme = opts.tls ? 'https' : 'http';
  let inFlight = 0;
  let idle: (() => void) | undefined;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<{ status: number; bytes: number; caller?: Caller }> {
    const method = req.method ?? 'GET';
    const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      if (hasBody) req.resume();
      return { status: 400, bytes: send(res, errorResponse(new ScimHttpError(400, 'the request target is not a valid URL')), true) };
    }
    // A body left unread on a kept-alive connection would be parsed as the next request.
    const refuse = (e: ScimHttpError) => {
      // Keep reading (and dropping) what the client still sends, so it sees the answer rather
      // than a reset; `Connection: close` then ends the connection.
      if (hasBody) req.resume();
      return { status: e.status, bytes: send(res, errorResponse(e), hasBody) };
    };
    const caller = tokens.check(req.headers.authorization);
    if (!caller) {
      const presented = req.headers.authorization !== undefined;
      return refuse(new ScimHttpError(401, presented ? 'the bearer token is not valid' : 'a bearer token is required', undefined, {
        'WWW-Authenticate': presented ? `${REALM}, error="invalid_token"` : REALM,
      }));
    }
    const lowerPath = url.pathname.toLowerCase();
    if (basePath !== '' && lowerPath !== basePath.toLowerCase() && !lowerPath.startsWith(basePath.toLowerCase() + '/')) {
      return { ...refuse(new ScimHttpError(404, `no SCIM endpoint at ${url.pathname}; the API is under ${basePath}`)), caller };
    }
    const path = url.pathname.slice(basePath.length) || '/';
    let body: unknown;
    if (hasBody) {
      const type = req.headers['content-type'];
      if (type !== undefined && !JSON_TYPE.test(type)) {
        return { ...refuse(new ScimHttpError(415, `request bodies must be application/scim+json, not ${type.split(';')[0]}`)), caller };
      }
      const isBulk = /^\/bulk\/?$/i.test(path);
      const limit = isBulk ? opts.bulk.maxPayloadSize : opts.maxBodyBytes;
      let raw: Buffer;
      try {
        raw = await readBody(req, limit);
      } catch (err) {
        if (err instanceof BodyTooLarge) return { ...refuse(new ScimHttpError(413, `the request body is larger than ${limit} bytes`)), caller };
        throw err;
      }
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8')) as unknown;
        } catch (err) {
          return { status: 400, bytes: send(res, errorResponse(badRequest('invalidSyntax', `the body is not valid JSON: ${errorMessage(err)}`)), false), caller };
        }
      }
    }
    const host = req.headers.host ?? `${opts.host}:${opts.port}`;
    const r = await handler.handle({
      method,
      path,
      query: url.searchParams,
      body,
      readOnly: caller.readOnly,
      base: `${scheme}://${host}${basePath}`,
      ...(typeof req.headers['if-match'] === 'string' ? { ifMatch: req.headers['if-match'] } : {}),
      ...(typeof req.headers['if-none-match'] === 'string' ? { ifNoneMatch: req.headers['if-none-match'] } : {}),
    });
    return { status: r.status, bytes: send(res, r, false), caller };
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    inFlight++;
    serve(req, res)
      .catch((err: unknown) => {
        // A bug or an I/O failure (disk, busy database): the client gets a 500, the log the reason.
        opts.logger.error(`internal error answering ${req.method} ${req.url}: ${errorMessage(err)}`);
        if (!res.headersSent) return { status: 500, bytes: send(res, errorResponse(new ScimHttpError(500, 'internal server error')), true) };
        res.destroy();
        return { status: 500, bytes: 0 };
      })
      .then((r: { status: number; bytes: number; caller?: Caller }) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        // One line per request; the Authorization header is never logged, the token only by name.
        opts.logger.info(
          `${req.socket.remoteAddress ?? '-'} ${req.method} ${req.url} ${r.status} ${r.bytes} ${ms.toFixed(1)}ms ${r.caller?.name ?? '-'}`,
        );
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0) idle?.();
      });
  };

  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createHttpServer(listener);
  // A client that trickles its request ties up a socket, never the event loop: bound it anyway.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const hostText = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${hostText}:${port}${basePath}`,
    port,
    inFlight: () => inFlight,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) {
          const drained = new Promise<void>((resolve) => (idle = resolve));
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
          await Promise.race([drained, timeout]);
          clearTimeout(timer);
        }
        server.closeAllConnections();
        await closed;
        await opts.backend.close();
      })();
      return closing;
    },
  };
}
