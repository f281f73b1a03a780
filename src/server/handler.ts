import { LIST_RESPONSE_URN, ENTERPRISE_USER_URN, type ScimJson } from '../scim/schemas.js';
import { etag, etagMatches, type Backend, type ListRequest, type ServedGroup, type ServedUser } from './backend.js';
import { runBulk, type BulkLimits } from './bulk.js';
import { resourceTypes, schemas, serviceProviderConfig } from './discovery.js';
import { asScimError, notFound, ScimHttpError } from './errors.js';
import { parseListParams, queryRecord, searchRecord, type ListParams } from './list-params.js';
import { PatchApplier } from './patch-apply.js';
import { project, wants, type Projection } from './projection.js';
import { groupJson, groupLocation, parseGroupInput, parseUserInput, renderGroup, renderUser, userJson, userLocation } from './resources.js';

/**
 * Routing and the SCIM semantics of each endpoint, independent of HTTP transport: the HTTP layer
 * and /Bulk both call `handle`. Paths are relative to the SCIM base (`/Users/123`).
 */

export interface ScimRequest {
  method: string;
  path: string;
  query: Iterable<[string, unknown]>;
  body: unknown;
  ifMatch?: string;
  ifNoneMatch?: string;
  /** The caller's token may only read. */
  readOnly: boolean;
  /** Absolute URL of the SCIM base, for `location` and `$ref` (no trailing slash). */
  base: string;
}

export interface ScimResponse {
  status: number;
  body?: unknown;
  headers: Record<string, string>;
}

export interface HandlerOptions {
  backend: Backend;
  maxResults: number;
  bulk: BulkLimits;
}

const USER_EXTENSIONS = [ENTERPRISE_USER_URN];
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Kind = 'Users' | 'Groups';

function ok(status: number, body?: unknown, headers: Record<string, string> = {}): ScimResponse {
  return { status, ...(body !== undefined ? { body } : {}), headers };
}

function listResponse(total: number, startIndex: number, resources: unknown[]): ScimJson {
  return { schemas: [LIST_RESPONSE_URN], totalResults: total, itemsPerPage: resources.length, startIndex, Resources: resources };
}

function methodNotAllowed(method: string, allow: string): ScimHttpError {
  return new ScimHttpError(405, `${method} is not supported here; use ${allow}`, undefined, { Allow: allow });
}

export class ScimHandler {
  constructor(private readonly opts: HandlerOptions) {}

  private get backend(): Backend {
    return this.opts.backend;
  }

  /** Answers every request; throws only for failures that are bugs or I/O (the caller makes them a 500). */
  async handle(req: ScimRequest): Promise<ScimResponse> {
    try {
      return await this.route(req);
    } catch (err) {
      const e = asScimError(err);
      if (!e) throw err;
      return ok(e.status, e.body(), e.headers);
    }
  }

  private async route(req: ScimRequest): Promise<ScimResponse> {
    let segments: string[];
    try {
      segments = req.path.split('/').filter((s) => s !== '').map(decodeURIComponent);
    } catch {
      throw notFound(`no such endpoint ${req.path}`);
    }
    const method = req.method.toUpperCase();
    const [first, second, ...rest] = segments;
    const head = first?.toLowerCase();
    const isSearch = second === '.search' || head === '.search';
    if (WRITE_METHODS.has(method) && !isSearch) {
      if (req.readOnly) throw new ScimHttpError(403, 'this token may only read');
      if (!this.backend.writable && head !== 'me') throw new ScimHttpError(501, 'this server serves its directory read-only');
    }
    if (rest.length > 0) throw notFound(`no such endpoint ${req.path}`);
    switch (head) {
      case 'serviceproviderconfig':
        if (method !== 'GET') throw methodNotAllowed(method, 'GET');
        if (second !== undefined) throw notFound(`no such endpoint ${req.path}`);
        return ok(200, serviceProviderConfig(req.base, { writable: this.backend.writable, maxResults: this.opts.maxResults, bulk: this.opts.bulk }));
      case 'resourcetypes':
        if (method !== 'GET') throw methodNotAllowed(method, 'GET');
        return ok(200, resourceTypes(req.base, second));
      case 'schemas':
        if (method !== 'GET') throw methodNotAllowed(method, 'GET');
        return ok(200, schemas(req.base, second));
      case 'me':
        // RFC 7644 §3.11: /Me needs a token mapped to a resource; these tokens belong to clients.
        throw new ScimHttpError(501, '/Me is not supported: tokens identify provisioning clients, not users');
      case 'bulk':
        if (method !== 'POST') throw methodNotAllowed(method, 'POST');
        if (second !== undefined) throw notFound(`no such endpoint ${req.path}`);
        return runBulk(this, req, this.opts.bulk);
      case '.search':
        if (method !== 'POST') throw methodNotAllowed(method, 'POST');
        if (second !== undefined) throw notFound(`no such endpoint ${req.path}`);
        return this.searchAll(req, parseListParams(searchRecord(req.body), this.opts.maxResults, USER_EXTENSIONS));
      case 'users':
      case 'groups':
        return this.resource(head === 'users' ? 'Users' : 'Groups', method, second, req);
      default:
        throw notFound(`no such endpoint ${req.path}`);
    }
  }

