/**
 * A programmable SCIM-ish server on node:http for the faults a real server cannot be made to
 * produce on demand: 429/503 storms with Retry-After, sockets destroyed mid-body, responses slower
 * than the client's timeout, and list responses that lie about paging.
 *
 * It serves a deliberately small SCIM 2.0 Users/Groups API (enough for the connector to sync
 * against) and consults, for every request, a queue of injected faults before answering.
 * Everything is bounded: faults are consumed (times >= 1), delays are capped, and close() cancels
 * pending timers and destroys open sockets, so a test can never hang on it.
 */
import { applyPatchOperations, type PatchOperation } from '../../src/scim/patch.js';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ScimRecord = Record<string, unknown>;

/** What to do to one request instead of (or before) answering it normally. */
export type Fault =
  /** Answer with this status and a SCIM error body; retryAfter as seconds, a Date (sent as HTTP-date) or a raw header value. */
  | { kind: 'status'; status: number; retryAfter?: number | Date | string; detail?: string }
  /**
   * Send the status line, headers (with the full Content-Length) and the first half of the real
   * JSON body, then destroy the socket. With `apply` (the default) the request's effect happens
   * first, like a server that did the work but lost the answer: a client cannot tell from the error.
   */
  | { kind: 'reset-mid-body'; apply?: boolean }
  /** Destroy the socket before anything is written and before the request has any effect. */
  | { kind: 'reset-before-response' }
  /** Wait ms (capped at MAX_DELAY_MS) then answer normally, unless the client went away first. */
  | { kind: 'delay'; ms: number };

export interface FaultMatch {
  /** Upper-case HTTP method; any if absent. */
  method?: string;
  /** Matched against the path without query, relative to /scim/v2 (e.g. "/Users"); substring for strings. */
  path?: string | RegExp;
}

export interface ScriptedFault extends FaultMatch {
  fault: Fault;
  /** How many matching requests get this fault (default 1). */
  times?: number;
}

/**
 * Lies told by every list response (GET /Users, GET /Groups) while set. Totals and pages are
 * computed honestly first, then distorted as asked.
 */
export interface ListLies {
  /** Report this totalResults instead of the real one, or leave the field out. */
  totalResults?: number | 'omit';
  /** Ignore `count`: return every item from startIndex to the end. */
  ignoreCount?: boolean;
  /** Return at most this many items per page although more remain and more were asked for. */
  pageCap?: number;
  /** When a request asks for startIndex === whenStartIndex, answer the page at serveStartIndex instead (the response still claims the requested startIndex). */
  repeatPage?: { whenStartIndex: number; serveStartIndex: number };
  /** Echo this itemsPerPage whatever was actually returned. */
  itemsPerPage?: number;
}

/** Return true when the request has been fully answered and the built-in API must not run. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse, server: FaultServer) => boolean | Promise<boolean>;

export interface FaultServerOptions {
  /** Required bearer token; no auth check when absent. */
  token?: string;
  /** Faults to apply in order of declaration (first matching entry with times left wins). */
  script?: ScriptedFault[];
  listLies?: ListLies;
  /** Runs before the built-in API for every request (after recording and faults). */
  handler?: RawHandler;
  /** Default page size when `count` is absent (RFC leaves it to the server). */
  defaultCount?: number;
  /** Serve HTTPS with this key and certificate (PEM) instead of HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Version resources: ServiceProviderConfig says `etag.supported`, GET answers with an `ETag`
   * header and `meta.version`, and a PUT/PATCH whose `If-Match` names another version gets 412.
   */
  etag?: boolean;
  /** ServiceProviderConfig's `filter.supported` (default true). */
  filterSupported?: boolean;
  /** Accept `meta.lastModified gt|ge "time"` filters (default true); false answers them 400 invalidFilter. */
  lastModifiedFilter?: boolean;
}

