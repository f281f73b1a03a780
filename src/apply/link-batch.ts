import type { Link } from '../plan/types.js';
import type { StateStore } from '../state/types.js';

/** Links committed together at most this long after the first of them was queued. */
const DEFAULT_MAX_DELAY_MS = 100;
/** …or as soon as this many are queued, whichever comes first. */
const DEFAULT_MAX_LINKS = 2_000;

interface Pending<T> {
  kind: 'user' | 'group';
  link: Link;
  /** Whatever the caller needs to find the change again if the commit fails. */
  tag: T;
}

/**
 * Links of objects the target has just created, committed to state in batches: with SQLite the
 * commit, not the row, is the cost, and a commit per few links (one per event-loop turn) was a
 * main client cost of a 100k-user initial sync. A link is queued only after the remote write
 * succeeded and committed within `maxDelayMs` (or once `maxLinks` are queued), so state still only
 * ever describes what exists; a crash loses at most the links of that window, and the next run
 * relinks those objects by their externalId anchor, as it does for a write lost in flight.
 *
 * Callers do not wait for the commit (the applier's slots go straight on to the next write). The
 * applier keeps its own in-memory map of the links made in this run for every read during the
 * apply, and calls `flush()` before any other state write (so state sees writes in their order),
 * between phases and at the end. A failed commit is handed to `onFail` with the tags of its links.
 */
export class LinkBatch<T> {
  private queue: Pending<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly maxDelayMs: number;
  private readonly maxLinks: number;

  constructor(
    private readonly state: StateStore,
    private readonly job: string,
    private readonly onFail: (tags: T[], err: unknown) => void,
    opts: { maxDelayMs?: number; maxLinks?: number } = {},
  ) {
    this.maxDelayMs = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.maxLinks = opts.maxLinks ?? DEFAULT_MAX_LINKS;
  }

  /** Queue a link whose remote object now exists. */
  add(kind: 'user' | 'group', link: Link, tag: T): void {
    this.queue.push({ kind, link, tag });
    if (this.queue.length >= this.maxLinks) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
  }

  /** Commit everything queued, now (one transaction per kind). */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    for (const kind of ['user', 'group'] as const) {
      const items = batch.filter((b) => b.kind === kind);
      if (items.length === 0) continue;
      try {
        this.state.linkMany(
          this.job,
          kind,
          items.map((i) => i.link),
        );
      } catch (err) {
        this.onFail(
          items.map((i) => i.tag),
          err,
        );
      }
    }
  }
}
