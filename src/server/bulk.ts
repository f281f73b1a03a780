import { badRequest, ScimHttpError } from './errors.js';
import type { ScimHandler, ScimRequest, ScimResponse } from './handler.js';
import { isObject } from './resources.js';

/**
 * POST /Bulk (RFC 7644 §3.7). Operations run in order through the same handler as single
 * requests; one whose data or path refers to a `bulkId:` not created yet waits until it is, so
 * clients may list operations in any order. A reference that can never be resolved (unknown, or
 * circular) fails that operation with 409. Operations already done are not rolled back when a
 * later one fails: each is a request of its own, as the RFC describes.
 */

export const BULK_REQUEST_URN = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const BULK_RESPONSE_URN = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

export interface BulkLimits {
  maxOperations: number;
  maxPayloadSize: number;
}

interface BulkOp {
  index: number;
  method: string;
  path: string;
  bulkId?: string;
  version?: string;
  data: unknown;
}

const BULK_REF = /^bulkId:(.+)$/;

function refsIn(value: unknown, out: Set<string>): Set<string> {
  if (typeof value === 'string') {
    const m = BULK_REF.exec(value);
    if (m) out.add(m[1]!);
    for (const seg of value.split('/')) {
      const s = BULK_REF.exec(seg);
      if (s) out.add(s[1]!);
    }
  } else if (Array.isArray(value)) value.forEach((v) => refsIn(v, out));
  else if (isObject(value)) Object.values(value).forEach((v) => refsIn(v, out));
  return out;
}

function substitute(value: unknown, ids: Map<string, string>): unknown {
  if (typeof value === 'string') {
    const m = BULK_REF.exec(value);
    if (m && ids.has(m[1]!)) return ids.get(m[1]!);
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, ids));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, ids)]));
  return value;
}

function substitutePath(path: string, ids: Map<string, string>): string {
  return path
    .split('/')
    .map((seg) => {
      const m = BULK_REF.exec(seg);
      return m && ids.has(m[1]!) ? encodeURIComponent(ids.get(m[1]!)!) : seg;
    })
    .join('/');
}

function parseOps(body: unknown, limits: BulkLimits): { ops: BulkOp[]; failOnErrors?: number } {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'a bulk body must be a JSON object');
  const schemas = body.schemas;
  if (schemas !== undefined && !(Array.isArray(schemas) && schemas.includes(BULK_REQUEST_URN))) {
    throw badRequest('invalidSyntax', `a bulk body's "schemas" must contain ${BULK_REQUEST_URN}`);
  }
  const list = body.Operations;
  if (!Array.isArray(list) || list.length === 0) throw badRequest('invalidSyntax', 'a bulk body needs a non-empty "Operations" list');
  if (list.length > limits.maxOperations) {
    throw new ScimHttpError(413, `the bulk request has ${list.length} operations; the maximum is ${limits.maxOperations}`);
  }
  const failOnErrors = body.failOnErrors;
  if (failOnErrors !== undefined && !(Number.isInteger(failOnErrors) && (failOnErrors as number) >= 1)) {
    throw badRequest('invalidValue', 'failOnErrors must be a positive integer');
  }
  const seen = new Set<string>();
  const ops = list.map((raw, index): BulkOp => {
    if (!isObject(raw)) throw badRequest('invalidSyntax', `Operations[${index}] must be an object`);
    const method = typeof raw.method === 'string' ? raw.method.toUpperCase() : '';
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) throw badRequest('invalidValue', `Operations[${index}].method must be POST, PUT, PATCH or DELETE`);
    if (typeof raw.path !== 'string' || !raw.path.startsWith('/')) throw badRequest('invalidValue', `Operations[${index}].path must be a path such as /Users`);
    if (/^\/bulk\b/i.test(raw.path)) throw badRequest('invalidValue', `Operations[${index}]: a bulk operation cannot call /Bulk`);
    const bulkId = typeof raw.bulkId === 'string' && raw.bulkId !== '' ? raw.bulkId : undefined;
    if (method === 'POST' && bulkId === undefined) throw badRequest('invalidValue', `Operations[${index}]: a POST needs a bulkId`);
    if (bulkId !== undefined) {
      if (seen.has(bulkId)) throw badRequest('invalidValue', `Operations[${index}]: bulkId ${bulkId} is used twice`);
      seen.add(bulkId);
    }
    return {
      index,
      method,
      path: raw.path,
      data: raw.data,
      ...(bulkId !== undefined ? { bulkId } : {}),
      ...(typeof raw.version === 'string' ? { version: raw.version } : {}),
    };
  });
  return { ops, ...(typeof failOnErrors === 'number' ? { failOnErrors } : {}) };
}

export async function runBulk(handler: ScimHandler, req: ScimRequest, limits: BulkLimits): Promise<ScimResponse> {
  const { ops, failOnErrors } = parseOps(req.body, limits);
  const ids = new Map<string, string>();
  const failedIds = new Set<string>();
  const results = new Map<number, Record<string, unknown>>();
  let errors = 0;
  let pending = ops;
  const record = (op: BulkOp, res: Record<string, unknown>, failed: boolean) => {
    results.set(op.index, { method: op.method, ...(op.bulkId !== undefined ? { bulkId: op.bulkId } : {}), ...res });
    if (failed) {
      errors++;
      if (op.bulkId !== undefined) failedIds.add(op.bulkId);
    }
  };
  const stop = () => failOnErrors !== undefined && errors >= failOnErrors;
  while (pending.length > 0 && !stop()) {
    const waiting: BulkOp[] = [];
    for (const op of pending) {
      if (stop()) break;
      const refs = refsIn(op.data, refsIn(op.path, new Set()));
      const unresolved = [...refs].filter((r) => !ids.has(r));
      const broken = unresolved.filter((r) => failedIds.has(r) || !ops.some((o) => o.bulkId === r));
      if (broken.length > 0) {
        const e = new ScimHttpError(409, `bulkId ${broken[0]} does not refer to a resource created in this request`);
        record(op, { status: String(e.status), response: e.body() }, true);
        continue;
      }
      if (unresolved.length > 0) {
        waiting.push(op);
        continue;
      }
      const res = await handler.handle({
        ...req,
        method: op.method,
        path: substitutePath(op.path, ids),
        query: [],
        body: substitute(op.data, ids),
        ...(op.version !== undefined ? { ifMatch: op.version } : { ifMatch: undefined }),
        ifNoneMatch: undefined,
      });
      const failed = res.status >= 400;
      if (!failed && op.method === 'POST' && op.bulkId !== undefined && isObject(res.body) && typeof res.body.id === 'string') {
        ids.set(op.bulkId, res.body.id);
      }
      record(
        op,
        {
          ...(res.headers.Location !== undefined ? { location: res.headers.Location } : {}),
          ...(res.headers.ETag !== undefined ? { version: res.headers.ETag } : {}),
          status: String(res.status),
          ...(failed ? { response: res.body } : {}),
        },
        failed,
      );
    }
    if (waiting.length === pending.length) {
      // Nothing ran this round: the references among the rest are circular.
      for (const op of waiting) {
        const e = new ScimHttpError(409, 'circular bulkId references cannot be resolved');
        record(op, { status: String(e.status), response: e.body() }, true);
      }
      break;
    }
    pending = waiting;
  }
  const operations = [...results.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
  return { status: 200, body: { schemas: [BULK_RESPONSE_URN], Operations: operations }, headers: {} };
}
