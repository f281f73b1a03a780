/**
 * Graceful shutdown, shared by every long-running command (`run`, `schedule`, `serve`).
 *
 * The first SIGTERM/SIGINT aborts this signal: no new run starts, the applier finishes the
 * changes in flight and records the run as interrupted. A second signal ends the process at once;
 * main.ts does that, being the only place allowed to exit.
 */
let controller = new AbortController();

export function shutdownSignal(): AbortSignal {
  return controller.signal;
}

/** Returns true for the first request (the graceful one), false once shutdown is already under way. */
export function requestShutdown(reason: string): boolean {
  if (controller.signal.aborted) return false;
  controller.abort(new Error(reason));
  return true;
}

/** For tests that call main() several times in one process. */
export function resetShutdown(): void {
  controller = new AbortController();
}