export interface FaultServer {
  baseUrl: string;
  users: Map<string, ScimRecord>;
  groups: Map<string, ScimRecord>;
  requests: { method: string; path: string }[];
  /** Requests received by HTTP method (GET, POST, ...), faulted or not. */
  counts: Record<string, number>;
  /** Faults actually applied, in order, for assertions. */
  applied: { method: string; path: string; fault: Fault }[];
  /** Queue a fault for the next `times` (default 1) requests matching `match`. */
  inject(fault: Fault, opts?: FaultMatch & { times?: number }): void;
  /** Replace (or clear with undefined) the current list lies. */
  setListLies(lies: ListLies | undefined): void;
  /** Add users directly (no request recorded); returns their ids. */
  seedUsers(n: number, make?: (i: number) => ScimRecord): string[];
  close(): Promise<void>;
}

export const MAX_DELAY_MS = 30_000;
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function isRecord(v: unknown): v is ScimRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

function scimError(status: number, detail: string, scimType?: string): Reply {
  return { status, body: { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail } };
}

function matches(m: FaultMatch, method: string, path: string): boolean {
  if (m.method !== undefined && m.method.toUpperCase() !== method) return false;
  if (m.path === undefined) return true;
  return typeof m.path === 'string' ? path.includes(m.path) : m.path.test(path);
}

