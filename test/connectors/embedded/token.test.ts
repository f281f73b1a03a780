import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { embeddedConnector } from '../../../connectors/embedded/index.js';
import type { Connector } from '../../../src/core/connector.js';
import { silentLogger } from '../../../src/core/logger.js';

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scim-sync-embedded-token-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'state.db');
}

function connect(path: string): Connector {
  const c = embeddedConnector.create({}, { name: 'dir', configDir: '.', statePath: path, logger: silentLogger, warn() {} });
  onTestFinished(() => c.close());
  return c;
}

/** A second, independent connection, as the sqlite3 CLI or another process would have. */
function outside(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  onTestFinished(() => {
    db.close();
  });
  return db;
}

const token = (c: Connector) => c.reader!.snapshotToken!();

async function readAll(c: Connector): Promise<void> {
  for await (const _ of c.reader!.listUsers()) void _;
  for await (const _ of c.reader!.listGroups()) void _;
}

describe('embedded snapshot token', () => {
  it('is stable across reads and connector instances', async () => {
    const path = tempPath();
    const c = connect(path);
    await c.writer!.createUser({ userName: 'a@example.com', active: true });
    const before = await token(c);
    expect(before).toMatch(/^[0-9a-f-]{36}:\d+$/);
    await readAll(c);
    expect(await token(c)).toBe(before);
    expect(await token(connect(path))).toBe(before);
  });

  it('changes after every kind of write through the connector', async () => {
    const c = connect(tempPath());
    const w = c.writer!;
    const seen = new Set<string>([(await token(c))!]);
    const expectNew = async () => {
      const t = (await token(c))!;
      expect(seen.has(t)).toBe(false);
      seen.add(t);
    };
    const { id: u } = await w.createUser({ userName: 'a@example.com', active: true });
    await expectNew();
    await w.updateUser(u, { userName: 'a@example.com', active: true, title: 'Boss' }, ['title']);
    await expectNew();
    const { id: g } = await w.createGroup({ displayName: 'Admins' });
    await expectNew();
    await w.addMembers(g, [{ type: 'User', value: u }]);
    await expectNew();
    await w.removeMembers(g, [{ type: 'User', value: u }]);
    await expectNew();
    await w.deactivateUser(u);
    await expectNew();
    await w.deleteGroup(g);
    await expectNew();
    await w.deleteUser(u);
    await expectNew();
  });

  it('changes after a direct UPDATE through a separate connection (a write the connector never saw)', async () => {
    const path = tempPath();
    const c = connect(path);
    await c.writer!.createUser({ userName: 'a@example.com', active: true, title: 'Engineer' });
    const before = await token(c);
    const db = outside(path);
    const changed = db.prepare("UPDATE dir_users SET data = json_set(data, '$.title', 'Boss')").run().changes;
    expect(changed).toBe(1);
    expect(await token(c)).not.toBe(before);
  });

  it('changes after direct inserts and deletes on memberships', async () => {
    const path = tempPath();
    const c = connect(path);
    const { id: u } = await c.writer!.createUser({ userName: 'a@example.com', active: true });
    const { id: g } = await c.writer!.createGroup({ displayName: 'Admins' });
    const db = outside(path);
    const t0 = await token(c);
    db.prepare("INSERT INTO dir_members (group_id, member_type, member_id) VALUES (?, 'User', ?)").run(g, u);
    const t1 = await token(c);
    expect(t1).not.toBe(t0);
    db.prepare('DELETE FROM dir_members').run();
    expect(await token(c)).not.toBe(t1);
  });

  it('never repeats a token of a deleted and re-created directory', async () => {
    const first = tempPath();
    const second = tempPath();
    // Two fresh directories with the same history have the same counter but not the same instance.
    const a = connect(first);
    const b = connect(second);
    await a.writer!.createUser({ userName: 'a@example.com', active: true });
    await b.writer!.createUser({ userName: 'a@example.com', active: true });
    const ta = (await token(a))!;
    const tb = (await token(b))!;
    expect(ta.split(':')[1]).toBe(tb.split(':')[1]);
    expect(ta).not.toBe(tb);
  });

  it('a directory made before the content version gets one on upgrade, with its data kept', async () => {
    const path = tempPath();
    const c = connect(path);
    await c.writer!.createUser({ userName: 'a@example.com', active: true });
    await c.close();
    // Back to schema 1 as an older release left it: no dir_meta, no version triggers.
    const db = outside(path);
    for (const name of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_bump'").pluck().all()) {
      db.exec(`DROP TRIGGER ${String(name)}`);
    }
    db.exec('DROP TABLE dir_meta; UPDATE dir_schema SET version = 1');
    const upgraded = connect(path);
    const before = await token(upgraded);
    expect(before).toMatch(/:0$/);
    db.prepare("UPDATE dir_users SET data = json_set(data, '$.title', 'Boss')").run();
    expect(await token(upgraded)).not.toBe(before);
    const users = [];
    for await (const u of upgraded.reader!.listUsers()) users.push(u);
    expect(users.map((u) => u.title)).toEqual(['Boss']);
  });

  it('is undefined when the meta row was removed by hand', async () => {
    const path = tempPath();
    const c = connect(path);
    await readAll(c);
    outside(path).prepare('DELETE FROM dir_meta').run();
    expect(await token(c)).toBeUndefined();
  });
});
