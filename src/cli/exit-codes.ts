import { ConfigError, LockHeldError, ScimSyncError } from '../core/errors.js';

/** Part of the product: automation and cron wrappers depend on these numbers. */
export const EXIT = {
  ok: 0,
  error: 1,
  changes: 2,
  heldBack: 3,
  locked: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

// When several jobs run in one invocation the most important outcome wins.
const severity: Record<ExitCode, number> = { 0: 0, 2: 1, 3: 2, 4: 3, 1: 4 };

export function worst(a: ExitCode, b: ExitCode): ExitCode {
  return severity[a] >= severity[b] ? a : b;
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof LockHeldError) return EXIT.locked;
  if (err instanceof ConfigError || err instanceof ScimSyncError) return EXIT.error;
  return EXIT.error;
}