  private resource(kind: Kind, method: string, id: string | undefined, req: ScimRequest): Promise<ScimResponse> {
    if (id === '.search') {
      if (method !== 'POST') throw methodNotAllowed(method, 'POST');
      return this.list(kind, req, parseListParams(searchRecord(req.body), this.opts.maxResults, this.extensions(kind)));
    }
    if (id === undefined) {
      if (method === 'GET') return this.list(kind, req, parseListParams(queryRecord(req.query), this.opts.maxResults, this.extensions(kind)));
      if (method === 'POST') return this.create(kind, req);
      throw methodNotAllowed(method, 'GET, POST');
    }
    switch (method) {
      case 'GET':
        return this.get(kind, id, req);
      case 'PUT':
        return this.replace(kind, id, req);
      case 'PATCH':
        return this.patch(kind, id, req);
      case 'DELETE':
        return this.remove(kind, id, req);
      default:
        throw methodNotAllowed(method, 'GET, PUT, PATCH, DELETE');
    }
  }

  private extensions(kind: Kind): string[] {
    return kind === 'Users' ? USER_EXTENSIONS : [];
  }

  private projection(kind: Kind, req: ScimRequest): Projection {
    const q = queryRecord(req.query);
    return parseListParams({ attributes: q.attributes, excludedAttributes: q.excludedAttributes }, 1, this.extensions(kind)).projection;
  }

  private listRequest(p: ListParams, offset: number, limit: number): ListRequest {
    return {
      ...(p.filter ? { filter: p.filter } : {}),
      ...(p.sortBy !== undefined ? { sortBy: p.sortBy } : {}),
      descending: p.descending,
      offset,
      limit,
      members: wants(p.projection, 'members'),
      groups: wants(p.projection, 'groups'),
    };
  }

  private renderOne(kind: Kind, item: ServedUser | ServedGroup, base: string, p: Projection): ScimJson {
    const json = kind === 'Users' ? renderUser(item as ServedUser, base) : renderGroup(item as ServedGroup, base, wants(p, 'members'));
    return project(json, p);
  }

  private async list(kind: Kind, req: ScimRequest, p: ListParams): Promise<ScimResponse> {
    const q = this.listRequest(p, p.startIndex - 1, p.count);
    const page = kind === 'Users' ? await this.backend.listUsers(q) : await this.backend.listGroups(q);
    const resources = (page.items as (ServedUser | ServedGroup)[]).map((item) => this.renderOne(kind, item, req.base, p.projection));
    return ok(200, listResponse(page.total, p.startIndex, resources));
  }

