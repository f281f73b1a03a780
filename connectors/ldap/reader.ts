import type { Entry } from 'ldapts';
import { USER_ATTRIBUTES } from '../../src/core/attributes.js';
import type { UserAttribute } from '../../src/core/attributes.js';
import type { ConnectorContext, DirectoryReader, SourceGroup, SourceUser } from '../../src/core/connector.js';
import { ConnectorError } from '../../src/core/errors.js';
import type { MemberRef } from '../../src/core/model.js';
import { readAllValues } from './ad/ranged.js';
import { describeLdapError } from './client.js';
import type { LdapConnection } from './client.js';
import type { LdapConfig } from './config.js';
import { DnIndex } from './dn-index.js';
import { normalizeDN } from './escape.js';
import { batched, completeListing } from './listing.js';
import type { ListingSpec } from './listing.js';
import { anchorOf, attrsOf, first, mapKeyAttribute, rawOf, strings, userFromEntry } from './mapping.js';
import type { Attrs } from './mapping.js';
import type { Settings } from './settings.js';

/** DN → anchor of every listed user, and uid → anchor for posixGroup's memberUid. */
export interface UserIndex {
  byDN: DnIndex;
  byUid: Map<string, string>;
}

/** Shared by reader and delta reader: what the last complete user listing found. */
export interface ReaderState {
  userIndex?: UserIndex;
}

type Ctx = Pick<ConnectorContext, 'name' | 'logger' | 'warn'>;

