import { ScimSyncError } from '../core/errors.js';

/**
 * The state file itself is unusable: written by a newer scim-sync, corrupt, or not a SQLite file.
 * Its own class (rather than a bare Error) so the CLI reports it as a user-facing problem with a
 * clear message instead of as a bug.
 */
export class StateError extends ScimSyncError {
  readonly code = 'state';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`state file ${path}: ${message}`);
    this.name = 'StateError';
  }
}
