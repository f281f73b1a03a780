import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { DirectoryStore } from '../../connectors/embedded/store.js';
import type { Logger } from '../../src/core/logger.js';
import type { BulkLimits } from '../../src/server/bulk.js';
import { EmbeddedBackend } from '../../src/server/embedded-backend.js';
import { startScimServer, type RunningServer } from '../../src/server/http.js';

export const ADMIN = 'admin-token-0123456789abcdef';
export const READER = 'reader-token-0123456789abcdef';
export const SCIM_JSON = 'application/scim+json';

export interface TestServer {
  url: string;
  statePath: string;
  logs: string[];
  /** A second connection to the same file, for seeding and for checking what was stored. */
  store: DirectoryStore;
  server: RunningServer;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

export async function startTestServer(opts: { maxBodyBytes?: number; maxResults?: number; bulk?: BulkLimits; writable?: boolean } = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'scim-sync-serve-'));
  const statePath = join(dir, 'state.db');
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const logger: Logger = { debug: log, info: log, warn: log, error: log };
  const server = await startScimServer({
    backend: EmbeddedBackend.open(statePath, opts.writable ?? true),
    tokens: [
      { name: 'admin', value: ADMIN, readOnly: false },
      { name: 'reader', value: READER, readOnly: true },
    ],
    host: '127.0.0.1',
    port: 0,
    basePath: '/scim/v2',
    maxBodyBytes: opts.maxBodyBytes ?? 1_048_576,
    maxResults: opts.maxResults ?? 1000,
    bulk: opts.bulk ?? { maxOperations: 100, maxPayloadSize: 1_048_576 },
    logger,
  });
  const store = new DirectoryStore(statePath);
  return {
    url: server.url,
    statePath,
    logs,
    store,
    server,
    async close() {
      await server.close(1000);
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CallOptions {
  body?: unknown;
  /** Sent as-is (not JSON-encoded). */
  rawBody?: string | Buffer;
  token?: string | null;
  headers?: Record<string, string>;
}

/** One real HTTP request; `path` is relative to the SCIM base URL (`/Users?filter=…`). */
export async function call(srv: { url: string }, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? ADMIN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | Buffer | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = SCIM_JSON;
  const res = await request(srv.url + path, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  if (text !== '') {
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = {};
    }
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export const q = encodeURIComponent;

export function user(userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, ...extra };
}

export function group(displayName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName, ...extra };
}

export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export function patch(...operations: Record<string, unknown>[]): Record<string, unknown> {
  return { schemas: [PATCH_OP], Operations: operations };
}

export function resources(reply: Reply): Record<string, unknown>[] {
  return (reply.json.Resources as Record<string, unknown>[] | undefined) ?? [];
}
