import { USER_ATTRIBUTES } from '../../src/core/attributes.js';
import type { UserAttribute } from '../../src/core/attributes.js';
import type { ConnectorContext, DirectoryReader, SourceGroup, SourceUser } from '../../src/core/connector.js';
import { ConnectorError, RemoteError, errorMessage } from '../../src/core/errors.js';
import { ScimFormatError, fromScimGroup, fromScimUser, parseListResponse } from '../../src/scim/schemas.js';
import type { ScimClient } from './client.js';
import { normalizeResource } from './profiles.js';
import type { ScimProfile } from './profiles.js';

/**
 * externalId is excluded: on a SCIM target it is the anchor a provisioning job wrote, not an
 * attribute this server owns and could pass on as a source.
 */
const ATTRIBUTES: readonly UserAttribute[] = USER_ATTRIBUTES.filter((a) => a !== 'externalId');

/** Pages in a row that add no new id before a listing whose total is not reached is declared broken. */
const MAX_STALE_PAGES = 3;
/** Last-resort bound when the server gives no totalResults: 100 M objects at one per page. */
const MAX_PAGES_WITHOUT_TOTAL = 100_000_000;

export interface PagingOptions {
  endpoint: '/Users' | '/Groups';
  kind: 'users' | 'groups';
  pageSize: number;
  query?: Record<string, string>;
}

/**
 * Every resource of an endpoint, page by page (`startIndex`/`count`, RFC 7644 §3.4.2.4).
 *
 * The listing is complete or it throws, since a missing object would be planned as a delete.
 * Servers get paging wrong in many ways, so the only thing trusted is the ids actually received:
 * - `startIndex` advances by the number of resources received, not by `count` or `itemsPerPage`
 *   (servers cap pages below `count`, ignore it, or echo a wrong `itemsPerPage`);
 * - duplicates across pages (a repeated page, an object moving while we page) are dropped by id;
 * - the listing ends on an empty page; on a page adding no new id when the total is reached or
 *   unknown; or on a page not of the asked size once `totalResults` ids were seen (saving the extra request);
 * - pages adding nothing while fewer than `totalResults` ids were seen are tolerated a few times
 *   (a repeated page), then the read fails: the server is not paging and the rest is unreachable;
 * - an empty page before `totalResults` is reached ends the listing with a warning: the server
 *   said explicitly that nothing follows, and a total counted before deletions is common;
 * - a page budget derived from `totalResults` (or a huge constant) bounds it all: a server needing
 *   more pages than the objects it claims is broken, and failing is safe where guessing is not.
 */
export function listResources<T extends { id: string }>(
  client: ScimClient,
  opts: PagingOptions,
  parse: (json: unknown) => T,
  ctx: Pick<ConnectorContext, 'name' | 'warn'>,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const seen = new Set<string>();
      let buffer: T[] = [];
      let i = 0;
      let startIndex = 1;
      let pages = 0;
      let stale = 0;
      let total: number | undefined;
      let done = false;

      const fail = (message: string): never => {
        throw new ConnectorError(ctx.name, `listing ${opts.kind} from ${opts.endpoint}: ${message}`);
      };

      const fetchPage = async (): Promise<void> => {
        const maxPages = total !== undefined ? total + MAX_STALE_PAGES + 1 : MAX_PAGES_WITHOUT_TOTAL;
        if (pages >= maxPages) fail(`no end after ${pages} pages (server reports ${total ?? 'no'} totalResults); listing is incomplete`);
        pages++;
        const where = `startIndex=${startIndex}`;
        let json: unknown;
        try {
          json = (await client.request('GET', opts.endpoint, { object: `list ${opts.kind}`, query: { ...opts.query, startIndex, count: opts.pageSize } })).body;
        } catch (err) {
          if (err instanceof RemoteError) fail(`${where}: ${err.detail}`);
          throw err;
        }
        let items: T[];
        try {
          const page = parseListResponse(json);
          // The latest total wins: it may change while we page, and later answers are fresher.
          if (page.totalResults !== undefined) total = page.totalResults;
          items = page.resources.map(parse);
        } catch (err) {
          if (err instanceof ScimFormatError) fail(`${where}: ${errorMessage(err)}`);
          throw err;
        }
        const fresh = items.filter((item) => !seen.has(item.id) && (seen.add(item.id), true));
        buffer = fresh;
        i = 0;
        if (items.length === 0) {
          done = true;
          if (total !== undefined && seen.size < total) {
            ctx.warn({
              code: 'scim-total-mismatch',
              message: `${opts.endpoint} reported totalResults ${total} but listed ${seen.size}; the listing ended with an empty page`,
            });
          }
          return;
        }
        startIndex += items.length;
        const reached = total === undefined || seen.size >= total;
        if (fresh.length === 0) {
          if (reached) {
            done = true;
            return;
          }
          if (++stale >= MAX_STALE_PAGES) {
            fail(`${stale} pages in a row repeated earlier objects with ${seen.size} of ${total} listed; the server does not page reliably`);
          }
          return;
        }
        stale = 0;
        // A page of a size other than asked, once the total is reached, is the last one (short: the
        // end; longer: the server ignores `count` and sent the rest).
        if (total !== undefined && seen.size >= total && items.length !== opts.pageSize) done = true;
      };

      return {
        async next(): Promise<IteratorResult<T>> {
          while (i >= buffer.length) {
            if (done) return { value: undefined, done: true };
            await fetchPage();
          }
          return { value: buffer[i++]!, done: false };
        },
      };
    },
  };
}

