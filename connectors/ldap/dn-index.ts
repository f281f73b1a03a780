import { normalizeDN } from './escape.js';

/**
 * DN → anchor. Member and manager values are nearly always byte-identical to the DN the server
 * lists the entry under, so lookups try the exact string first; DNs are normalised (case,
 * spacing, escaping) only once some lookup misses — normalising every DN of a 100k listing was a
 * measurable share of the read.
 */
export class DnIndex {
  private readonly exact = new Map<string, string>();
  private normalized: Map<string, string> | undefined;

  get size(): number {
    return this.exact.size;
  }

  set(dn: string, anchor: string): void {
    this.exact.set(dn, anchor);
    this.normalized?.set(normalizeDN(dn), anchor);
  }

  /** Exact spelling only: cheap, for lookups that may legitimately miss for now. */
  getExact(dn: string): string | undefined {
    return this.exact.get(dn);
  }

  get(dn: string): string | undefined {
    const hit = this.exact.get(dn);
    if (hit !== undefined) return hit;
    if (!this.normalized) {
      this.normalized = new Map();
      for (const [k, v] of this.exact) this.normalized.set(normalizeDN(k), v);
    }
    return this.normalized.get(normalizeDN(dn));
  }
}
