import type { ConnectorContext, DeltaReader, SourceGroup, SourceUser } from '../../src/core/connector.js';
import { formatFilter } from '../../src/scim/filter.js';
import type { ServiceProviderConfig } from '../../src/scim/service-provider.js';
import { describeScimError } from '../../src/scim/errors.js';
import { redact } from '../../src/core/secrets.js';
import type { ScimClient } from './client.js';
import type { FilteredListing } from './reader.js';

/**
 * Delta reads for a SCIM source: what changed since a watermark, by
 * `filter=meta.lastModified gt "<watermark>"` (RFC 7644 §3.4.2.2), paged like a full listing.
 *
 * The watermark is the server's own clock (the `Date` header of a response) minus `skew`, so the
 * client's clock never matters, and a change committed just before the answer (or stamped by a
 * replica a little behind) is seen again rather than missed. Seeing an object twice is harmless.
 *
 * Whether the server can do it is learned once per connector: /ServiceProviderConfig must say
 * `filter.supported`, and the server must accept the filter (the first watermark request carries
 * it). A server that answers 400 gets no delta: `available()` turns false, the connector stops
 * exposing `delta`, and if a delta listing is still asked for it lists everything (a superset of
 * what changed, so still correct; deletions then wait for the next full read as always).
 */

export type DeltaSupport = { ok: true } | { ok: false; reason: string };

export interface ScimDelta {
  reader: DeltaReader;
  /** Undefined until the server was asked (by `watermark()` or `probe()`). */
  known(): DeltaSupport | undefined;
  /** Ask the server (once) whether it can filter on meta.lastModified. */
  probe(): Promise<DeltaSupport>;
}

const lastModifiedAfter = (since: string) => formatFilter({ type: 'compare', op: 'gt', path: { name: 'meta.lastModified' }, value: since });

/** A time the filter cannot exclude anything by: the probe's filter value. */
const EPOCH = '1970-01-01T00:00:00Z';

export function createDelta(
  client: ScimClient,
  ctx: Pick<ConnectorContext, 'name' | 'warn' | 'logger'>,
  listing: FilteredListing,
  discover: () => Promise<ServiceProviderConfig | undefined>,
  opts: { skewMs: number; now?: () => number },
): ScimDelta {
  let support: DeltaSupport | undefined;
  let probing: Promise<{ support: DeltaSupport; serverTime: number | undefined }> | undefined;
  const now = opts.now ?? Date.now;

  /** One filtered request: proves the filter is accepted and reads the server's clock. */
  const ask = () =>
    (probing ??= (async () => {
      const spc = await discover();
      if (spc !== undefined && !spc.filter.supported) {
        return { support: { ok: false, reason: '/ServiceProviderConfig says filtering is not supported' } as DeltaSupport, serverTime: undefined };
      }
      const res = await client.request('GET', '/Users', {
        object: 'probe filtering on meta.lastModified',
        query: { filter: lastModifiedAfter(EPOCH), startIndex: 1, count: 1 },
        accept: [400, 501],
      });
      const date = Array.isArray(res.headers.date) ? res.headers.date[0] : res.headers.date;
      const serverTime = date === undefined ? undefined : Date.parse(date);
      if (res.status !== 200) {
        return {
          support: { ok: false, reason: `the server refuses filter meta.lastModified gt: ${redact(describeScimError(res.body, res.status))}` } as DeltaSupport,
          serverTime,
        };
      }
      return { support: { ok: true } as DeltaSupport, serverTime: serverTime !== undefined && !Number.isNaN(serverTime) ? serverTime : undefined };
    })().then((r) => {
      support = r.support;
      if (!r.support.ok) ctx.logger.info(`SCIM source ${ctx.name}: no delta reads (${r.support.reason}); every read is a full read`);
      return r;
    }));

  /** The server's time now, from a fresh response's `Date` header. */
  const serverNow = async (): Promise<number> => {
    const res = await client.request('GET', '/Users', { object: 'read the server time', query: { startIndex: 1, count: 1, attributes: 'id' } });
    const date = Array.isArray(res.headers.date) ? res.headers.date[0] : res.headers.date;
    const t = date === undefined ? Number.NaN : Date.parse(date);
    if (!Number.isNaN(t)) return t;
    ctx.logger.warn(`SCIM source ${ctx.name}: the server sent no usable Date header; the delta watermark uses this machine's clock`);
    return now();
  };

  const changed = <T>(kind: 'users' | 'groups', list: (filter?: string) => AsyncIterable<T>, since: string): AsyncIterable<T> => ({
    async *[Symbol.asyncIterator]() {
      const { support: s } = await ask();
      if (!s.ok) {
        ctx.warn({ code: 'scim-no-delta', message: `listing all ${kind} instead of those changed since ${since}: ${s.reason}` });
        yield* list();
        return;
      }
      yield* list(lastModifiedAfter(since));
    },
  });

  return {
    known: () => support,
    probe: async () => (await ask()).support,
    reader: {
      async watermark() {
        const first = probing === undefined;
        const { serverTime } = await ask();
        // The probe's own Date is "now" when it was just taken; later calls ask the server again.
        const t = first && serverTime !== undefined ? serverTime : await serverNow();
        return new Date(t - opts.skewMs).toISOString();
      },
      changedUsers: (since: string) => changed<SourceUser>('users', listing.users, since),
      changedGroups: (since: string) => changed<SourceGroup>('groups', listing.groups, since),
    },
  };
}
