import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, openState } from '../../src/state/open.js';
import { LATEST_VERSION, migrate, schemaVersion } from '../../src/state/migrations.js';
import type { Migration } from '../../src/state/migrations.js';
import { StateError } from '../../src/state/errors.js';
import { tempStatePath } from './helpers.js';

describe('state migrations', () => {
  it('creates the parent directory and brings a new file to the latest version', () => {
    const path = tempStatePath();
    const state = openState(path);
    state.close();
    const db = new Database(path);
    expect(schemaVersion(db)).toBe(LATEST_VERSION);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['job_serials', 'links', 'locks', 'runs']));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('is idempotent on reopen and keeps data', () => {
    const path = tempStatePath();
    const a = openState(path);
    a.link('j', 'user', { sourceId: 's1', targetId: 't1', origin: 'created', fingerprint: null });
    a.close();
    const b = openState(path);
    expect(b.loadLinks('j').users.get('s1')?.targetId).toBe('t1');
    b.close();
  });

  it('refuses a file written by a newer version, naming both versions', () => {
    const path = tempStatePath();
    openState(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${LATEST_VERSION + 5}`);
    db.close();
    let caught: unknown;
    try {
      openState(path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StateError);
    expect((caught as Error).message).toContain(`schema version ${LATEST_VERSION + 5} is newer`);
    expect((caught as Error).message).toContain(`(${LATEST_VERSION})`);
  });

  it('runs each step in its own transaction: a failing step leaves the previous version intact', () => {
    const db = openDatabase(tempStatePath());
    const steps: Migration[] = [
      { version: 1, description: 'a', up: (d) => d.exec('CREATE TABLE a (x)') },
      {
        version: 2,
        description: 'b fails halfway',
        up: (d) => {
          d.exec('CREATE TABLE b (x)');
          throw new Error('boom');
        },
      },
    ];
    expect(() => migrate(db, 'test.db', steps)).toThrow('boom');
    expect(schemaVersion(db)).toBe(1);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    expect(tables).toContain('a');
    expect(tables).not.toContain('b');
    // Fixed step 2 applies on the next open.
    steps[1] = { version: 2, description: 'b', up: (d) => d.exec('CREATE TABLE b (x)') };
    migrate(db, 'test.db', steps);
    expect(schemaVersion(db)).toBe(2);
    db.close();
  });

  it('reports a non-SQLite file as a StateError', async () => {
    const path = tempStatePath();
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { dirname } = await import('node:path');
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, 'this is not a database, just some text that is long enough to have a header'.repeat(20));
    expect(() => openState(path)).toThrow(StateError);
  });
});