/** Only `attr eq "value"` (and `and` of those) — what a sync client uses for adoption lookups. */
function parseEqFilter(filter: string): { attr: string; value: string }[] | undefined {
  const parts = filter.split(/\s+and\s+/i);
  const out: { attr: string; value: string }[] = [];
  for (const p of parts) {
    const m = /^\s*([\w.:]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(p);
    if (!m || m[1] === undefined || m[2] === undefined) return undefined;
    out.push({ attr: m[1], value: m[2].replace(/\\(.)/g, '$1') });
  }
  return out;
}

function attrValue(r: ScimRecord, path: string): unknown {
  let cur: unknown = r;
  for (const seg of path.split('.')) {
    if (!isRecord(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

function memberList(g: ScimRecord): ScimRecord[] {
  return Array.isArray(g.members) ? g.members.filter(isRecord) : [];
}

export async function startFaultServer(opts: FaultServerOptions | RawHandler = {}): Promise<FaultServer> {
  const o: FaultServerOptions = typeof opts === 'function' ? { handler: opts } : opts;
  const users = new Map<string, ScimRecord>();
  const groups = new Map<string, ScimRecord>();
  const requests: { method: string; path: string }[] = [];
  const counts: Record<string, number> = {};
  const applied: { method: string; path: string; fault: Fault }[] = [];
  const queue: (ScriptedFault & { left: number })[] = (o.script ?? []).map((s) => ({ ...s, left: s.times ?? 1 }));
  let lies: ListLies | undefined = o.listLies;
  // Pending delays, so close() can cancel the timer and still settle the waiting handler.
  const timers = new Map<NodeJS.Timeout, () => void>();
  const sockets = new Set<Socket>();
  const defaultCount = o.defaultCount ?? 100;
  let closed = false;

  function takeFault(method: string, path: string): Fault | undefined {
    const entry = queue.find((e) => e.left > 0 && matches(e, method, path));
    if (!entry) return undefined;
    entry.left -= 1;
    return entry.fault;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, Math.min(Math.max(ms, 0), MAX_DELAY_MS));
      timers.set(t, resolve);
    });
  }

  function list(map: Map<string, ScimRecord>, q: URLSearchParams): Reply {
    let items = [...map.values()];
    const filter = q.get('filter');
    const after = /^\s*meta\.lastModified\s+(gt|ge)\s+"([^"]+)"\s*$/i.exec(filter ?? '');
    if (filter !== null && after) {
      if (o.lastModifiedFilter === false) return scimError(400, `unsupported filter: ${filter}`, 'invalidFilter');
      const since = Date.parse(after[2]!);
      if (Number.isNaN(since)) return scimError(400, `not a time: ${after[2]}`, 'invalidValue');
      const strict = after[1]!.toLowerCase() === 'gt';
      items = items.filter((r) => {
        const t = Date.parse(String(attrValue(r, 'meta.lastModified')));
        return strict ? t > since : t >= since;
      });
    } else if (filter !== null) {
      const eqs = parseEqFilter(filter);
      if (!eqs) return scimError(400, `unsupported filter: ${filter}`, 'invalidFilter');
      items = items.filter((r) =>
        eqs.every(({ attr, value }) => {
          const v = attrValue(r, attr);
          // RFC 7643: userName is caseExact=false; everything else here compares exactly.
          return attr.toLowerCase() === 'username' ? typeof v === 'string' && v.toLowerCase() === value.toLowerCase() : v === value;
        }),
      );
    }
    const total = items.length;
    const startIndex = Math.max(1, Number.parseInt(q.get('startIndex') ?? '1', 10) || 1);
    const countParam = q.get('count');
    const count = countParam === null ? defaultCount : Math.max(0, Number.parseInt(countParam, 10) || 0);
    const servedStart = lies?.repeatPage && lies.repeatPage.whenStartIndex === startIndex ? lies.repeatPage.serveStartIndex : startIndex;
    let take = lies?.ignoreCount ? Number.MAX_SAFE_INTEGER : count;
    if (lies?.pageCap !== undefined) take = Math.min(take, lies.pageCap);
    let page = items.slice(servedStart - 1, servedStart - 1 + take);
    const excluded = (q.get('excludedAttributes') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (excluded.length > 0) {
      page = page.map((r) => {
        const copy = { ...r };
        for (const e of excluded) delete copy[e];
        return copy;
      });
    }
    const body: ScimRecord = {
      schemas: [LIST_SCHEMA],
      totalResults: lies?.totalResults !== undefined ? lies.totalResults : total,
      startIndex,
      itemsPerPage: lies?.itemsPerPage ?? page.length,
      Resources: page,
    };
    if (body.totalResults === 'omit') delete body.totalResults;
    return { status: 200, body };
  }

  function conflictOn(map: Map<string, ScimRecord>, key: string, value: unknown, self?: string): boolean {
    for (const [id, r] of map) {
      const v = r[key];
      const same = typeof v === 'string' && typeof value === 'string' ? v.toLowerCase() === value.toLowerCase() : v === value;
      if (id !== self && same) return true;
    }
    return false;
  }

  let versions = 0;
  function stamp(type: 'User' | 'Group', id: string, data: ScimRecord, prev?: ScimRecord): ScimRecord {
    const now = new Date().toISOString();
    const prevMeta = prev && isRecord(prev.meta) ? prev.meta : undefined;
    return {
      ...data,
      schemas: [type === 'User' ? USER_SCHEMA : GROUP_SCHEMA],
      id,
      meta: {
        resourceType: type,
        created: prevMeta?.created ?? now,
        lastModified: now,
        location: `${baseUrl}/${type}s/${id}`,
        ...(o.etag ? { version: `W/"${++versions}"` } : {}),
      },
    };
  }

  /** 412 when versioning is on and the request's If-Match names another version than the stored one. */
  function preconditionFailed(req: IncomingMessage, existing: ScimRecord): Reply | undefined {
    const ifMatch = req.headers['if-match'];
    if (!o.etag || ifMatch === undefined || ifMatch === '*') return undefined;
    const current = isRecord(existing.meta) ? existing.meta.version : undefined;
    return ifMatch === current ? undefined : scimError(412, `version ${ifMatch} is not the current ${String(current)}`);
  }

  /** PATCH: replace/add/remove on top-level attributes, plus members add and members[value eq "x"] remove. */
  function applyPatch(r: ScimRecord, body: unknown): Reply | undefined {
    if (!isRecord(body) || !Array.isArray(body.Operations)) return scimError(400, 'expected PatchOp', 'invalidSyntax');
    for (const op of body.Operations) {
      if (!isRecord(op) || typeof op.op !== 'string') return scimError(400, 'bad operation', 'invalidSyntax');
      const kind = op.op.toLowerCase();
      const path = typeof op.path === 'string' ? op.path : undefined;
      if (path === undefined) {
        if (!isRecord(op.value) || kind === 'remove') return scimError(400, 'no path and no object value', 'noTarget');
        Object.assign(r, op.value);
        continue;
      }
      const sel = /^members\[value eq "([^"]*)"\]$/.exec(path);
      if (sel) {
        if (kind !== 'remove') return scimError(400, `unsupported op ${kind} on ${path}`, 'invalidPath');
        r.members = memberList(r).filter((m) => m.value !== sel[1]);
        continue;
      }
      if (path === 'members') {
        const vals = Array.isArray(op.value) ? op.value.filter(isRecord) : [];
        if (kind === 'add') {
          const have = new Set(memberList(r).map((m) => m.value));
          r.members = [...memberList(r), ...vals.filter((v) => !have.has(v.value))];
        } else if (kind === 'remove') {
          const drop = new Set(vals.map((v) => v.value));
          r.members = vals.length === 0 ? [] : memberList(r).filter((m) => !drop.has(m.value));
        } else {
          r.members = vals;
        }
        continue;
      }
      if (kind !== 'add' && kind !== 'replace' && kind !== 'remove') return scimError(400, `unknown op ${kind}`, 'invalidSyntax');
      patchAttribute(r, kind, path, op.value);
    }
    return undefined;
  }


  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      const b = c as Buffer;
      size += b.length;
      if (size > MAX_BODY_BYTES) throw new Error('body too large');
      chunks.push(b);
    }
    if (size === 0) return undefined;
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  }

  /** The built-in API; mutates the maps. `rel` is the path relative to /scim/v2. */
  async function api(method: string, rel: string, q: URLSearchParams, req: IncomingMessage): Promise<Reply> {
    if (rel === '/ServiceProviderConfig' && method === 'GET') {
      return {
        status: 200,
        body: {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
          patch: { supported: true },
          bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
          filter: { supported: o.filterSupported !== false, maxResults: 1000 },
          changePassword: { supported: false },
          sort: { supported: false },
          etag: { supported: o.etag === true },
          authenticationSchemes: [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: 'bearer' }],
        },
      };
    }
    const m = /^\/(Users|Groups)(?:\/([^/]+))?$/.exec(rel);
    if (!m) return scimError(404, `no endpoint ${rel}`);
    const type = m[1] === 'Users' ? 'User' : 'Group';
    const map = type === 'User' ? users : groups;
    const id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const uniqueKey = type === 'User' ? 'userName' : 'displayName';

    if (id === undefined) {
      if (method === 'GET') return list(map, q);
      if (method !== 'POST') return scimError(405, `${method} not allowed on /${m[1]}`);
      const body = await readBody(req);
      if (!isRecord(body) || typeof body[uniqueKey] !== 'string') return scimError(400, `${uniqueKey} required`, 'invalidValue');
      if (conflictOn(map, uniqueKey, body[uniqueKey])) return scimError(409, `${uniqueKey} already exists`, 'uniqueness');
      const newId = randomUUID();
      const rec = stamp(type, newId, body);
      map.set(newId, rec);
      return { status: 201, body: rec, headers: { location: `${baseUrl}/${m[1]}/${newId}` } };
    }

    const existing = map.get(id);
    if (!existing) return scimError(404, `Resource ${id} not found`);
    if (method === 'GET') {
      const version = isRecord(existing.meta) ? existing.meta.version : undefined;
      return { status: 200, body: existing, ...(typeof version === 'string' ? { headers: { etag: version } } : {}) };
    }
    if (method === 'DELETE') {
      map.delete(id);
      for (const g of groups.values()) g.members = memberList(g).filter((mm) => mm.value !== id);
      return { status: 204 };
    }
    if (method === 'PUT') {
      const body = await readBody(req);
      const stale = preconditionFailed(req, existing);
      if (stale) return stale;
      if (!isRecord(body)) return scimError(400, 'expected an object', 'invalidSyntax');
      if (conflictOn(map, uniqueKey, body[uniqueKey], id)) return scimError(409, `${uniqueKey} already exists`, 'uniqueness');
      const rec = stamp(type, id, body, existing);
      map.set(id, rec);
      return { status: 200, body: rec };
    }
    if (method === 'PATCH') {
      const body = await readBody(req);
      const stale = preconditionFailed(req, existing);
      if (stale) return stale;
      if (isRecord(body) && Array.isArray(body.schemas) && !body.schemas.includes(PATCH_SCHEMA)) return scimError(400, 'wrong schema', 'invalidSyntax');
      const draft = structuredClone(existing);
      const err = applyPatch(draft, body);
      if (err) return err;
      const rec = stamp(type, id, draft, existing);
      map.set(id, rec);
      return { status: 200, body: rec };
    }
    return scimError(405, `${method} not allowed`);
  }

  function send(res: ServerResponse, reply: Reply): void {
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...(text ? { 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(text) } : {}),
      ...reply.headers,
    });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method, path: `${url.pathname}${url.search}` });
    counts[method] = (counts[method] ?? 0) + 1;
    const rel = url.pathname.startsWith('/scim/v2') ? url.pathname.slice('/scim/v2'.length) : url.pathname;

    const fault = takeFault(method, rel);
    if (fault) applied.push({ method, path: rel, fault });
    if (fault?.kind === 'reset-before-response') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      // Drain the request body so the connection stays usable for keep-alive clients.
      req.resume();
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) {
        headers['retry-after'] = fault.retryAfter instanceof Date ? fault.retryAfter.toUTCString() : String(fault.retryAfter);
      }
      send(res, { ...scimError(fault.status, fault.detail ?? `injected ${fault.status}`), headers });
      return;
    }
    if (fault?.kind === 'delay') {
      await sleep(fault.ms);
      if (closed || req.socket.destroyed) return;
    }

    if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`) {
      req.resume();
      send(res, scimError(401, 'Authorization failed'));
      return;
    }
    if (o.handler && (await o.handler(req, res, self))) return;

    if (fault?.kind === 'reset-mid-body') {
      const reply = fault.apply === false ? { status: 200, body: { schemas: [LIST_SCHEMA], detail: 'x'.repeat(64) } } : await api(method, rel, url.searchParams, req);
      const text = JSON.stringify(reply.body ?? { detail: 'empty' });
      res.writeHead(reply.status, { 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(text), ...reply.headers });
      // Half the body, then a hard close once it is on the wire: the client sees a truncated
      // response (Content-Length promised more), not a clean end.
      res.write(text.slice(0, Math.floor(text.length / 2)), () => req.socket.destroy());
      return;
    }

    send(res, await api(method, rel, url.searchParams, req));
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, scimError(500, err instanceof Error ? err.message : String(err)));
      else res.destroy();
    });
  };
  const server: Server = o.tls ? createHttpsServer({ key: o.tls.key, cert: o.tls.cert }, onRequest) : createServer(onRequest);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}/scim/v2`;

  const self: FaultServer = {
    baseUrl,
    users,
    groups,
    requests,
    counts,
    applied,
    inject(fault, m = {}) {
      queue.push({ fault, method: m.method, path: m.path, times: m.times, left: m.times ?? 1 });
    },
    setListLies(l) {
      lies = l;
    },
    seedUsers(n, make) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const id = randomUUID();
        users.set(id, stamp('User', id, make ? make(i) : { userName: `user${String(i).padStart(6, '0')}`, active: true }));
        ids.push(id);
      }
      return ids;
    },
    close() {
      closed = true;
      for (const [t, resolve] of timers) {
        clearTimeout(t);
        resolve();
      }
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const s of sockets) s.destroy();
      });
    },
  };
  return self;
}

/**
 * Apply one attribute operation in place with the project's own RFC 7644 path handling
 * (sub-attributes, URN-prefixed extension attributes), so the test server and the PUT fallback
 * agree on what a path means.
 */
function patchAttribute(r: ScimRecord, op: PatchOperation['op'], path: string, value: unknown): void {
  const next = applyPatchOperations(r, [{ op, path, value }]);
  for (const k of Object.keys(r)) if (!(k in next)) delete r[k];
  Object.assign(r, next);
}
