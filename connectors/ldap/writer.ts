import { Attribute, ResultCodeError } from 'ldapts';
import { describeMemberChange } from '../../src/core/describe.js';
import type { Change } from 'ldapts';
import type { UserAttribute } from '../../src/core/attributes.js';
import type { Created, DirectoryWriter } from '../../src/core/connector.js';
import { RemoteError } from '../../src/core/errors.js';
import type { GroupInput, MemberRef, UserInput } from '../../src/core/model.js';
import { registerSecret } from '../../src/core/secrets.js';
import { randomPassword, unicodePwd } from './ad/password.js';
import { readAllValues } from './ad/ranged.js';
import { UAC, withDisabled } from './ad/uac.js';
import { AnchorResolver } from './anchors.js';
import { addValues, deleteValues, remoteError, replace, resultCode } from './client.js';
import type { LdapConnection } from './client.js';
import type { LdapConfig } from './config.js';
import { escapeDNValue, escapeFilterValue, formatRdn, isUnder, normalizeDN, parentDN, parseDN } from './escape.js';
import { derivedRdn, isRdnDerived } from './derived-rdn.js';
import { ClashFinder, MAX_NAME_TRIES, addWithFreeName, numberedValue, samAccountName } from './naming.js';
import { anchorOf, attrsOf, first, keysForChange, requiredFallback, strings, valuesFor, displayNameOf } from './mapping.js';
import { Containers, Placement } from './placement.js';
import type { Settings } from './settings.js';

type AttrValues = Map<string, { name: string; values: (string | Buffer)[] }>;

function put(attrs: AttrValues, name: string, values: (string | Buffer)[]): void {
  if (values.length === 0) return;
  const k = name.toLowerCase();
  const cur = attrs.get(k);
  if (cur) cur.values.push(...values.filter((v) => !cur.values.some((c) => String(c) === String(v))));
  else attrs.set(k, { name, values: [...values] });
}

function toAttributes(attrs: AttrValues): Attribute[] {
  return [...attrs.values()].map(
    (a) => new Attribute({ type: a.name, values: (a.values.every((v) => typeof v === 'string') ? a.values : a.values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v))) as string[] | Buffer[] }),
  );
}

/** sAMAccountName length limits: users (and computers) 20, groups 64 (what Windows tools allow). */
const SAM_MAX_USER = 20;
const SAM_MAX_GROUP = 64;

/** Replaces (not adds to) an attribute's values. */
function setValues(attrs: AttrValues, name: string, values: (string | Buffer)[]): void {
  attrs.delete(name.toLowerCase());
  put(attrs, name, values);
}

