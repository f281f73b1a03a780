/**
 * A real third-party SCIM 2.0 peer for interop tests: scimmy + scimmy-routers (written by someone
 * else, with its own reading of RFC 7644) mounted on express, around a tiny in-memory backend.
 *
 * Why a library server and not our own fake: the connector must tolerate what other people's
 * servers actually do. Deviations are kept on purpose (listed, measured, in test/support/README.md):
 * case-sensitive `userName eq`, no Location header on 201, `itemsPerPage` echoing the request's
 * `count` rather than the number of items returned, and more.
 *
 * SCIMMY keeps its resource declarations and basepaths in module-global state, so the handlers
 * are declared once per process and find "their" backend through the per-request context. Several
 * peers may run in one process; only `meta.location` can be wrong under concurrent requests to
 * different peers (scimmy sets one global basepath per request).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

export type ScimRecord = Record<string, unknown>;

export interface ScimmyPeer {
  /** e.g. http://127.0.0.1:PORT/scim/v2 (no trailing slash). */
  baseUrl: string;
  token: string;
  /** Stored resources by id, as the backend keeps them (tests may read or seed them directly). */
  users: Map<string, ScimRecord>;
  groups: Map<string, ScimRecord>;
  /** Every request that reached the server, in arrival order; path includes the query string. */
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

interface Backend {
  users: Map<string, ScimRecord>;
  groups: Map<string, ScimRecord>;
}

const ENTERPRISE_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

function isRecord(v: unknown): v is ScimRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The context function below always returns a Backend; narrow it without trusting scimmy's `any`. */
function backendOf(ctx: unknown): Backend {
  if (isRecord(ctx) && ctx.users instanceof Map && ctx.groups instanceof Map) {
    return { users: ctx.users as Map<string, ScimRecord>, groups: ctx.groups as Map<string, ScimRecord> };
  }
  throw new SCIMMY.Types.Error(500, null as unknown as string, 'scimmy peer: missing backend context');
}

/** Plain JSON copy: scimmy hands us schema-class instances with getters; store data only. */
function plain(v: unknown): ScimRecord {
  const out: unknown = JSON.parse(JSON.stringify(v));
  if (!isRecord(out)) throw new TypeError('expected an object');
  delete out.schemas;
  return out;
}

