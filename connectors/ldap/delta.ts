import type { ConnectorContext, DeltaReader } from '../../src/core/connector.js';
import { ConnectorError } from '../../src/core/errors.js';
import type { LdapConnection } from './client.js';
import { describeLdapError } from './client.js';
import type { LdapConfig } from './config.js';
import { first, attrsOf } from './mapping.js';
import { lightUserIndex, listGroups, listUsers } from './reader.js';
import type { Settings } from './settings.js';

/**
 * Delta reads. OpenLDAP: `modifyTimestamp` (operational, kept by slapd on every add, modify and
 * rename), watermark = the local clock minus `delta.skewSeconds`, since it is compared with the
 * server's clock. AD: `uSNChanged`, watermark = the root DSE's `highestCommittedUSN` (the server's
 * own counter, no clock involved). Both watermarks are taken before a listing starts.
 *
 * Watermarks are `ts:<GeneralizedTime>` and `usn:<number>`; anything else is refused.
 */

/** `20261128011000Z` (GeneralizedTime, UTC, whole seconds). */
export function generalizedTime(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}Z`;
}

type Ctx = Pick<ConnectorContext, 'name' | 'logger' | 'warn'>;

export function createDeltaReader(
  conn: LdapConnection,
  settings: Settings,
  config: LdapConfig,
  ctx: Ctx,
  opts: { now?: () => Date } = {},
): DeltaReader {
  const now = opts.now ?? (() => new Date());

  function filterSince(since: string): string {
    if (settings.defaults.delta === 'modifyTimestamp') {
      const m = /^ts:(\d{14}Z)$/.exec(since);
      if (!m) throw new ConnectorError(ctx.name, `delta watermark ${JSON.stringify(since)} is not one this OpenLDAP connector issued (ts:YYYYMMDDHHMMSSZ)`);
      return `(modifyTimestamp>=${m[1]})`;
    }
    const m = /^usn:(\d+)$/.exec(since);
    if (!m) throw new ConnectorError(ctx.name, `delta watermark ${JSON.stringify(since)} is not one this AD connector issued (usn:N)`);
    return `(uSNChanged>=${BigInt(m[1]!) + 1n})`;
  }

  // Delta listings resolve managers and members against every user, not just the changed ones.
  const index = () => lightUserIndex(conn, settings, ctx);

  return {
    async watermark(): Promise<string> {
      if (settings.defaults.delta === 'modifyTimestamp') {
        return `ts:${generalizedTime(new Date(now().getTime() - config.delta.skewSeconds * 1000))}`;
      }
      let usn: string | undefined;
      try {
        const dse = await conn.rootDSE(['highestCommittedUSN']);
        usn = dse ? first(attrsOf(dse), 'highestCommittedUSN') : undefined;
      } catch (err) {
        throw new ConnectorError(ctx.name, `reading highestCommittedUSN from ${conn.url}: ${describeLdapError(err)}`);
      }
      if (!usn || !/^\d+$/.test(usn)) throw new ConnectorError(ctx.name, `${conn.url} has no highestCommittedUSN in its root DSE`);
      return `usn:${usn}`;
    },
    changedUsers: (since: string) => ({
      async *[Symbol.asyncIterator]() {
        yield* listUsers(conn, settings, config, ctx, {}, { extraFilter: filterSince(since), index });
      },
    }),
    changedGroups: (since: string) => ({
      async *[Symbol.asyncIterator]() {
        // A fresh state: members are resolved against an anchor listing of every user.
        yield* listGroups(conn, settings, config, ctx, {}, { extraFilter: filterSince(since) });
      },
    }),
  };
}