  /**
   * POST /.search at the root: Users then Groups as one result list. A filter naming an attribute
   * only one type has matches nothing of the other type; invalid for both, it is an error.
   */
  private async searchAll(req: ScimRequest, p: ListParams): Promise<ScimResponse> {
    const offset = p.startIndex - 1;
    const attempt = async <T>(fn: () => Promise<{ total: number; items: T[] }>) => {
      try {
        return { page: await fn() };
      } catch (err) {
        if (err instanceof ScimHttpError && err.scimType === 'invalidFilter') return { error: err, page: { total: 0, items: [] as T[] } };
        throw err;
      }
    };
    const users = await attempt(() => this.backend.listUsers(this.listRequest(p, offset, p.count)));
    const usersShown = users.page.items.length;
    const groupOffset = Math.max(0, offset - users.page.total);
    const groups = await attempt(() => this.backend.listGroups(this.listRequest(p, groupOffset, p.count - usersShown)));
    if (users.error && groups.error) throw users.error;
    const resources = [
      ...users.page.items.map((u) => this.renderOne('Users', u, req.base, p.projection)),
      ...groups.page.items.map((g) => this.renderOne('Groups', g, req.base, p.projection)),
    ];
    return ok(200, listResponse(users.page.total + groups.page.total, p.startIndex, resources));
  }

  private async load(kind: Kind, id: string, p: Projection): Promise<ServedUser | ServedGroup> {
    const found = kind === 'Users' ? await this.backend.getUser(id, wants(p, 'groups')) : await this.backend.getGroup(id, wants(p, 'members'));
    if (!found) throw notFound(`no ${kind === 'Users' ? 'user' : 'group'} with id ${id}`);
    return found;
  }

  private answer(kind: Kind, status: number, item: ServedUser | ServedGroup, req: ScimRequest, p: Projection): ScimResponse {
    const id = kind === 'Users' ? (item as ServedUser).user.id : (item as ServedGroup).group.id;
    const location = kind === 'Users' ? userLocation(req.base, id) : groupLocation(req.base, id);
    return ok(status, this.renderOne(kind, item, req.base, p), { ETag: etag(item.meta.version), Location: location });
  }

  private async get(kind: Kind, id: string, req: ScimRequest): Promise<ScimResponse> {
    const p = this.projection(kind, req);
    const item = await this.load(kind, id, p);
    if (req.ifNoneMatch !== undefined && etagMatches(req.ifNoneMatch, item.meta.version)) {
      return ok(304, undefined, { ETag: etag(item.meta.version) });
    }
    return this.answer(kind, 200, item, req, p);
  }

  private async create(kind: Kind, req: ScimRequest): Promise<ScimResponse> {
    const p = this.projection(kind, req);
    let id: string;
    if (kind === 'Users') {
      id = await this.backend.createUser(parseUserInput(req.body));
    } else {
      const { input, members } = parseGroupInput(req.body);
      id = await this.backend.createGroup(input, members ?? []);
    }
    return this.answer(kind, 201, await this.load(kind, id, p), req, p);
  }

  private async replace(kind: Kind, id: string, req: ScimRequest): Promise<ScimResponse> {
    const p = this.projection(kind, req);
    if (kind === 'Users') {
      const input = parseUserInput(req.body);
      await this.backend.updateUser(id, req.ifMatch, () => input);
    } else {
      // PUT replaces the whole group, members included (Okta renames and re-lists members this way).
      const { input, members } = parseGroupInput(req.body);
      await this.backend.updateGroup(id, req.ifMatch, () => ({ input, members: members ?? [] }));
    }
    return this.answer(kind, 200, await this.load(kind, id, p), req, p);
  }

  private async patch(kind: Kind, id: string, req: ScimRequest): Promise<ScimResponse> {
    const p = this.projection(kind, req);
    if (kind === 'Users') {
      await this.backend.updateUser(id, req.ifMatch, (cur) => parseUserInput(new PatchApplier('User', id).apply(userJson(cur), req.body)));
    } else {
      await this.backend.updateGroup(id, req.ifMatch, (cur) => {
        const { input, members } = parseGroupInput(new PatchApplier('Group', id).apply(groupJson(cur, true), req.body));
        return { input, members: members ?? [] };
      });
    }
    return this.answer(kind, 200, await this.load(kind, id, p), req, p);
  }

  private async remove(kind: Kind, id: string, req: ScimRequest): Promise<ScimResponse> {
    if (kind === 'Users') await this.backend.deleteUser(id, req.ifMatch);
    else await this.backend.deleteGroup(id, req.ifMatch);
    return ok(204);
  }
}

