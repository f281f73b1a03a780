/**
 * AIMD concurrency limiter: at most `limit` requests in flight, with `limit` halved (down to 1)
 * each time the server pushes back (429/503) and raised by 1/limit per success, i.e. about one
 * permit per round of successful requests, up to `max` (the pool's connections).
 *
 * Pushback answers that arrive together (one burst of 429s for the requests already in flight)
 * halve the limit once: a decrease is applied only if the request started after the last one.
 */
export class AimdLimiter {
  private limitValue: number;
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  /** Incremented on every decrease; a request remembers the epoch it started in. */
  private epoch = 0;

  constructor(private readonly max: number) {
    this.limitValue = max;
  }

  /** The current number of permits (fractional while recovering). */
  get limit(): number {
    return this.limitValue;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Waits for a permit; resolves with the epoch to hand back to `release`. */
  async acquire(): Promise<number> {
    while (this.inFlight >= Math.floor(this.limitValue)) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.inFlight++;
    return this.epoch;
  }

  /** Gives the permit back, saying how the server answered. */
  release(epoch: number, outcome: 'ok' | 'pushback' | 'other'): void {
    this.inFlight--;
    if (outcome === 'pushback') {
      if (epoch === this.epoch) {
        this.epoch++;
        this.limitValue = Math.max(1, Math.floor(this.limitValue / 2));
      }
    } else if (outcome === 'ok' && this.limitValue < this.max) {
      this.limitValue = Math.min(this.max, this.limitValue + 1 / Math.floor(this.limitValue));
    }
    this.wake();
  }

  private wake(): void {
    let free = Math.floor(this.limitValue) - this.inFlight;
    while (free-- > 0 && this.waiters.length > 0) this.waiters.shift()!();
  }
}
