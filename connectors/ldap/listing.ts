import type { Entry } from 'ldapts';
import { ConnectorError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import type { LdapConnection } from './client.js';
import { describeLdapError, isConnectionError } from './client.js';

export interface ListingSpec {
  /** For messages: `users`, `groups`. */
  what: string;
  bases: readonly string[];
  scope: 'base' | 'one' | 'sub';
  filter: string;
  attributes: string[];
  explicitBufferAttributes?: string[];
}

/**
 * Every entry matching `spec` under all its base DNs, in pages, complete or throwing.
 *
 * A paged-results cookie belongs to its connection, so a connection dropped mid-listing cannot
 * resume where it stopped: the listing reconnects once and starts over, and entries already
 * yielded (by key, the anchor) are skipped, so the union is complete and nothing is yielded
 * twice. A second failure, or any LDAP error (a missing base DN, a size limit), fails the listing.
 * The same key also drops the duplicates of overlapping base DNs.
 */
export async function* completeListing<T>(
  conn: LdapConnection,
  spec: ListingSpec,
  /** Parses an entry once; `key` of the result (the anchor) identifies it across restarts. */
  prepare: (entry: Entry) => T & { key: string | undefined },
  ctx: { name: string; logger: Logger },
): AsyncGenerator<T[]> {
  const seen = new Set<string>();
  let restarted = false;
  for (;;) {
    let base = spec.bases[0] ?? '';
    try {
      for (base of spec.bases) {
        const pages = conn.pages(base, { scope: spec.scope, filter: spec.filter, attributes: spec.attributes, explicitBufferAttributes: spec.explicitBufferAttributes ?? [] });
        for await (const page of pages) {
          const out: T[] = [];
          for (const entry of page) {
            const prepared = prepare(entry);
            const k = prepared.key ?? `dn:${entry.dn}`;
            if (seen.has(k)) continue;
            seen.add(k);
            out.push(prepared);
          }
          // Page by page: one await per page rather than per entry.
          if (out.length) yield out;
        }
      }
      return;
    } catch (err) {
      if (err instanceof ConnectorError && !restarted) throw err;
      if (isConnectionError(err) && !restarted) {
        restarted = true;
        ctx.logger.warn(`LDAP ${conn.url}: connection lost while listing ${spec.what} (${describeLdapError(err)}); reconnecting and listing again`);
        await conn.reset();
        continue;
      }
      const again = restarted ? ' after reconnecting once' : '';
      throw new ConnectorError(
        ctx.name,
        `listing ${spec.what} under ${base} from ${conn.url} failed${again}: ${err instanceof ConnectorError ? err.message.replace(/^connector [^:]+: /, '') : describeLdapError(err)}; the listing is incomplete, so nothing is compared or changed`,
      );
    }
  }
}

/**
 * An AsyncIterable over items produced in batches: one await per batch, and no async-generator
 * machinery per item (measurable at 100k users).
 */
export function batched<T>(produce: () => AsyncGenerator<T[]>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const source = produce();
      let buffer: T[] = [];
      let i = 0;
      return {
        async next(): Promise<IteratorResult<T>> {
          while (i >= buffer.length) {
            const r = await source.next();
            if (r.done) return { value: undefined, done: true };
            buffer = r.value;
            i = 0;
          }
          return { value: buffer[i++]!, done: false };
        },
        async return(): Promise<IteratorResult<T>> {
          await source.return(undefined);
          return { value: undefined, done: true };
        },
      };
    },
  };
}
