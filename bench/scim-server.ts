/**
 * A lean in-memory SCIM 2.0 server on node:http for `npm run bench` (bench/scim.ts). Not the
 * test fault server: no fault injection, no per-request logging, indexes instead of scans, so that
 * at 100k users the server stays well ahead of the client. Started as its own process
 * (`node dist/bench/scim-server.js`) so server and client each get a core; it prints
 * `{"port":N}` on stdout once listening.
 *
 * Serves /Users and /Groups (POST, GET list with startIndex/count and `attr eq "v"` filters, GET
 * one, PATCH, PUT, DELETE), /ServiceProviderConfig (PATCH supported), and two bench-only
 * endpoints that are not counted: GET /_bench/stats (requests by method and by method+endpoint,
 * object counts, one sample body per write kind) and POST /_bench/reset-counts.
 */
import { applyPatchOperations, type PatchOperation } from '../src/scim/patch.js';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

type Rec = Record<string, unknown>;

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PREFIX = '/scim/v2';

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Reply {
  status: number;
  body?: unknown;
  location?: string;
}

const error = (status: number, detail: string, scimType?: string): Reply => ({
  status,
  body: { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail },
});

/** One resource type: records by id, insertion order for paging, and a unique-key index. */
class Store {
  readonly byId = new Map<string, Rec>();
  private order: string[] = [];
  private orderDirty = false;
  readonly byKey = new Map<string, string>();
  private next = 1;

  constructor(
    readonly type: 'User' | 'Group',
    readonly key: 'userName' | 'displayName',
  ) {}

  static norm(v: unknown): string | undefined {
    return typeof v === 'string' ? v.toLowerCase() : undefined;
  }

  newId(): string {
    return `${this.type === 'User' ? 'u' : 'g'}${(this.next++).toString(36)}`;
  }

  ids(): string[] {
    if (this.orderDirty) {
      this.order = this.order.filter((id) => this.byId.has(id));
      this.orderDirty = false;
    }
    return this.order;
  }

  put(id: string, rec: Rec, prev?: Rec): void {
    if (prev) {
      const old = Store.norm(prev[this.key]);
      if (old !== undefined && this.byKey.get(old) === id) this.byKey.delete(old);
    } else {
      this.order.push(id);
    }
    const k = Store.norm(rec[this.key]);
    if (k !== undefined) this.byKey.set(k, id);
    this.byId.set(id, rec);
  }

  delete(id: string): void {
    const prev = this.byId.get(id);
    if (!prev) return;
    const k = Store.norm(prev[this.key]);
    if (k !== undefined && this.byKey.get(k) === id) this.byKey.delete(k);
    this.byId.delete(id);
    this.orderDirty = true;
  }

  /** True when another record already holds this unique key. */
  conflict(value: unknown, self?: string): boolean {
    const k = Store.norm(value);
    if (k === undefined) return false;
    const holder = this.byKey.get(k);
    return holder !== undefined && holder !== self;
  }
}

export interface BenchServerStats {
  counts: Record<string, number>;
  byEndpoint: Record<string, number>;
  users: number;
  groups: number;
  memberships: number;
  samples: Record<string, string>;
  /** Server process CPU (user + system) seconds since the last count reset. */
  cpuSeconds: number;
}

function stamp(store: Store, id: string, data: Rec, base: string, prev?: Rec): Rec {
  const now = new Date().toISOString();
  const prevMeta = prev && isRec(prev.meta) ? prev.meta : undefined;
  return {
    ...data,
    schemas: data.schemas ?? [store.type === 'User' ? USER_SCHEMA : GROUP_SCHEMA],
    id,
    meta: { resourceType: store.type, created: prevMeta?.created ?? now, lastModified: now, location: `${base}/${store.type}s/${id}` },
  };
}