function notFound(id: string | undefined): Error {
  // scimmy's d.ts types scimType as string, but null is what it uses itself for "no scimType".
  return new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${id ?? ''} not found`);
}

function conflict(what: string): Error {
  return new SCIMMY.Types.Error(409, 'uniqueness', what);
}

function stamp(existing: ScimRecord | undefined, id: string, data: ScimRecord, type: string): ScimRecord {
  const now = new Date().toISOString();
  const prevMeta = existing && isRecord(existing.meta) ? existing.meta : undefined;
  const created = typeof prevMeta?.created === 'string' ? prevMeta.created : now;
  return { ...data, id, meta: { resourceType: type, created, lastModified: now } };
}

/**
 * Shared egress: one by id, or the whole (filtered) collection. scimmy's ListResponse does the
 * startIndex/count slicing itself when given the full matching set, so we return everything.
 */
function egress(map: Map<string, ScimRecord>, resource: { id?: string; filter?: { match(values: unknown[]): unknown[] } }): ScimRecord | ScimRecord[] {
  if (resource.id !== undefined) {
    const found = map.get(resource.id);
    if (!found) throw notFound(resource.id);
    return structuredClone(found);
  }
  const all = [...map.values()].map((r) => structuredClone(r));
  const matched = resource.filter ? resource.filter.match(all) : all;
  return matched.filter(isRecord);
}

let declared = false;

/** Declare User (with the enterprise extension) and Group once per process; see header comment. */
function declareResources(): void {
  if (declared) return;
  declared = true;

  SCIMMY.Resources.declare(SCIMMY.Resources.User, {});
  SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);
  SCIMMY.Resources.declare(SCIMMY.Resources.Group, {});

  SCIMMY.Resources.User.ingress((resource, instance, ctx: unknown) => {
    const { users } = backendOf(ctx);
    const data = plain(instance);
    const userName = data.userName;
    for (const [id, u] of users) {
      // Uniqueness check is exact-case, like scimmy's own filter matching.
      if (id !== resource.id && u.userName === userName) throw conflict(`userName ${String(userName)} already exists`);
    }
    if (resource.id !== undefined) {
      const existing = users.get(resource.id);
      if (!existing) throw notFound(resource.id);
      const next = stamp(existing, resource.id, data, 'User');
      users.set(resource.id, next);
      return structuredClone(next) as never;
    }
    const id = randomUUID();
    const next = stamp(undefined, id, data, 'User');
    users.set(id, next);
    return structuredClone(next) as never;
  });
  SCIMMY.Resources.User.egress((resource, ctx: unknown) => egress(backendOf(ctx).users, resource) as never);
  SCIMMY.Resources.User.degress((resource, ctx: unknown) => {
    const { users, groups } = backendOf(ctx);
    if (resource.id === undefined || !users.delete(resource.id)) throw notFound(resource.id);
    // Behave like a directory with referential integrity: a deleted user leaves its groups.
    for (const g of groups.values()) {
      if (Array.isArray(g.members)) g.members = g.members.filter((m: unknown) => !(isRecord(m) && m.value === resource.id));
    }
  });

  SCIMMY.Resources.Group.ingress((resource, instance, ctx: unknown) => {
    const { groups } = backendOf(ctx);
    const data = plain(instance);
    for (const [id, g] of groups) {
      if (id !== resource.id && g.displayName === data.displayName) throw conflict(`displayName ${String(data.displayName)} already exists`);
    }
    if (resource.id !== undefined) {
      const existing = groups.get(resource.id);
      if (!existing) throw notFound(resource.id);
      const next = stamp(existing, resource.id, data, 'Group');
      groups.set(resource.id, next);
      return structuredClone(next) as never;
    }
    const id = randomUUID();
    const next = stamp(undefined, id, data, 'Group');
    groups.set(id, next);
    return structuredClone(next) as never;
  });
  SCIMMY.Resources.Group.egress((resource, ctx: unknown) => egress(backendOf(ctx).groups, resource) as never);
  SCIMMY.Resources.Group.degress((resource, ctx: unknown) => {
    const { groups } = backendOf(ctx);
    if (resource.id === undefined || !groups.delete(resource.id)) throw notFound(resource.id);
    for (const g of groups.values()) {
      if (Array.isArray(g.members)) g.members = g.members.filter((m: unknown) => !(isRecord(m) && m.value === resource.id));
    }
  });
}

export { ENTERPRISE_URN };

export async function startScimmyPeer(opts?: { token?: string }): Promise<ScimmyPeer> {
  declareResources();
  const token = opts?.token ?? `peer-${randomUUID()}`;
  const backend: Backend = { users: new Map(), groups: new Map() };
  const requests: { method: string; path: string }[] = [];
  let baseUrl = '';

  const app = express();
  app.use((req: Request, _res: Response, next: NextFunction) => {
    requests.push({ method: req.method, path: req.originalUrl });
    // Express 5 re-parses req.query on every access, so scimmy-routers' in-place cast of
    // startIndex/count to numbers is lost and scimmy then ignores both (always page 1, 20 items).
    // That is a harness/version mismatch, not scimmy's behaviour: pin query to a plain object.
    Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, configurable: true, enumerable: true });
    next();
  });

  const router = new SCIMMYRouters({
    type: 'bearer',
    docUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
    handler: (req: Request) => {
      if (req.header('authorization') !== `Bearer ${token}`) throw new Error('Authorization failed');
      return 'peer-admin';
    },
    context: () => backend,
    baseUri: () => baseUrl.replace(/\/scim\/v2$/, ''),
  });
  app.use('/scim/v2', router);
  // scimmy-routers forwards 5xx errors after answering; swallow them here so express's default
  // handler does not print stack traces or touch an already-sent response.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (!res.headersSent) res.status(500).json({ status: '500', detail: err instanceof Error ? err.message : String(err) });
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}/scim/v2`;

  return {
    baseUrl,
    token,
    users: backend.users,
    groups: backend.groups,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets from the client pool would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}
