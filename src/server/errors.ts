import { RemoteError } from '../core/errors.js';
import { scimErrorBody } from '../scim/errors.js';

/**
 * Errors the server answers with (RFC 7644 §3.12). The status ↔ scimType table is enforced when an
 * error is made, so a wrong pairing is a bug caught by any test that reaches it, not a response.
 */

export const SCIM_TYPES = {
  invalidFilter: 400,
  tooMany: 400,
  uniqueness: 409,
  mutability: 400,
  invalidSyntax: 400,
  invalidPath: 400,
  noTarget: 400,
  invalidValue: 400,
  invalidVers: 400,
  sensitive: 400,
} as const;

export type ScimType = keyof typeof SCIM_TYPES;

export class ScimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly scimType?: ScimType,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ScimHttpError';
    if (scimType !== undefined && SCIM_TYPES[scimType] !== status) {
      throw new Error(`bug: scimType ${scimType} goes with status ${SCIM_TYPES[scimType]}, not ${status}`);
    }
  }

  body(): Record<string, unknown> {
    return scimErrorBody(this.status, this.detail, this.scimType);
  }
}

export const badRequest = (scimType: ScimType, detail: string) => new ScimHttpError(SCIM_TYPES[scimType], detail, scimType);
export const notFound = (detail: string) => new ScimHttpError(404, detail);

/** A directory's refusal (RemoteError from the embedded store) as the SCIM answer it stands for. */
export function fromRemoteError(err: RemoteError): ScimHttpError {
  if (err.status === 409) return new ScimHttpError(409, err.detail, 'uniqueness');
  if (err.status === 404) return new ScimHttpError(404, err.detail);
  if (err.status === 400) return new ScimHttpError(400, err.detail, 'invalidValue');
  return new ScimHttpError(500, 'the directory failed to carry out the request');
}

export function asScimError(err: unknown): ScimHttpError | undefined {
  if (err instanceof ScimHttpError) return err;
  if (err instanceof RemoteError) return fromRemoteError(err);
  return undefined;
}