export function createWriter(conn: LdapConnection, settings: Settings, config: LdapConfig): DirectoryWriter {
  const anchors = new AnchorResolver(conn, settings);
  const containers = new Containers(conn);
  const userPlacement = new Placement(settings.users.placement, settings.users.placement?.fallback ?? settings.users.baseDNs[0]!);
  const groupPlacement = new Placement(settings.groups.placement, settings.groups.placement?.fallback ?? settings.groups.baseDNs[0]!);
  const deactivate = config.deactivate;
  const isAD = settings.flavor === 'ad';
  const userNameAttr = settings.users.map.find(([k]) => k === 'userName')?.[1];
  const memberAttr = settings.groups.memberAttribute;
  const placeholder = settings.groups.emptyMember;
  const userRdn = settings.users.rdnAttribute;
  const groupRdn = settings.groups.rdnAttribute;
  const clashes = new ClashFinder(conn);
  const userRdnDerived = isRdnDerived(settings);

  /**
   * Runs `fn`, turning any failure into a RemoteError about `object`, named with the entry's DN
   * once `fn` has told it (`at(dn)`).
   */
  async function guarded<T>(object: string, fn: (at: (dn: string) => void) => Promise<T>): Promise<T> {
    let where: string | undefined;
    try {
      return await fn((dn) => (where = dn));
    } catch (err) {
      if (err instanceof RemoteError) throw err;
      throw remoteError(where ? `${object} at ${where}` : object, err);
    }
  }

  async function readAnchor(dn: string): Promise<string> {
    const [entry] = await conn.search(dn, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: [settings.anchor],
      explicitBufferAttributes: settings.defaults.anchorBinary ? [settings.anchor] : [],
    });
    const anchor = entry && anchorOf(attrsOf(entry), settings);
    if (!anchor) throw new Error(`created ${dn} but cannot read its ${settings.anchor}`);
    return anchor;
  }

  /** LDAP does not keep userNames unique by itself (no unique overlay by default): check first. */
  async function ensureUnique(userName: string, object: string): Promise<void> {
    if (!userNameAttr) return;
    for (const base of settings.searchBases.users) {
      const hits = await conn
        .search(base, { scope: 'sub', filter: `(${userNameAttr}=${escapeFilterValue(userName)})`, attributes: ['1.1'], sizeLimit: 1 })
        .catch((err: unknown) => (resultCode(err) === 32 ? [] : Promise.reject(err)));
      if (hits.length) throw new RemoteError(object, `${userNameAttr} ${JSON.stringify(userName)} is already used by ${hits[0]!.dn}`, 409);
    }
  }

  async function managerValues(user: UserInput, object: string): Promise<string[]> {
    const id = user.enterprise?.manager?.value;
    if (!id) return [];
    return [await anchors.dnOf('User', id, `${object}: manager`)];
  }

  /**
   * Moves and/or renames an entry in one modifyDN; returns the new DN. With `numberFrom` (a user
   * whose RDN value is derived), a DN taken in the new place is retried with that value numbered.
   */
  async function moveEntry(
    id: string,
    dn: string,
    newRdn: string | undefined,
    container: string | undefined,
    createMissing: boolean,
    object: string,
    numberFrom?: string,
  ): Promise<string> {
    const rdn = newRdn ?? formatRdn(parseDN(dn)[0]!);
    const parent = container ?? parentDN(dn);
    let target = `${rdn},${parent}`;
    if (normalizeDN(target) === normalizeDN(dn) && (newRdn === undefined || target === dn)) return dn;
    if (container !== undefined) await containers.ensure(container, createMissing, object);
    const tried = new Set([normalizeDN(target)]);
    for (;;) {
      try {
        await conn.modifyDN(dn, target);
        break;
      } catch (err) {
        if (resultCode(err) !== 68 || numberFrom === undefined || !(await clashes.exists(target))) throw err;
        // The plain value comes first: a move may free "Chris Lee 2" of its number.
        const next = Array.from({ length: MAX_NAME_TRIES }, (_, i) => `${userRdn}=${escapeDNValue(numberedValue(numberFrom, i + 1))},${parent}`).find(
          (candidate) => !tried.has(normalizeDN(candidate)),
        );
        if (next === undefined) throw new RemoteError(object, `${target} and the other numbered variants of ${JSON.stringify(numberFrom)} all exist already`, 68);
        tried.add(normalizeDN(next));
        target = next;
      }
    }
    anchors.remember(id, { dn: target });
    return target;
  }

  async function readUac(dn: string): Promise<number> {
    const [entry] = await conn.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['userAccountControl'] });
    return Number(first(attrsOf(entry ?? { dn }), 'userAccountControl') ?? UAC.NORMAL_ACCOUNT);
  }

  async function setActive(id: string, dn: string, active: boolean, object: string): Promise<string> {
    if (isAD) {
      const uac = await readUac(dn);
      const next = withDisabled(uac, !active);
      if (next !== uac) await conn.modify(dn, [replace('userAccountControl', [String(next)])]);
      return dn;
    }
    if (!deactivate) throw new RemoteError(object, 'deactivation is not configured for this connector: set deactivate.attribute or deactivate.moveTo');
    if ('attribute' in deactivate) {
      await conn.modify(dn, [replace(deactivate.attribute, active ? [] : [deactivate.value])]);
      return dn;
    }
    return dn;
  }

  async function createUser(user: UserInput): Promise<Created> {
    const object = `create user ${user.userName}`;
    return guarded(object, async (at) => {
      await ensureUnique(user.userName, object);
      const attrs: AttrValues = new Map();
      put(attrs, 'objectClass', settings.users.objectClasses);
      for (const [key, attr] of settings.users.map) {
        put(attrs, attr, key === 'enterprise.manager' ? await managerValues(user, object) : valuesFor(key, user));
      }
      for (const req of isAD ? ['cn'] : ['cn', 'sn']) {
        const fb = requiredFallback(req, user, settings);
        if (!attrs.has(req) && fb !== undefined) put(attrs, req, [fb]);
      }
      const rdnValue = String(attrs.get(userRdn.toLowerCase())?.values[0] ?? displayNameOf(user));
      put(attrs, userRdn, [rdnValue]);
      let container = userPlacement.containerFor(user as unknown as Record<string, unknown>);
      let createMissing = userPlacement.createMissing;
      const generatedSam = isAD && !attrs.has('samaccountname');
      if (isAD) {
        const policy = config.ad.initialPassword;
        let uac = UAC.NORMAL_ACCOUNT | UAC.ACCOUNTDISABLE;
        if (policy) {
          // AD accepts unicodePwd only over an encrypted connection; refuse before sending it in clear.
          if (!conn.encrypted) throw new RemoteError(object, 'ad.initialPassword needs ldaps:// or startTLS: AD only accepts passwords over an encrypted connection');
          const password = randomPassword(policy.length);
          registerSecret(password);
          put(attrs, 'unicodePwd', [unicodePwd(password)]);
          if (policy.mustChange) put(attrs, 'pwdLastSet', ['0']);
          uac = user.active ? UAC.NORMAL_ACCOUNT : UAC.NORMAL_ACCOUNT | UAC.ACCOUNTDISABLE;
        }
        put(attrs, 'userAccountControl', [String(uac)]);
      } else if (!user.active && deactivate) {
        if ('attribute' in deactivate) put(attrs, deactivate.attribute, [deactivate.value]);
        else {
          container = deactivate.moveTo;
          createMissing = deactivate.createMissing;
        }
      }
      await containers.ensure(container, createMissing, object);
      const samBase = user.userName.split('@')[0]!;
      const dn = await addWithFreeName(clashes, object, { numberRdn: userRdnDerived, generatedSam }, (t) => {
        const value = numberedValue(rdnValue, t.rdn);
        // The RDN value must be among the attribute's values; AD's cn is single-valued.
        if (t.rdn > 1) setValues(attrs, userRdn, [value]);
        const sam = generatedSam ? samAccountName(samBase, SAM_MAX_USER, t.sam) : undefined;
        if (sam !== undefined) setValues(attrs, 'sAMAccountName', [sam]);
        const target = `${userRdn}=${escapeDNValue(value)},${container}`;
        at(target);
        return { dn: target, sam, add: () => conn.add(target, toAttributes(attrs)) };
      });
      const id = await readAnchor(dn);
      anchors.remember(id, { dn });
      return { id };
    });
  }

  async function updateUser(id: string, desired: UserInput, changed: readonly UserAttribute[]): Promise<void> {
    const object = `update user ${id} (${desired.userName})`;
    return guarded(object, async (at) => {
      let dn = await anchors.dnOf('User', id, object);
      at(dn);
      const changes: Change[] = [];
      let newRdn: string | undefined;
      for (const attribute of changed) {
        for (const [key, attr] of keysForChange(attribute, settings)) {
          let values = key === 'enterprise.manager' ? await managerValues(desired, object) : valuesFor(key, desired);
          if (attr.toLowerCase() === userRdn.toLowerCase()) {
            const value = values[0] ?? requiredFallback(attr, desired, settings);
            if (value !== undefined) newRdn = `${userRdn}=${escapeDNValue(value)}`;
            continue;
          }
          if (values.length === 0) {
            const fb = requiredFallback(attr, desired, settings);
            if (fb !== undefined) values = [fb];
          }
          changes.push(replace(attr, values));
        }
      }
      let container: string | undefined;
      let createMissing = userPlacement.createMissing;
      const moveDisabled = deactivate && 'moveTo' in deactivate ? deactivate : undefined;
      if (moveDisabled && changed.includes('active')) {
        container = desired.active ? userPlacement.containerFor(desired as unknown as Record<string, unknown>) : moveDisabled.moveTo;
        if (!desired.active) createMissing = moveDisabled.createMissing;
      } else if (settings.users.placement && changed.some((c) => userPlacement.dependsOn.has(c))) {
        if (!(moveDisabled && isUnder(dn, moveDisabled.moveTo))) container = userPlacement.containerFor(desired as unknown as Record<string, unknown>);
      }
      const derived = newRdn === undefined ? await derivedRdn(conn, settings, dn, desired, changed, container !== undefined) : {};
      if (derived.rename !== undefined) newRdn = `${userRdn}=${escapeDNValue(derived.rename)}`;
      if (newRdn !== undefined || container !== undefined) dn = await moveEntry(id, dn, newRdn, container, createMissing, object, derived.numberFrom);
      if (changed.includes('active') && !moveDisabled) dn = await setActive(id, dn, desired.active, object);
      await conn.modify(dn, changes);
    });
  }

  async function deactivateUser(id: string): Promise<void> {
    const object = `deactivate user ${id}`;
    return guarded(object, async (at) => {
      const dn = await anchors.dnOf('User', id, object);
      at(dn);
      if (deactivate && 'moveTo' in deactivate) {
        if (!isUnder(dn, deactivate.moveTo)) await moveEntry(id, dn, undefined, deactivate.moveTo, deactivate.createMissing, object);
        return;
      }
      await setActive(id, dn, false, object);
    });
  }

  async function deleteEntry(type: 'User' | 'Group', id: string): Promise<void> {
    const object = `delete ${type === 'User' ? 'user' : 'group'} ${id}`;
    return guarded(object, async (at) => {
      if (!config.allowDelete) throw new RemoteError(object, 'deletes are off for this connector (set allowDelete: true to allow them)');
      const dn = await anchors.dnOf(type, id, object);
      at(dn);
      await conn.del(dn);
      anchors.forget(id);
    });
  }

  async function createGroup(group: GroupInput): Promise<Created> {
    const object = `create group ${group.displayName}`;
    return guarded(object, async (at) => {
      const attrs: AttrValues = new Map();
      put(attrs, 'objectClass', settings.groups.objectClasses);
      for (const [key, attr] of settings.groups.map) {
        const v = group[key];
        if (v) put(attrs, attr, [v]);
      }
      const rdnValue = String(attrs.get(groupRdn.toLowerCase())?.values[0] ?? group.displayName);
      put(attrs, groupRdn, [rdnValue]);
      if (placeholder !== undefined && memberAttr !== 'memberUid') put(attrs, memberAttr, [placeholder]);
      const generatedSam = isAD && !attrs.has('samaccountname');
      if (isAD) put(attrs, 'groupType', [String(config.ad.groupType)]);
      const container = groupPlacement.containerFor(group as unknown as Record<string, unknown>);
      await containers.ensure(container, groupPlacement.createMissing, object);
      // A group's RDN is its display name (mapped by default): a clash is an error, never numbered.
      const dn = await addWithFreeName(clashes, object, { numberRdn: false, generatedSam }, (t) => {
        const sam = generatedSam ? samAccountName(group.displayName, SAM_MAX_GROUP, t.sam) : undefined;
        if (sam !== undefined) setValues(attrs, 'sAMAccountName', [sam]);
        const target = `${groupRdn}=${escapeDNValue(rdnValue)},${container}`;
        at(target);
        return { dn: target, sam, add: () => conn.add(target, toAttributes(attrs)) };
      });
      const id = await readAnchor(dn);
      anchors.remember(id, { dn });
      return { id };
    });
  }

  async function updateGroup(id: string, desired: GroupInput, changed: readonly ('displayName' | 'externalId')[]): Promise<void> {
    const object = `update group ${id} (${desired.displayName})`;
    return guarded(object, async (at) => {
      let dn = await anchors.dnOf('Group', id, object);
      at(dn);
      const changes: Change[] = [];
      let newRdn: string | undefined;
      for (const [key, attr] of settings.groups.map) {
        if (!changed.includes(key)) continue;
        const v = desired[key];
        if (attr.toLowerCase() === groupRdn.toLowerCase()) {
          if (v) newRdn = `${groupRdn}=${escapeDNValue(v)}`;
          continue;
        }
        changes.push(replace(attr, v ? [v] : []));
      }
      if (newRdn !== undefined) dn = await moveEntry(id, dn, newRdn, undefined, false, object);
      await conn.modify(dn, changes);
    });
  }

  /** Current member values of a group, normalised (DNs) or as they are (uids). */
  async function currentMembers(dn: string): Promise<Set<string>> {
    let values: string[];
    if (isAD && memberAttr === 'member') {
      values = await readAllValues(await conn.bound(), dn, 'member', undefined, config.ad.rangeSize);
    } else {
      const [entry] = await conn.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [memberAttr] });
      values = strings(attrsOf(entry ?? { dn }), memberAttr);
    }
    return new Set(memberAttr === 'memberUid' ? values : values.map(normalizeDN));
  }

  async function changeMembers(verb: 'add' | 'remove', groupId: string, members: readonly MemberRef[]): Promise<void> {
    const object = describeMemberChange(verb, groupId, members);
    return guarded(object, async (at) => {
      const dn = await anchors.dnOf('Group', groupId, object);
      at(dn);
      if (members.length === 0) return;
      const users = await anchors.locate('User', members.filter((m) => m.type === 'User').map((m) => m.value));
      const groups = await anchors.locate('Group', members.filter((m) => m.type === 'Group').map((m) => m.value));
      const values: string[] = [];
      for (const m of members) {
        const found = (m.type === 'User' ? users : groups).get(m.value);
        if (!found) throw anchors.missing(m.type, m.value, `${object}: member ${m.type}:${m.value}`);
        if (memberAttr === 'memberUid') {
          if (m.type === 'Group' || found.uid === undefined) throw new RemoteError(object, `member ${m.type}:${m.value} (${found.dn}) has no uid for memberUid`);
          values.push(found.uid);
        } else values.push(found.dn);
      }
      const key = (v: string) => (memberAttr === 'memberUid' ? v : normalizeDN(v));
      const current = await currentMembers(dn);
      const placeholderKey = placeholder !== undefined && memberAttr !== 'memberUid' ? normalizeDN(placeholder) : undefined;
      const seen = new Set<string>();
      const todo = values.filter((v) => {
        const k = key(v);
        if (seen.has(k) || current.has(k) !== (verb === 'remove')) return false;
        seen.add(k);
        return true;
      });
      if (todo.length === 0) return;
      const size = config.memberChunkSize;
      const remaining = verb === 'remove' ? [...current].filter((k) => k !== placeholderKey && !seen.has(k)).length : 0;
      for (let i = 0; i < todo.length; i += size) {
        const chunk = todo.slice(i, i + size);
        const changes: Change[] = [];
        if (verb === 'add') {
          changes.push(addValues(memberAttr, chunk));
          // The placeholder only fills an empty group: it goes with the first real member.
          if (i === 0 && placeholderKey && current.has(placeholderKey)) changes.push(deleteValues(memberAttr, [placeholder!]));
        } else {
          // The schema wants one member at least: the last removal brings the placeholder back.
          if (i + size >= todo.length && placeholderKey && remaining === 0 && !current.has(placeholderKey)) changes.push(addValues(memberAttr, [placeholder!]));
          changes.push(deleteValues(memberAttr, chunk));
        }
        try {
          await conn.modify(dn, changes);
        } catch (err) {
          const range = todo.length > size ? ` (values ${i + 1}–${i + chunk.length} of ${todo.length})` : '';
          if (err instanceof ResultCodeError) throw remoteError(`${object} at ${dn}${range}`, err);
          throw err;
        }
      }
    });
  }

  return {
    createUser,
    updateUser,
    deactivateUser,
    deleteUser: (id) => deleteEntry('User', id),
    createGroup,
    updateGroup,
    deleteGroup: (id) => deleteEntry('Group', id),
    addMembers: (groupId, members) => changeMembers('add', groupId, members),
    removeMembers: (groupId, members) => changeMembers('remove', groupId, members),
  };
}
