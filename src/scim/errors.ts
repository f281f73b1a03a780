import { ERROR_URN } from './schemas.js';

/**
 * SCIM error bodies (RFC 7644 §3.12). Parsing is forgiving because error bodies are where servers
 * stray most (HTML from a proxy, `status` as a number, `detail` missing); the goal is one readable
 * line for the run's errors, never an exception while reporting an exception.
 */

export interface ScimErrorInfo {
  status?: number;
  scimType?: string;
  detail?: string;
}

/** Longest body excerpt quoted when the answer is not a SCIM error (an HTML page from a proxy). */
const MAX_EXCERPT = 200;

export function parseScimError(body: unknown): ScimErrorInfo {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      const text = body.replace(/\s+/g, ' ').trim();
      return text ? { detail: text.length > MAX_EXCERPT ? `${text.slice(0, MAX_EXCERPT)}…` : text } : {};
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const obj = value as Record<string, unknown>;
  const out: ScimErrorInfo = {};
  // RFC 7644 makes status a string; many servers send a number.
  const status = typeof obj.status === 'string' ? Number(obj.status) : obj.status;
  if (typeof status === 'number' && Number.isInteger(status)) out.status = status;
  if (typeof obj.scimType === 'string' && obj.scimType !== '') out.scimType = obj.scimType;
  const detail = obj.detail ?? obj.message ?? obj.error_description ?? obj.error;
  if (typeof detail === 'string' && detail !== '') out.detail = detail;
  return out;
}

/** `409 uniqueness: User already exists` — HTTP status when the body gives none. */
export function describeScimError(body: unknown, httpStatus?: number): string {
  const info = parseScimError(body);
  const status = info.status ?? httpStatus;
  const head = [status !== undefined ? String(status) : undefined, info.scimType].filter((x) => x !== undefined).join(' ');
  if (info.detail) return head ? `${head}: ${info.detail}` : info.detail;
  return head || 'error without detail';
}

/** A SCIM error body, for the server side. */
export function scimErrorBody(status: number, detail: string, scimType?: string): Record<string, unknown> {
  return { schemas: [ERROR_URN], status: String(status), ...(scimType ? { scimType } : {}), detail };
}
