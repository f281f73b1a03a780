import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { embeddedConnector } from '../../../connectors/embedded/index.js';
import { embeddedConfigSchema } from '../../../connectors/embedded/config.js';
import { DIR_SCHEMA_VERSION, DirectoryStore } from '../../../connectors/embedded/store.js';
import type { Connector } from '../../../src/core/connector.js';
import { ConnectorError, RemoteError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { Group, User } from '../../../src/core/model.js';

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scim-sync-embedded-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'sub', 'state.db');
}

function connect(path: string, config: { readOnly?: boolean } = {}): Connector {
  const c = embeddedConnector.create(config, { name: 'dir', configDir: '.', statePath: path, logger: silentLogger, warn() {} });
  onTestFinished(() => c.close());
  return c;
}

async function list(c: Connector): Promise<{ users: User[]; groups: Group[] }> {
  const users: User[] = [];
  const groups: Group[] = [];
  for await (const u of c.reader!.listUsers()) users.push(u);
  for await (const g of c.reader!.listGroups()) groups.push(g);
  return { users, groups };
}

async function rejection(p: Promise<unknown>): Promise<RemoteError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RemoteError);
  return err as RemoteError;
}

describe('embedded connector', () => {
  it('declares its type and capabilities', () => {
    expect(embeddedConnector.type).toBe('embedded');
    expect(embeddedConnector.capabilities).toEqual({
      read: true,
      write: true,
      nestedGroups: true,
      deactivate: true,
      delete: true,
      delta: false,
    });
  });

  it('has a strict config schema', () => {
    expect(embeddedConfigSchema.safeParse({}).success).toBe(true);
    expect(embeddedConfigSchema.safeParse({ readOnly: true }).success).toBe(true);
    expect(embeddedConfigSchema.safeParse({ path: 'x' }).success).toBe(false);
  });

  it('lists user and group members as stored, and groups without members', async () => {
    const path = tempPath();
    const store = new DirectoryStore(path);
    onTestFinished(() => store.close());
    const odd = ['quote"d', 'back\\slash', 'zoë 🙂'];
    const users = odd.map((n) => store.createUser({ userName: n, active: true }));
    const child = store.createGroup({ displayName: 'child' });
    const parent = store.createGroup({ displayName: 'parent "p"' });
    store.createGroup({ displayName: 'empty' });
    store.addMembers(parent, [...users.map((value) => ({ type: 'User' as const, value })), { type: 'Group', value: child }]);
    const { groups } = await list(connect(path));
    const byName = new Map(groups.map((g) => [g.displayName, g]));
    expect(byName.get('empty')!.members).toEqual([]);
    expect(byName.get('child')!.members).toEqual([]);
    expect([...byName.get('parent "p"')!.members].sort((a, b) => (a.value < b.value ? -1 : 1))).toEqual(
      [...users.map((value) => ({ type: 'User', value })), { type: 'Group', value: child }].sort((a, b) => (a.value < b.value ? -1 : 1)),
    );
    const stored = store.getGroup(parent)!.group.members;
    expect(new Set(byName.get('parent "p"')!.members.map((m) => `${m.type}:${m.value}`))).toEqual(new Set(stored.map((m) => `${m.type}:${m.value}`)));
  });

  it('readOnly exposes no writer', () => {
    const c = connect(tempPath(), { readOnly: true });
    expect(c.writer).toBeUndefined();
    expect(c.reader).toBeDefined();
  });

  it('userAttributes is everything but externalId', () => {
    const attrs = connect(tempPath()).reader!.userAttributes();
    expect(attrs).not.toContain('externalId');
    expect(attrs).toContain('userName');
    expect(attrs).toContain('enterprise.manager');
  });

  it('check() creates the file and reports counts', async () => {
    const c = connect(tempPath());
    await c.writer!.createUser({ userName: 'a', active: true });
    const result = await c.check();
    expect(result.ok).toBe(true);
    expect(result.details[0]).toMatch(/1 users, 0 groups/);
  });

  it('refuses a duplicate userName case-insensitively, naming the existing id', async () => {
    const c = connect(tempPath());
    const { id } = await c.writer!.createUser({ userName: 'JDoe@example.com', active: true });
    const err = await rejection(c.writer!.createUser({ userName: 'jdoe@EXAMPLE.com', active: true }));
    expect(err.status).toBe(409);
    expect(err.object).toBe('create user jdoe@EXAMPLE.com');
    expect(err.detail).toBe(`userName already exists (id ${id})`);
    // Renaming onto a taken userName is refused too.
    const { id: other } = await c.writer!.createUser({ userName: 'other', active: true });
    const err2 = await rejection(c.writer!.updateUser(other, { userName: 'JDOE@example.com', active: true }, ['userName']));
    expect(err2.status).toBe(409);
  });

  it('refuses a user without userName and a group without displayName', async () => {
    const c = connect(tempPath());
    expect((await rejection(c.writer!.createUser({ userName: '', active: true }))).status).toBe(400);
    expect((await rejection(c.writer!.createGroup({ displayName: ' ' }))).status).toBe(400);
    const { id } = await c.writer!.createUser({ userName: 'a', active: true });
    expect((await rejection(c.writer!.updateUser(id, { active: true } as never, ['userName']))).status).toBe(400);
  });

  it('keeps a refused call from failing the others batched with it', async () => {
    const c = connect(tempPath());
    await c.writer!.createUser({ userName: 'taken', active: true });
    const results = await Promise.allSettled(
      ['a', 'taken', 'b', 'TAKEN', 'c'].map((userName) => c.writer!.createUser({ userName, active: true })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect((await list(c)).users.map((u) => u.userName).sort()).toEqual(['a', 'b', 'c', 'taken']);
  });

  it('stores only model attributes and keeps update metadata', async () => {
    const path = tempPath();
    const c = connect(path);
    const input = { userName: 'a', active: true, raw: { secret: 1 }, id: 'ignored' };
    const { id } = await c.writer!.createUser(input as never);
    expect(id).not.toBe('ignored');
    const store = new DirectoryStore(path);
    onTestFinished(() => store.close());
    const before = store.getUser(id)!;
    expect(before.user).toEqual({ id, userName: 'a', active: true });
    expect(before.meta.version).toBe(1);
    await c.writer!.updateUser(id, { userName: 'a', active: true, title: 'T' }, ['title']);
    const after = store.getUser(id)!;
    expect(after.user.title).toBe('T');
    expect(after.meta.version).toBe(2);
    expect(after.meta.created).toBe(before.meta.created);
    expect(store.findUserByUserName('A')?.user.id).toBe(id);
    expect(store.findUserByUserName('nobody')).toBeUndefined();
  });

  it('finds users and groups by externalId and displayName', async () => {
    const path = tempPath();
    const c = connect(path);
    const { id: u } = await c.writer!.createUser({ userName: 'a', active: true, externalId: 'E1' });
    const { id: g } = await c.writer!.createGroup({ displayName: 'Sales', externalId: 'G1' });
    await c.writer!.addMembers(g, [{ type: 'User', value: u }]);
    const store = new DirectoryStore(path);
    onTestFinished(() => store.close());
    expect(store.findUsersByExternalId('E1').map((s) => s.user.id)).toEqual([u]);
    expect(store.findGroupsByExternalId('G1').map((s) => s.group.id)).toEqual([g]);
    expect(store.findGroupByDisplayName('sales')?.group).toEqual({
      id: g,
      displayName: 'Sales',
      externalId: 'G1',
      members: [{ type: 'User', value: u }],
    });
    expect(store.getGroup('nope')).toBeUndefined();
  });

  it('removes a deleted user or group from every group it was in', async () => {
    const c = connect(tempPath());
    const w = c.writer!;
    const { id: u1 } = await w.createUser({ userName: 'u1', active: true });
    const { id: u2 } = await w.createUser({ userName: 'u2', active: true });
    const { id: parent } = await w.createGroup({ displayName: 'parent' });
    const { id: child } = await w.createGroup({ displayName: 'child' });
    await w.addMembers(parent, [
      { type: 'User', value: u1 },
      { type: 'User', value: u2 },
      { type: 'Group', value: child },
    ]);
    await w.addMembers(child, [{ type: 'User', value: u1 }]);
    await w.deleteUser(u1);
    await w.deleteGroup(child);
    const { groups } = await list(c);
    expect(groups).toEqual([{ id: parent, displayName: 'parent', members: [{ type: 'User', value: u2 }] }]);
    expect((await rejection(w.deleteUser(u1))).status).toBe(404);
  });

  it('refuses a group as its own member and names a missing member', async () => {
    const c = connect(tempPath());
    const { id: g } = await c.writer!.createGroup({ displayName: 'g' });
    expect((await rejection(c.writer!.addMembers(g, [{ type: 'Group', value: g }]))).status).toBe(400);
    const { id: u } = await c.writer!.createUser({ userName: 'u', active: true });
    const err = await rejection(
      c.writer!.addMembers(g, [
        { type: 'User', value: u },
        { type: 'User', value: 'ghost' },
      ]),
    );
    expect(err.status).toBe(404);
    expect(err.object).toContain('ghost');
    // All or nothing: the valid member was not added either.
    expect((await list(c)).groups[0]?.members).toEqual([]);
  });

  it('refuses a directory schema newer than it knows, leaving user_version alone', async () => {
    const path = tempPath();
    const c = connect(path);
    await c.check();
    await c.close();
    const db = new Database(path);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.prepare('SELECT version FROM dir_schema').pluck().get()).toBe(DIR_SCHEMA_VERSION);
    db.prepare('UPDATE dir_schema SET version = ?').run(DIR_SCHEMA_VERSION + 1);
    db.close();
    const again = connect(path);
    await expect(again.check()).rejects.toThrow(ConnectorError);
    await expect(again.check()).rejects.toThrow(/newer than this scim-sync understands/);
  });

  it('flushes queued writes on close', async () => {
    const path = tempPath();
    const c = connect(path);
    const pending = c.writer!.createUser({ userName: 'late', active: true });
    await c.close();
    await pending;
    const store = new DirectoryStore(path);
    expect(store.findUserByUserName('late')).toBeDefined();
    store.close();
  });
});
