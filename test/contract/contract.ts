import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_ATTRIBUTES, canonicalJson } from '../../src/core/attributes.js';
import type { Capabilities, Connector } from '../../src/core/connector.js';
import { RemoteError } from '../../src/core/errors.js';
import type { Group, MemberRef, User, UserInput } from '../../src/core/model.js';

/**
 * Checks every connector must pass, looped over each connector by a small `<type>.test.ts`
 * (kysely's pattern: one suite, many adapters). Connector-specific behaviour belongs in the
 * connector's own tests, not here.
 */

export interface ReaderSetup {
  connector: Connector;
  /** How many objects the fixture behind `connector` holds. */
  expected: { users: number; groups: number };
  cleanup(): Promise<void>;
}

export interface WriterSetup {
  connector: Connector;
  /** Defaults to all-true; a false entry skips the checks that need it. */
  capabilities?: Partial<Capabilities>;
  /**
   * How to read the target back; defaults to the connector's own reader. A write-only connector
   * (an export) supplies its own.
   */
  snapshot?: () => Promise<{ users: User[]; groups: Group[] }>;
  /** An id that names no object on the target (for 404 checks); defaults to a random UUID. */
  missingId?: string;
  cleanup(): Promise<void>;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function readAll(connector: Connector): Promise<{ users: User[]; groups: Group[] }> {
  const reader = connector.reader;
  if (!reader) throw new Error('connector has no reader');
  return { users: await collect(reader.listUsers()), groups: await collect(reader.listGroups()) };
}

/** Comparable form of a listing: objects by id, members sorted, `raw` left out. */
function canonicalListing(users: User[], groups: Group[]): string {
  const strip = <T extends { id: string }>(list: T[]) =>
    [...list]
      .map(({ raw: _raw, ...rest }: T & { raw?: unknown }) => rest)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const gs = strip(groups).map((g) => ({
    ...g,
    members: [...g.members].map((m) => `${m.type}:${m.value}`).sort(),
  }));
  return canonicalJson({ users: strip(users), groups: gs });
}

export function describeReaderContract(name: string, setup: () => Promise<ReaderSetup>): void {
  describe(`reader contract: ${name}`, () => {
    let ctx: ReaderSetup;
    let first: { users: User[]; groups: Group[] };

    beforeAll(async () => {
      ctx = await setup();
      first = await readAll(ctx.connector);
    });
    afterAll(async () => {
      await ctx?.connector.close();
      await ctx?.cleanup();
    });

    it('check() succeeds and says something', async () => {
      const result = await ctx.connector.check();
      expect(result.ok).toBe(true);
      expect(result.details.length).toBeGreaterThan(0);
    });

    it('lists every object', () => {
      expect(first.users).toHaveLength(ctx.expected.users);
      expect(first.groups).toHaveLength(ctx.expected.groups);
    });

    it('gives the same listing when read twice', async () => {
      const second = await readAll(ctx.connector);
      expect(canonicalListing(second.users, second.groups)).toBe(canonicalListing(first.users, first.groups));
    });

    it('gives unique, non-empty ids', () => {
      for (const list of [first.users, first.groups]) {
        const ids = list.map((o) => o.id);
        expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
        expect(new Set(ids).size).toBe(ids.length);
      }
    });

    it('gives every user a userName and a boolean active, every group a displayName', () => {
      for (const u of first.users) {
        expect(typeof u.userName === 'string' && u.userName !== '', `user ${u.id} userName`).toBe(true);
        expect(typeof u.active, `user ${u.id} active`).toBe('boolean');
      }
      for (const g of first.groups) {
        expect(typeof g.displayName === 'string' && g.displayName !== '', `group ${g.id} displayName`).toBe(true);
        expect(Array.isArray(g.members), `group ${g.id} members`).toBe(true);
      }
    });

    it('lists only members that are themselves listed', () => {
      const users = new Set(first.users.map((u) => u.id));
      const groups = new Set(first.groups.map((g) => g.id));
      const dangling: string[] = [];
      for (const g of first.groups) {
        const seen = new Set<string>();
        for (const m of g.members) {
          const key = `${m.type}:${m.value}`;
          expect(seen.has(key), `group ${g.id} lists ${key} twice`).toBe(false);
          seen.add(key);
          const known = m.type === 'User' ? users.has(m.value) : m.type === 'Group' ? groups.has(m.value) : false;
          if (!known) dangling.push(`${g.id} → ${key}`);
        }
      }
      expect(dangling).toEqual([]);
    });

    it('declares only known user attributes, each once', () => {
      const attrs = ctx.connector.reader!.userAttributes();
      const known: ReadonlySet<string> = new Set(USER_ATTRIBUTES);
      expect(attrs.filter((a) => !known.has(a))).toEqual([]);
      expect(new Set(attrs).size).toBe(attrs.length);
    });
  });
}

export function describeWriterContract(name: string, setup: () => Promise<WriterSetup>): void {
  describe(`writer contract: ${name}`, () => {
    let ctx: WriterSetup;
    let caps: Capabilities;
    const tag = randomUUID().slice(0, 8);

    beforeAll(async () => {
      ctx = await setup();
      caps = { read: true, write: true, nestedGroups: true, deactivate: true, delete: true, delta: false, ...ctx.capabilities };
    });
    afterAll(async () => {
      await ctx?.connector.close();
      await ctx?.cleanup();
    });

    const writer = () => {
      const w = ctx.connector.writer;
      if (!w) throw new Error('connector has no writer');
      return w;
    };
    const snapshot = () => (ctx.snapshot ? ctx.snapshot() : readAll(ctx.connector));
    const userById = async (id: string) => (await snapshot()).users.find((u) => u.id === id);
    const groupById = async (id: string) => (await snapshot()).groups.find((g) => g.id === id);
    const missing = () => ctx.missingId ?? randomUUID();

    /** The call fails with a RemoteError whose text names `mention`. */
    async function expectRemoteError(call: Promise<unknown>, mention: string): Promise<RemoteError> {
      let caught: unknown;
      try {
        await call;
      } catch (err) {
        caught = err;
      }
      expect(caught, 'expected a RemoteError').toBeInstanceOf(RemoteError);
      const err = caught as RemoteError;
      expect(`${err.object} ${err.detail}`).toContain(mention);
      return err;
    }

    const sampleUser = (suffix: string): UserInput => ({
      userName: `contract-${tag}-${suffix}@example.com`,
      externalId: `ext-${tag}-${suffix}`,
      active: true,
      displayName: `Contract ${suffix}`,
      nickName: `nick-${suffix}`,
      title: 'Tester',
      name: { givenName: 'Con', familyName: `Tract ${suffix}` },
      emails: [{ value: `contract-${tag}-${suffix}@example.com`, type: 'work', primary: true }],
      enterprise: { department: 'QA' },
    });

    it('creates a user and reads it back', async () => {
      const input = sampleUser('create');
      const { id } = await writer().createUser(input);
      expect(typeof id === 'string' && id !== '').toBe(true);
      const user = await userById(id);
      expect(user).toMatchObject({ ...input, id });
    });

    it('updates only the changed attributes', async () => {
      const input = sampleUser('update');
      const { id } = await writer().createUser(input);
      // desired carries only what the job manages; title is someone else's and must survive.
      const desired: UserInput = {
        userName: `contract-${tag}-renamed@example.com`,
        active: true,
        displayName: 'Renamed',
        name: { givenName: 'Con', familyName: 'Renamed' },
      };
      await writer().updateUser(id, desired, ['userName', 'displayName', 'name.familyName', 'nickName']);
      const user = await userById(id);
      expect(user).toBeDefined();
      expect(user!.userName).toBe(desired.userName);
      expect(user!.displayName).toBe('Renamed');
      expect(user!.name?.familyName).toBe('Renamed');
      expect(user!.name?.givenName).toBe('Con');
      expect(user!.nickName, 'a changed attribute absent from desired is cleared').toBeUndefined();
      expect(user!.title, 'an unchanged attribute survives').toBe('Tester');
      expect(user!.emails).toEqual(input.emails);
      expect(user!.externalId).toBe(input.externalId);
    });

    it('deactivates a user', async () => {
      if (!caps.deactivate) return;
      const { id } = await writer().createUser(sampleUser('deactivate'));
      await writer().deactivateUser(id);
      const user = await userById(id);
      expect(user?.active).toBe(false);
      // Deactivating again is harmless.
      await writer().deactivateUser(id);
      expect((await userById(id))?.active).toBe(false);
    });

    it('creates and updates a group', async () => {
      const { id } = await writer().createGroup({ displayName: `Contract ${tag} G`, externalId: `gext-${tag}` });
      expect(await groupById(id)).toMatchObject({ id, displayName: `Contract ${tag} G`, externalId: `gext-${tag}`, members: [] });
      await writer().updateGroup(id, { displayName: `Contract ${tag} G2` }, ['displayName']);
      expect(await groupById(id)).toMatchObject({ displayName: `Contract ${tag} G2`, externalId: `gext-${tag}` });
    });

    it('adds and removes members idempotently', async () => {
      const w = writer();
      const { id: groupId } = await w.createGroup({ displayName: `Contract ${tag} members` });
      const { id: u1 } = await w.createUser(sampleUser('m1'));
      const { id: u2 } = await w.createUser(sampleUser('m2'));
      const members: MemberRef[] = [
        { type: 'User', value: u1 },
        { type: 'User', value: u2 },
      ];
      let child: string | undefined;
      if (caps.nestedGroups) {
        child = (await w.createGroup({ displayName: `Contract ${tag} child` })).id;
        members.push({ type: 'Group', value: child });
      }
      const keys = (g: Group | undefined) => (g?.members ?? []).map((m) => `${m.type}:${m.value}`).sort();
      await w.addMembers(groupId, members);
      await w.addMembers(groupId, members.slice(0, 1));
      expect(keys(await groupById(groupId))).toEqual(members.map((m) => `${m.type}:${m.value}`).sort());
      await w.removeMembers(groupId, [members[0]!]);
      await w.removeMembers(groupId, [members[0]!]);
      expect(keys(await groupById(groupId))).toEqual(members.slice(1).map((m) => `${m.type}:${m.value}`).sort());
      await w.addMembers(groupId, []);
      await w.removeMembers(groupId, []);
    });

    it('deletes users and groups', async () => {
      if (!caps.delete) return;
      const { id: userId } = await writer().createUser(sampleUser('delete'));
      const { id: groupId } = await writer().createGroup({ displayName: `Contract ${tag} delete` });
      await writer().deleteUser(userId);
      await writer().deleteGroup(groupId);
      const after = await snapshot();
      expect(after.users.some((u) => u.id === userId)).toBe(false);
      expect(after.groups.some((g) => g.id === groupId)).toBe(false);
    });

    it('refuses a duplicate userName with a RemoteError naming it', async () => {
      const input = sampleUser('dup');
      await writer().createUser(input);
      await expectRemoteError(writer().createUser({ ...input, externalId: 'other' }), input.userName);
    });

    it('reports operations on missing objects as RemoteErrors naming the id', async () => {
      const id = missing();
      const w = writer();
      await expectRemoteError(w.updateUser(id, sampleUser('x'), ['title']), id);
      if (caps.deactivate) await expectRemoteError(w.deactivateUser(id), id);
      if (caps.delete) {
        await expectRemoteError(w.deleteUser(id), id);
        await expectRemoteError(w.deleteGroup(id), id);
      }
      await expectRemoteError(w.updateGroup(id, { displayName: 'x' }, ['displayName']), id);
      await expectRemoteError(w.addMembers(id, []), id);
    });

    it('refuses to add a member that does not exist, naming it', async () => {
      const { id: groupId } = await writer().createGroup({ displayName: `Contract ${tag} ghost` });
      const ghost = missing();
      await expectRemoteError(writer().addMembers(groupId, [{ type: 'User', value: ghost }]), ghost);
    });
  });
}