/** `attr eq "value"` joined by `and`: what a sync client sends for lookups. */
function parseEqFilter(filter: string): { attr: string; value: string }[] | undefined {
  const out: { attr: string; value: string }[] = [];
  for (const p of filter.split(/\s+and\s+/i)) {
    const m = /^\s*([\w.:]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(p);
    if (!m) return undefined;
    out.push({ attr: m[1]!, value: m[2]!.replace(/\\(.)/g, '$1') });
  }
  return out;
}

function attrValue(r: Rec, path: string): unknown {
  let cur: unknown = r;
  for (const seg of path.split('.')) {
    if (!isRec(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

function members(g: Rec): Rec[] {
  return Array.isArray(g.members) ? (g.members as unknown[]).filter(isRec) : [];
}

/** Applies a PatchOp to a copy; returns the copy or an error reply. */
function applyPatch(existing: Rec, body: unknown): { rec: Rec } | { err: Reply } {
  const fail = (status: number, detail: string, scimType: string) => ({ err: error(status, detail, scimType) });
  if (!isRec(body) || !Array.isArray(body.Operations)) return fail(400, 'expected PatchOp', 'invalidSyntax');
  const r: Rec = { ...existing };
  for (const k of Object.keys(r)) if (isRec(r[k])) r[k] = { ...(r[k] as Rec) };
  for (const op of body.Operations as unknown[]) {
    if (!isRec(op) || typeof op.op !== 'string') return fail(400, 'bad operation', 'invalidSyntax');
    const kind = op.op.toLowerCase();
    const path = typeof op.path === 'string' ? op.path : undefined;
    if (path === undefined) {
      if (!isRec(op.value) || kind === 'remove') return fail(400, 'no path and no object value', 'noTarget');
      for (const [k, v] of Object.entries(op.value)) patchAttribute(r, 'replace', k, v);
      continue;
    }
    const sel = /^members\[value eq "([^"]*)"\]$/.exec(path);
    if (sel) {
      if (kind !== 'remove') return fail(400, `unsupported op ${kind} on ${path}`, 'invalidPath');
      r.members = members(r).filter((m) => m.value !== sel[1]);
      continue;
    }
    if (path === 'members') {
      const vals = Array.isArray(op.value) ? (op.value as unknown[]).filter(isRec) : [];
      if (kind === 'add') {
        const current = members(r);
        const have = new Set(current.map((m) => m.value));
        r.members = [...current, ...vals.filter((v) => !have.has(v.value))];
      } else if (kind === 'remove') {
        const drop = new Set(vals.map((v) => v.value));
        r.members = vals.length === 0 ? [] : members(r).filter((m) => !drop.has(m.value));
      } else {
        r.members = vals;
      }
      continue;
    }
    if (kind !== 'add' && kind !== 'replace' && kind !== 'remove') return fail(400, `unknown op ${kind}`, 'invalidSyntax');
    patchAttribute(r, kind, path, op.value);
  }
  return { rec: r };
}

export async function startBenchScimServer(port = 0): Promise<{ port: number; close: () => Promise<void> }> {
  const users = new Store('User', 'userName');
  const groups = new Store('Group', 'displayName');
  const counts: Record<string, number> = {};
  const byEndpoint: Record<string, number> = {};
  const samples: Record<string, string> = {};
  let base = '';
  let cpuAtReset = process.cpuUsage();

  function list(store: Store, q: URLSearchParams): Reply {
    let ids = store.ids();
    const filter = q.get('filter');
    if (filter !== null) {
      const eqs = parseEqFilter(filter);
      if (!eqs) return error(400, `unsupported filter: ${filter}`, 'invalidFilter');
      const keyed = eqs.length === 1 && eqs[0]!.attr.toLowerCase() === store.key.toLowerCase();
      if (keyed) {
        const hit = store.byKey.get(eqs[0]!.value.toLowerCase());
        ids = hit !== undefined ? [hit] : [];
      } else {
        ids = ids.filter((id) => {
          const r = store.byId.get(id)!;
          return eqs.every(({ attr, value }) => attrValue(r, attr) === value);
        });
      }
    }
    const startIndex = Math.max(1, Number.parseInt(q.get('startIndex') ?? '1', 10) || 1);
    const countParam = q.get('count');
    const count = countParam === null ? 100 : Math.max(0, Number.parseInt(countParam, 10) || 0);
    const page = ids.slice(startIndex - 1, startIndex - 1 + count).map((id) => store.byId.get(id)!);
    return { status: 200, body: { schemas: [LIST_SCHEMA], totalResults: ids.length, startIndex, itemsPerPage: page.length, Resources: page } };
  }

  function api(method: string, rel: string, q: URLSearchParams, text: string): Reply {
    if (rel === '/ServiceProviderConfig') {
      return {
        status: 200,
        body: {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
          patch: { supported: true },
          bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
          filter: { supported: true, maxResults: 1000 },
          changePassword: { supported: false },
          sort: { supported: false },
          etag: { supported: false },
          authenticationSchemes: [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: 'bearer' }],
        },
      };
    }
    const m = /^\/(Users|Groups)(?:\/([^/]+))?$/.exec(rel);
    if (!m) return error(404, `no endpoint ${rel}`);
    const store = m[1] === 'Users' ? users : groups;
    const id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        return error(400, 'body is not JSON', 'invalidSyntax');
      }
    }

    if (id === undefined) {
      if (method === 'GET') return list(store, q);
      if (method !== 'POST') return error(405, `${method} not allowed on /${m[1]}`);
      if (!isRec(body) || typeof body[store.key] !== 'string') return error(400, `${store.key} required`, 'invalidValue');
      if (store.conflict(body[store.key])) return error(409, `${store.key} already exists`, 'uniqueness');
      const newId = store.newId();
      const rec = stamp(store, newId, body, base);
      store.put(newId, rec);
      return { status: 201, body: rec, location: `${base}/${m[1]}/${newId}` };
    }

    const existing = store.byId.get(id);
    if (!existing) return error(404, `Resource ${id} not found`);
    if (method === 'GET') return { status: 200, body: existing };
    if (method === 'DELETE') {
      store.delete(id);
      if (store === users) for (const g of groups.byId.values()) if (Array.isArray(g.members)) g.members = members(g).filter((mm) => mm.value !== id);
      return { status: 204 };
    }
    if (method === 'PUT') {
      if (!isRec(body)) return error(400, 'expected an object', 'invalidSyntax');
      if (store.conflict(body[store.key], id)) return error(409, `${store.key} already exists`, 'uniqueness');
      const rec = stamp(store, id, body, base, existing);
      store.put(id, rec, existing);
      return { status: 200, body: rec };
    }
    if (method === 'PATCH') {
      const patched = applyPatch(existing, body);
      if ('err' in patched) return patched.err;
      const rec = patched.rec;
      if (store.conflict(rec[store.key], id)) return error(409, `${store.key} already exists`, 'uniqueness');
      const stamped = stamp(store, id, rec, base, existing);
      store.put(id, stamped, existing);
      return { status: 200, body: stamped };
    }
    return error(405, `${method} not allowed`);
  }

  function stats(): BenchServerStats {
    let memberships = 0;
    for (const g of groups.byId.values()) memberships += Array.isArray(g.members) ? g.members.length : 0;
    const cpu = process.cpuUsage(cpuAtReset);
    return { counts, byEndpoint, users: users.byId.size, groups: groups.byId.size, memberships, samples, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  }

  function send(res: ServerResponse, reply: Reply): void {
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
    const headers: Record<string, string | number> = {};
    if (text) {
      headers['content-type'] = 'application/scim+json';
      headers['content-length'] = Buffer.byteLength(text);
    }
    if (reply.location) headers.location = reply.location;
    res.writeHead(reply.status, headers);
    res.end(text);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const qAt = url.indexOf('?');
      const pathname = qAt < 0 ? url : url.slice(0, qAt);
      const q = new URLSearchParams(qAt < 0 ? '' : url.slice(qAt + 1));
      const text = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      if (pathname === '/_bench/stats') return send(res, { status: 200, body: stats() });
      if (pathname === '/_bench/reset-counts') {
        for (const k of Object.keys(counts)) delete counts[k];
        for (const k of Object.keys(byEndpoint)) delete byEndpoint[k];
        cpuAtReset = process.cpuUsage();
        return send(res, { status: 204 });
      }
      counts[method] = (counts[method] ?? 0) + 1;
      const rel = pathname.startsWith(PREFIX) ? pathname.slice(PREFIX.length) : pathname;
      const endpoint = `${method} ${rel.replace(/^(\/(?:Users|Groups))\/.+$/, '$1/{id}')}`;
      byEndpoint[endpoint] = (byEndpoint[endpoint] ?? 0) + 1;
      if (text !== '' && samples[endpoint] === undefined) samples[endpoint] = text;
      let reply: Reply;
      try {
        reply = api(method, rel, q, text);
      } catch (err) {
        reply = error(500, err instanceof Error ? err.message : String(err));
      }
      send(res, reply);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${actual}${PREFIX}`;
  return {
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Run as a process: print the port, serve until killed (SIGTERM) or stdin closes.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port, close } = await startBenchScimServer();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  const stop = () => void close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * Apply one attribute operation in place with the project's own RFC 7644 path handling
 * (sub-attributes, URN-prefixed extension attributes), so this server and the connector's PUT fallback
 * agree on what a path means.
 */
function patchAttribute(r: Rec, op: PatchOperation['op'], path: string, value: unknown): void {
  const next = applyPatchOperations(r, [{ op, path, value }]);
  for (const k of Object.keys(r)) if (!(k in next)) delete r[k];
  Object.assign(r, next);
}
