import { setTimeout as sleep } from 'node:timers/promises';
import { LockHeldError } from '../core/errors.js';
import type { StateStore } from '../state/types.js';

/** How often a waiting run looks at the lock again: cheap (one indexed read), and fast enough. */
const POLL_MS = 500;

/**
 * Take the job's lock, waiting up to `waitMs` for another run to release it (0: do not wait).
 * `onWait` is called once, when waiting starts, so the caller can say why nothing happens.
 * Throws LockHeldError when the wait ends without the lock, or the signal aborts it.
 */
export async function acquireLockWaiting(
  state: StateStore,
  job: string,
  waitMs: number,
  opts: { signal?: AbortSignal; onWait?: (err: LockHeldError) => void } = {},
): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      return state.acquireLock(job);
    } catch (err) {
      if (!(err instanceof LockHeldError) || Date.now() + POLL_MS > deadline || opts.signal?.aborted) throw err;
      if (!told) {
        told = true;
        opts.onWait?.(err);
      }
    }
    try {
      await sleep(POLL_MS, undefined, { signal: opts.signal });
    } catch {
      // Aborted while waiting: one last try reports who holds it.
    }
  }
}
