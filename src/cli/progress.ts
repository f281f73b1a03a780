import type { Output } from './output.js';

/**
 * A one-line progress counter on stderr, redrawn at most every 100 ms, only on a terminal.
 * A progress-bar library was not worth a dependency for one line that cron never sees.
 */
export function progressReporter(output: Output, label: string): ((done: number, total: number) => void) & { end(): void } {
  let last = 0;
  let drawn = false;
  const stream = process.stderr;
  const fn = (done: number, total: number) => {
    if (!output.interactive) return;
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    drawn = true;
    const pct = total ? Math.floor((done / total) * 100) : 100;
    stream.write(`\r${label}: ${done}/${total} (${pct}%)`);
  };
  return Object.assign(fn, {
    end() {
      if (drawn) stream.write('\r\x1b[K');
    },
  });
}
