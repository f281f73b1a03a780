import type { ServerResponse } from 'node:http';
import { parseFilter } from '../../../src/scim/filter.js';
import { applyPatchOperations } from '../../../src/scim/patch.js';
import type { PatchOperation } from '../../../src/scim/patch.js';
import { sendJson } from './http-server.js';
import type { Handler, SeenRequest } from './http-server.js';

/**
 * A minimal in-memory SCIM server for the writer's tests: enough of RFC 7644 for the connector's
 * own requests (paging, `attr eq "…"` filters, PatchOp forms it sends, PUT), strict where the
 * connector must behave (uniqueness, unknown members, 404s). The interoperability peer (scimmy) is
 * elsewhere; this one is small enough to assert on exact requests.
 */

type Json = Record<string, unknown>;

export interface FakeScim {
  handler: Handler;
  users: Map<string, Json>;
  groups: Map<string, Json>;
  patchSupported: boolean;
}

const error = (res: ServerResponse, status: number, detail: string, scimType?: string) =>
  sendJson(res, status, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), ...(scimType ? { scimType } : {}), detail });

export function fakeScim(seed: { users?: Json[]; groups?: Json[] } = {}): FakeScim {
  let next = 1;
  const users = new Map<string, Json>((seed.users ?? []).map((u) => [String(u.id), u]));
  const groups = new Map<string, Json>((seed.groups ?? []).map((g) => [String(g.id), g]));
  const state: FakeScim = { users, groups, patchSupported: true, handler: () => {} };

  const exists = (m: Json) => (m.type === 'Group' ? groups : users).has(String(m.value));

  function setMembers(res: ServerResponse, group: Json, members: Json[]): boolean {
    const ghost = members.find((m) => !exists(m));
    if (ghost) {
      error(res, 400, `member ${String(ghost.value)} does not exist`, 'invalidValue');
      return false;
    }
    const seen = new Set<string>();
    group.members = members.filter((m) => !seen.has(String(m.value)) && (seen.add(String(m.value)), true)).map((m) => ({ value: m.value, type: m.type }));
    return true;
  }

  state.handler = (req: SeenRequest, res: ServerResponse) => {
    const url = new URL(req.url, 'http://x');
    const [endpoint = '', id] = url.pathname.replace(/^\/scim\/v2\//, '').split('/').map(decodeURIComponent);
    if (endpoint === 'ServiceProviderConfig') {
      return sendJson(res, 200, { patch: { supported: state.patchSupported }, bulk: { supported: false }, filter: { supported: true, maxResults: 200 }, etag: { supported: false } });
    }
    const store = endpoint === 'Users' ? users : endpoint === 'Groups' ? groups : undefined;
    if (!store) return error(res, 404, `no endpoint ${url.pathname}`);
    const body = (req.body ?? {}) as Json;
    if (id === undefined) {
      if (req.method === 'GET') {
        let list = [...store.values()];
        const filter = url.searchParams.get('filter');
        if (filter) {
          const node = parseFilter(filter);
          if (node.type !== 'compare' || node.op !== 'eq') return error(res, 400, 'unsupported filter', 'invalidFilter');
          list = list.filter((r) => String(r[node.path.name]).toLowerCase() === String(node.value).toLowerCase());
        }
        const start = Number(url.searchParams.get('startIndex') ?? 1);
        const count = Number(url.searchParams.get('count') ?? 100);
        let page = list.slice(start - 1, start - 1 + count);
        if (url.searchParams.get('excludedAttributes') === 'members') page = page.map(({ members: _m, ...rest }) => rest);
        return sendJson(res, 200, { totalResults: list.length, itemsPerPage: page.length, startIndex: start, Resources: page });
      }
      if (req.method === 'POST') {
        if (endpoint === 'Users' && [...users.values()].some((u) => String(u.userName).toLowerCase() === String(body.userName).toLowerCase())) {
          return error(res, 409, `userName ${String(body.userName)} is taken`, 'uniqueness');
        }
        const created: Json = { ...body, id: `${endpoint === 'Users' ? 'u' : 'g'}${next++}`, meta: { resourceType: endpoint.slice(0, -1) } };
        if (endpoint === 'Groups') created.members = [];
        if (endpoint === 'Groups' && Array.isArray(body.members) && !setMembers(res, created, body.members as Json[])) return;
        store.set(String(created.id), created);
        return sendJson(res, 201, created);
      }
      return error(res, 405, 'method not allowed');
    }
    const current = store.get(id);
    if (!current) return error(res, 404, `resource ${id} not found`);
    switch (req.method) {
      case 'GET':
        if (url.searchParams.get('attributes') === 'members') return sendJson(res, 200, { id, members: current.members ?? [] });
        return sendJson(res, 200, current);
      case 'DELETE':
        store.delete(id);
        if (endpoint === 'Users') for (const g of groups.values()) g.members = (g.members as Json[]).filter((m) => m.value !== id);
        res.writeHead(204).end();
        return;
      case 'PUT': {
        const replaced: Json = { ...body, id, meta: current.meta };
        if (endpoint === 'Groups' && !setMembers(res, replaced, (body.members as Json[] | undefined) ?? [])) return;
        store.set(id, replaced);
        return sendJson(res, 200, replaced);
      }
      case 'PATCH': {
        if (!state.patchSupported) return error(res, 501, 'PATCH not supported');
        let updated: Json = structuredClone(current);
        for (const op of (body.Operations ?? []) as PatchOperation[]) {
          const memberFilter = op.path?.match(/^members\[value eq "(.*)"\]$/);
          if (op.path === 'members' && op.op === 'add') {
            if (!setMembers(res, updated, [...(updated.members as Json[]), ...(op.value as Json[])])) return;
          } else if (op.path === 'members' && op.op === 'remove') {
            const gone = new Set((op.value as Json[]).map((m) => String(m.value)));
            updated.members = (updated.members as Json[]).filter((m) => !gone.has(String(m.value)));
          } else if (memberFilter) {
            updated.members = (updated.members as Json[]).filter((m) => m.value !== memberFilter[1]);
          } else {
            updated = applyPatchOperations(updated, [op]);
          }
        }
        store.set(id, updated);
        return sendJson(res, 200, updated);
      }
    }
    return error(res, 405, 'method not allowed');
  };
  return state;
}