function unique(list: readonly string[]): string[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const k = a.toLowerCase();
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

export function userSpec(settings: Settings, config: LdapConfig, extraFilter?: string): ListingSpec {
  const attrs = [settings.anchor, ...settings.users.map.map(([, a]) => a), 'cn', ...settings.users.extraAttributes];
  if (settings.flavor === 'ad') attrs.push('userAccountControl', 'accountExpires', 'sAMAccountName', 'userPrincipalName');
  if (config.deactivate && 'attribute' in config.deactivate) attrs.push(config.deactivate.attribute);
  if (settings.groups.memberAttribute === 'memberUid') attrs.push('uid');
  return {
    what: 'users',
    bases: settings.users.baseDNs,
    scope: settings.users.scope,
    filter: extraFilter ? `(&${settings.users.filter}${extraFilter})` : settings.users.filter,
    attributes: unique(attrs),
    explicitBufferAttributes: settings.defaults.anchorBinary ? [settings.anchor] : [],
  };
}

/**
 * AD: `member` is asked for as its first range (`member;range=0-<rangeSize-1>`). Windows slices
 * large groups by itself, but Samba (and a DC with a raised MaxValRange) only slices when asked, so
 * asking makes ranged retrieval the one path every AD group takes, whatever the server.
 */
export function memberRequest(settings: Settings, config: LdapConfig): string {
  return settings.flavor === 'ad' ? `member;range=0-${config.ad.rangeSize - 1}` : 'member';
}

export function groupSpec(settings: Settings, config: LdapConfig, extraFilter?: string): ListingSpec {
  const attrs = [settings.anchor, ...settings.groups.map.map(([, a]) => a), 'cn', memberRequest(settings, config), 'uniqueMember', 'memberUid', ...settings.groups.extraAttributes];
  return {
    what: 'groups',
    bases: settings.groups.baseDNs,
    scope: settings.groups.scope,
    filter: extraFilter ? `(&${settings.groups.filter}${extraFilter})` : settings.groups.filter,
    attributes: unique(attrs),
    explicitBufferAttributes: settings.defaults.anchorBinary ? [settings.anchor] : [],
  };
}

export interface Listed {
  entry: Entry;
  attrs: Attrs;
  anchor: string | undefined;
  /** The anchor again, as completeListing's de-duplication key. */
  key: string | undefined;
}

/** Parses an entry's attributes once and keys it by its anchor. */
export function prepared(settings: Settings): (e: Entry) => Listed {
  return (entry) => {
    const attrs = attrsOf(entry, true);
    const anchor = anchorOf(attrs, settings);
    return { entry, attrs, anchor, key: anchor };
  };
}

/** Only anchors (and uids): for member and manager resolution when no full user listing ran. */
export async function lightUserIndex(conn: LdapConnection, settings: Settings, ctx: Ctx): Promise<UserIndex> {
  const spec: ListingSpec = {
    what: 'user anchors',
    bases: settings.users.baseDNs,
    scope: settings.users.scope,
    filter: settings.users.filter,
    attributes: [settings.anchor, 'uid'],
    explicitBufferAttributes: settings.defaults.anchorBinary ? [settings.anchor] : [],
  };
  const index: UserIndex = { byDN: new DnIndex(), byUid: new Map() };
  for await (const page of completeListing(conn, spec, prepared(settings), ctx)) {
    for (const { entry: e, attrs, anchor } of page) {
      if (!anchor) continue;
      index.byDN.set(e.dn, anchor);
      const uid = first(attrs, 'uid');
      if (uid !== undefined) index.byUid.set(uid, anchor);
    }
  }
  return index;
}

/**
 * Users matching the configured filter (plus `extraFilter` for delta reads). Managers are DNs and
 * are resolved to anchors: with `index` given (delta) from it; otherwise from the users listed so
 * far, holding back only the users whose manager was not seen yet until the listing ends.
 */
export function listUsers(
  conn: LdapConnection,
  settings: Settings,
  config: LdapConfig,
  ctx: Ctx,
  state: ReaderState,
  opts: { extraFilter?: string; index?: () => Promise<UserIndex> } = {},
): AsyncIterable<SourceUser> {
  return batched(async function* () {
    const given = opts.index ? await opts.index() : undefined;
    const index: UserIndex = given ?? { byDN: new DnIndex(), byUid: new Map() };
    const pending: { user: SourceUser; managerDN: string }[] = [];
    let unknownManagers = 0;
    const now = new Date();
    const spec = userSpec(settings, config, opts.extraFilter);
    const userNameAttr = settings.users.map.find(([k]) => k === 'userName')?.[1] ?? 'userName';
    for await (const page of completeListing(conn, spec, prepared(settings), ctx)) {
      const out: SourceUser[] = [];
      for (const { entry: e, attrs, anchor } of page) {
        if (!anchor) {
          ctx.warn({ code: 'ldap-no-anchor', message: `entry has no ${settings.anchor}; left out`, where: e.dn });
          continue;
        }
        const dn = e.dn;
        if (!given) {
          index.byDN.set(dn, anchor);
          const uid = first(attrs, 'uid');
          if (uid !== undefined) index.byUid.set(uid, anchor);
        }
        const read = userFromEntry(e, attrs, anchor, settings, config.deactivate, now);
        if (!read) {
          ctx.warn({ code: 'ldap-no-username', message: `entry has no ${userNameAttr}; left out`, where: dn, excluded: { kind: 'user', id: anchor } });
          continue;
        }
        const user = read.user as SourceUser;
        if (read.managerDN !== undefined) {
          // While listing, only the exact spelling: a manager listed later is resolved at the end.
          const manager = given ? given.byDN.get(read.managerDN) : index.byDN.getExact(read.managerDN);
          if (manager !== undefined) (user.enterprise ??= {}).manager = { value: manager };
          else if (given) unknownManagers++;
          else {
            pending.push({ user, managerDN: read.managerDN });
            continue;
          }
        }
        out.push(user);
      }
      if (out.length) yield out;
    }
    for (const p of pending) {
      const manager = index.byDN.get(p.managerDN);
      if (manager !== undefined) (p.user.enterprise ??= {}).manager = { value: manager };
      else unknownManagers++;
    }
    if (pending.length) yield pending.map((p) => p.user);
    if (unknownManagers > 0) {
      ctx.warn({
        code: 'ldap-manager-outside-scope',
        message: `${unknownManagers} user(s) name a manager DN that is not among the listed users; their manager is left unset`,
      });
    }
    if (!given && !opts.extraFilter) state.userIndex = index;
  });
}

interface RawGroup {
  anchor: string;
  dn: string;
  entry: Entry;
  attrs: Attrs;
  memberDNs: string[];
}

/** `uniqueMember` values may carry an optional UID suffix: `cn=x,dc=y#'0101'B`. */
function stripUid(value: string): string {
  return value.replace(/#'[01]*'B$/, '');
}

async function memberValues(conn: LdapConnection, config: LdapConfig, e: Entry, attrs: Attrs): Promise<string[]> {
  const ranged = attrs.names().some((k) => k.toLowerCase().startsWith('member;range='));
  let member = strings(attrs, 'member');
  // AD cuts `member` above MaxValRange (1,500) and answers `member;range=0-1499` instead.
  if (ranged) {
    const client = await conn.bound();
    member = await readAllValues(client, e.dn, 'member', e as unknown as Record<string, unknown>, config.ad.rangeSize);
  }
  return [...member, ...strings(attrs, 'uniqueMember').map(stripUid)];
}

/**
 * Groups with members as anchors. All groups are read before any is returned, since a member
 * may be a group listed later; users come from the last complete user listing of this run
 * (the engine lists users first) or from an anchor-only listing.
 */
export function listGroups(
  conn: LdapConnection,
  settings: Settings,
  config: LdapConfig,
  ctx: Ctx,
  state: ReaderState,
  opts: { extraFilter?: string } = {},
): AsyncIterable<SourceGroup> {
  return batched(async function* () {
    const users = state.userIndex ?? (await lightUserIndex(conn, settings, ctx));
    const raw: RawGroup[] = [];
    const byDN = new DnIndex();
    const spec = groupSpec(settings, config, opts.extraFilter);
    for await (const page of completeListing(conn, spec, prepared(settings), ctx)) {
      for (const { entry: e, attrs, anchor } of page) {
        if (!anchor) {
          ctx.warn({ code: 'ldap-no-anchor', message: `entry has no ${settings.anchor}; left out`, where: e.dn });
          continue;
        }
        let memberDNs: string[];
        try {
          memberDNs = await memberValues(conn, config, e, attrs);
        } catch (err) {
          throw new ConnectorError(ctx.name, `reading the members of ${e.dn}: ${describeLdapError(err)}; the listing is incomplete`);
        }
        byDN.set(e.dn, anchor);
        raw.push({ anchor, dn: e.dn, entry: e, attrs, memberDNs });
      }
    }
    // Delta reads list only changed groups, but members may be any group.
    const groupIndex = opts.extraFilter ? await groupAnchors(conn, settings, config, ctx) : byDN;
    const placeholder = settings.groups.emptyMember !== undefined ? normalizeDN(settings.groups.emptyMember) : undefined;
    let outside = 0;
    const groups: SourceGroup[] = [];
    for (const g of raw) {
      const members: MemberRef[] = [];
      const seen = new Set<string>();
      const push = (ref: MemberRef) => {
        const k = `${ref.type}:${ref.value}`;
        if (!seen.has(k)) {
          seen.add(k);
          members.push(ref);
        }
      };
      for (const dn of g.memberDNs) {
        if (dn === settings.groups.emptyMember) continue;
        const user = users.byDN.get(dn);
        if (user !== undefined) {
          push({ type: 'User', value: user });
          continue;
        }
        const group = groupIndex.get(dn);
        if (group === g.anchor) continue;
        if (group !== undefined) push({ type: 'Group', value: group });
        else if (placeholder === undefined || normalizeDN(dn) !== placeholder) outside++;
      }
      for (const uid of strings(g.attrs, 'memberUid')) {
        const user = users.byUid.get(uid);
        if (user !== undefined) push({ type: 'User', value: user });
        else outside++;
      }
      const group: SourceGroup = { id: g.anchor, displayName: '', members, raw: rawOf(g.entry) };
      for (const [key, attr] of settings.groups.map) {
        const v = first(g.attrs, attr);
        if (v !== undefined && v !== '') group[key] = v;
      }
      if (!group.displayName) {
        ctx.warn({ code: 'ldap-no-displayname', message: 'group has no display name; left out', where: g.dn, excluded: { kind: 'group', id: g.anchor } });
        continue;
      }
      groups.push(group);
    }
    if (outside > 0) {
      ctx.warn({
        code: 'ldap-members-outside-scope',
        message: `${outside} group member value(s) name entries outside the configured users and groups; they are left out`,
      });
    }
    const cycles = findCycles(groups);
    if (cycles.length) {
      ctx.warn({ code: 'ldap-group-cycle', message: `nested groups form a cycle: ${cycles.slice(0, 5).join('; ')}${cycles.length > 5 ? ` (+${cycles.length - 5})` : ''}` });
    }
    if (settings.groups.nested === 'flatten') flatten(groups);
    yield groups;
  });
}

async function groupAnchors(conn: LdapConnection, settings: Settings, config: LdapConfig, ctx: Ctx): Promise<DnIndex> {
  const spec: ListingSpec = { ...groupSpec(settings, config), what: 'group anchors', attributes: [settings.anchor] };
  const out = new DnIndex();
  for await (const page of completeListing(conn, spec, prepared(settings), ctx)) {
    for (const { entry: e, anchor } of page) if (anchor) out.set(e.dn, anchor);
  }
  return out;
}

/** Groups reachable from themselves, named `A → B → A`. */
function findCycles(groups: readonly SourceGroup[]): string[] {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const state = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  const stack: string[] = [];
  const visit = (id: string) => {
    state.set(id, 1);
    stack.push(id);
    for (const m of byId.get(id)?.members ?? []) {
      if (m.type !== 'Group' || !byId.has(m.value)) continue;
      const s = state.get(m.value);
      if (s === 1) cycles.push([...stack.slice(stack.indexOf(m.value)), m.value].map((x) => byId.get(x)!.displayName).join(' → '));
      else if (s === undefined) visit(m.value);
    }
    stack.pop();
    state.set(id, 2);
  };
  for (const g of groups) if (!state.has(g.id)) visit(g.id);
  return cycles;
}

/** Replace group members by the users of every group reachable from them (cycles included once). */
function flatten(groups: SourceGroup[]): void {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const direct = new Map(groups.map((g) => [g.id, g.members]));
  for (const g of groups) {
    const users = new Set<string>();
    const visited = new Set<string>([g.id]);
    const queue = [g.id];
    while (queue.length) {
      for (const m of direct.get(queue.pop()!) ?? []) {
        if (m.type === 'User') users.add(m.value);
        else if (!visited.has(m.value) && byId.has(m.value)) {
          visited.add(m.value);
          queue.push(m.value);
        }
      }
    }
    g.members = [...users].map((value) => ({ type: 'User' as const, value }));
  }
}

/** What this reader provides authoritatively: the mapped attributes plus `active`. */
export function readerAttributes(settings: Settings): UserAttribute[] {
  const mapped = new Set<UserAttribute>(settings.users.map.map(([k]) => mapKeyAttribute(k)));
  // externalId on a directory is at most an anchor some job wrote, not something to pass on.
  mapped.delete('externalId');
  mapped.add('active');
  return USER_ATTRIBUTES.filter((a) => mapped.has(a));
}

export function createReader(conn: LdapConnection, settings: Settings, config: LdapConfig, ctx: Ctx, state: ReaderState): DirectoryReader {
  return {
    listUsers: () => listUsers(conn, settings, config, ctx, state),
    listGroups: () => listGroups(conn, settings, config, ctx, state),
    userAttributes: () => readerAttributes(settings),
  };
}