export interface ReaderOptions {
  pageSize: number;
  /** Profile alias for the enterprise extension key (ArkID: `enterprise_extension`). */
  enterpriseKey?: ScimProfile['enterpriseKey'];
  /** List groups with `excludedAttributes=members`, then GET each group's members. */
  largeGroups?: boolean;
  /** Member reads in flight at once when `largeGroups` is on. */
  memberFetchConcurrency?: number;
}

/**
 * Groups listed without members, then each group's members read with its own
 * `GET /Groups/{id}?attributes=members` (portable: filtering on `members.value` is not). Complete
 * or fail: a group whose members cannot be read fails the listing, and a group missing in the
 * second read (deleted meanwhile) too, since its members are unknown.
 */
function listLargeGroups(client: ScimClient, ctx: Pick<ConnectorContext, 'name' | 'warn'>, opts: ReaderOptions, filter?: string): AsyncIterable<SourceGroup> {
  const listing = listResources<{ id: string; json: Record<string, unknown> }>(
    client,
    { endpoint: '/Groups', kind: 'groups', pageSize: opts.pageSize, query: { excludedAttributes: 'members', ...(filter !== undefined ? { filter } : {}) } },
    (json) => ({ id: fromScimGroup(json).id, json: json as Record<string, unknown> }),
    ctx,
  );
  const chunk = Math.max(1, opts.memberFetchConcurrency ?? 8);
  const withMembers = async (g: { id: string; json: Record<string, unknown> }): Promise<SourceGroup> => {
    let body: unknown;
    try {
      body = (await client.request('GET', `/Groups/${encodeURIComponent(g.id)}`, { object: `read members of group ${g.id}`, query: { attributes: 'members' } })).body;
    } catch (err) {
      if (err instanceof RemoteError) throw new ConnectorError(ctx.name, `listing groups from /Groups: members of group ${g.id}: ${err.detail}`);
      throw err;
    }
    const members = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).members : undefined;
    try {
      return fromScimGroup({ ...g.json, members: members ?? [] });
    } catch (err) {
      if (err instanceof ScimFormatError) throw new ConnectorError(ctx.name, `listing groups from /Groups: members of group ${g.id}: ${errorMessage(err)}`);
      throw err;
    }
  };
  return {
    async *[Symbol.asyncIterator]() {
      let batch: { id: string; json: Record<string, unknown> }[] = [];
      for await (const g of listing) {
        batch.push(g);
        if (batch.length >= chunk) {
          yield* await Promise.all(batch.map(withMembers));
          batch = [];
        }
      }
      if (batch.length) yield* await Promise.all(batch.map(withMembers));
    },
  };
}

/** Users and groups, all or only those matching a SCIM filter (delta reads), with the same paging guarantees. */
export interface FilteredListing {
  users(filter?: string): AsyncIterable<SourceUser>;
  groups(filter?: string): AsyncIterable<SourceGroup>;
}

export function createListing(client: ScimClient, ctx: Pick<ConnectorContext, 'name' | 'warn'>, opts: ReaderOptions): FilteredListing {
  const parseUser = opts.enterpriseKey === undefined ? fromScimUser : (json: unknown) => fromScimUser(normalizeResource(json, opts));
  const q = (filter: string | undefined) => (filter !== undefined ? { query: { filter } } : {});
  return {
    users: (filter) => listResources<SourceUser>(client, { endpoint: '/Users', kind: 'users', pageSize: opts.pageSize, ...q(filter) }, parseUser, ctx),
    groups: (filter) =>
      opts.largeGroups
        ? listLargeGroups(client, ctx, opts, filter)
        : listResources<SourceGroup>(client, { endpoint: '/Groups', kind: 'groups', pageSize: opts.pageSize, ...q(filter) }, fromScimGroup, ctx),
  };
}

export function createReader(client: ScimClient, ctx: Pick<ConnectorContext, 'name' | 'warn'>, opts: ReaderOptions): DirectoryReader {
  const listing = createListing(client, ctx, opts);
  return {
    listUsers: () => listing.users(),
    listGroups: () => listing.groups(),
    userAttributes: () => ATTRIBUTES,
  };
}
