import type { Link } from '../plan/types.js';
import type { StateStore } from '../state/types.js';

/**
 * Links made by concurrent creates in the same event-loop turn are committed in one state
 * transaction: with SQLite the commit, not the row, is the cost, and per-row commits made state
 * the main cost of a 100k-user initial sync. Each caller's promise settles only after its link is
 * committed, so the applier's rule — state after the remote write, never before — still holds.
 */
export class LinkBatch {
  private queue: { kind: 'user' | 'group'; link: Link; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly state: StateStore,
    private readonly job: string,
  ) {}

  link(kind: 'user' | 'group', link: Link): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, link, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const kind of ['user', 'group'] as const) {
      const items = batch.filter((b) => b.kind === kind);
      if (items.length === 0) continue;
      try {
        this.state.linkMany(this.job, kind, items.map((i) => i.link));
        for (const i of items) i.resolve();
      } catch (err) {
        for (const i of items) i.reject(err);
      }
    }
  }
}
