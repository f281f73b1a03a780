import { describe, expect, it } from 'vitest';
import type { DeltaReader, DirectoryReader, SourceGroup, SourceUser } from '../../src/core/connector.js';
import { ConnectorError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { JobConfig } from '../../src/config/types.js';
import { readSource } from '../../src/engine/source-read.js';
import { openState } from '../../src/state/index.js';
import type { StateStore } from '../../src/state/types.js';
import { tempStatePath } from '../state/helpers.js';
import { testJob } from '../support/job.js';

/**
 * The engine's side of delta reads: merging into the snapshot kept in state, when to read in
 * full, and never moving the stored snapshot on a failed read. The source here is an in-memory
 * directory with a change clock, standing in for LDAP/AD/SCIM (whose own delta code is tested
 * against real servers in their connector tests).
 */
class ClockedDirectory implements DirectoryReader, DeltaReader {
  clock = 0;
  users = new Map<string, { user: SourceUser; at: number }>();
  groups = new Map<string, { group: SourceGroup; at: number }>();
  calls: string[] = [];
  failChangedUsers = false;

  putUser(id: string, title: string): void {
    this.users.set(id, { user: { id, userName: `${id}@example.com`, active: true, title, raw: { dept: title } }, at: ++this.clock });
  }
  putGroup(id: string, members: string[]): void {
    this.groups.set(id, { group: { id, displayName: id, members: members.map((value) => ({ type: 'User', value })) }, at: ++this.clock });
  }
  async *listUsers() {
    this.calls.push('listUsers');
    for (const { user } of this.users.values()) yield user;
  }
  async *listGroups() {
    this.calls.push('listGroups');
    for (const { group } of this.groups.values()) yield group;
  }
  userAttributes() {
    return ['userName', 'active', 'title'] as const;
  }
  async watermark() {
    this.calls.push('watermark');
    return String(this.clock);
  }
  async *changedUsers(since: string) {
    this.calls.push(`changedUsers>${since}`);
    for (const { user, at } of this.users.values()) {
      if (this.failChangedUsers) throw new Error('connection reset');
      if (at > Number(since)) yield user;
    }
  }
  async *changedGroups(since: string) {
    this.calls.push(`changedGroups>${since}`);
    for (const { group, at } of this.groups.values()) if (at > Number(since)) yield group;
  }
}

const DAY = 86_400_000;

function job(delta: Partial<JobConfig['delta']> = {}): JobConfig {
  return testJob({ source: 'src', delta: { enabled: true, fullReadEvery: DAY, ...delta } });
}

function setup() {
  const dir = new ClockedDirectory();
  for (let i = 1; i <= 5; i++) dir.putUser(`u${i}`, 'Engineer');
  dir.putGroup('g1', ['u1', 'u2']);
  const state = openState(tempStatePath());
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const read = (opts: { at?: number; full?: boolean; job?: JobConfig; config?: unknown; delta?: DeltaReader | undefined } = {}) =>
    readSource({
      state,
      logger: silentLogger,
      job: opts.job ?? job(),
      sourceName: 'src',
      sourceConfig: opts.config ?? { type: 'test', base: 'ou=people' },
      reader: dir,
      delta: () => ('delta' in opts ? opts.delta : dir),
      full: opts.full ?? false,
      now: new Date(t0 + (opts.at ?? 0)),
    });
  return { dir, state, read };
}

function titles(users: Map<string, SourceUser>): Record<string, string | undefined> {
  return Object.fromEntries([...users.values()].map((u) => [u.id, u.title]));
}

function stored(state: StateStore) {
  const s = state.loadSourceSnapshot('j');
  return s && { users: s.users.map((u) => u.id).sort(), watermark: s.meta.watermark };
}

describe('readSource (delta reads)', () => {
  it('reads in full first, then only what changed, merged into the kept snapshot', async () => {
    const { dir, state, read } = setup();
    const first = await read();
    expect(first.mode).toBe('full');
    first.commit();
    expect(stored(state)).toEqual({ users: ['u1', 'u2', 'u3', 'u4', 'u5'], watermark: '6' });

    dir.putUser('u2', 'Manager');
    dir.putUser('u6', 'Intern');
    dir.putGroup('g1', ['u1', 'u2', 'u6']);
    dir.calls = [];
    const second = await read({ at: 3_600_000 });
    expect(second.mode).toBe('delta');
    expect(second.changed).toEqual({ users: 2, groups: 1 });
    // The watermark is taken before listing, so changes made during the listing are seen again.
    expect(dir.calls).toEqual(['watermark', 'changedUsers>6', 'changedGroups>6']);
    expect(titles(second.snapshot.users)).toEqual({ u1: 'Engineer', u2: 'Manager', u3: 'Engineer', u4: 'Engineer', u5: 'Engineer', u6: 'Intern' });
    expect(second.snapshot.groups.get('g1')?.members.map((m) => m.value)).toEqual(['u1', 'u2', 'u6']);
    // raw survives the round trip through state: mapping templates read it.
    expect(second.snapshot.users.get('u3')?.raw).toEqual({ dept: 'Engineer' });
    second.commit();
    expect(stored(state)?.watermark).toBe('9');
  });

  it('keeps a deleted object until the next full read, which is the only one that may drop it', async () => {
    const { dir, state, read } = setup();
    (await read()).commit();
    dir.users.delete('u5');
    const delta = await read({ at: DAY - 1 });
    expect(delta.mode).toBe('delta');
    expect(delta.snapshot.users.has('u5')).toBe(true);
    delta.commit();
    const full = await read({ at: DAY });
    expect(full.mode).toBe('full');
    expect(full.snapshot.users.has('u5')).toBe(false);
    full.commit();
    expect(stored(state)?.users).toEqual(['u1', 'u2', 'u3', 'u4']);
  });

  it('reads in full on --full, on a changed source config, and when the snapshot is damaged', async () => {
    const { state, read } = setup();
    (await read()).commit();
    expect((await read({ full: true })).mode).toBe('full');
    expect((await read({ config: { type: 'test', base: 'ou=other' } })).mode).toBe('full');
    const db = (await import('better-sqlite3')).default(state.path);
    db.prepare("UPDATE source_objects SET body = '{not json' WHERE id = 'u1'").run();
    db.close();
    const afterDamage = await read();
    expect(afterDamage.mode).toBe('full');
    expect(afterDamage.snapshot.users.size).toBe(5);
  });

  it('a failed delta read throws and leaves the kept snapshot and watermark as they were', async () => {
    const { dir, state, read } = setup();
    (await read()).commit();
    const before = stored(state);
    dir.putUser('u1', 'Director');
    dir.failChangedUsers = true;
    await expect(read({ at: 1000 })).rejects.toThrow(ConnectorError);
    await expect(read({ at: 1000 })).rejects.toThrow(/src: read failed: connection reset/);
    expect(stored(state)).toEqual(before);
    // Recovered: the change made before the failed read is still picked up.
    dir.failChangedUsers = false;
    const next = await read({ at: 2000 });
    expect(next.mode).toBe('delta');
    expect(next.snapshot.users.get('u1')?.title).toBe('Director');
  });

  it('a read whose plan is never committed does not move the watermark', async () => {
    const { dir, state, read } = setup();
    (await read()).commit();
    dir.putUser('u3', 'Architect');
    await read({ at: 1000 }); // planning failed: commit() never called
    expect(stored(state)?.watermark).toBe('6');
    const again = await read({ at: 2000 });
    expect(again.snapshot.users.get('u3')?.title).toBe('Architect');
  });

  it('reads in full when the source learns from the watermark request that it cannot do delta', async () => {
    const { dir, state, read } = setup();
    (await read()).commit();
    let supported = true;
    const probing: DeltaReader = {
      watermark: async () => {
        supported = false;
        return '99';
      },
      changedUsers: (s) => dir.changedUsers(s),
      changedGroups: (s) => dir.changedGroups(s),
    };
    const r = await readSource({
      state,
      logger: silentLogger,
      job: job(),
      sourceName: 'src',
      sourceConfig: { type: 'test', base: 'ou=people' },
      reader: dir,
      delta: () => (supported ? probing : undefined),
      full: false,
      now: new Date(Date.parse('2026-11-01T01:00:00Z')),
    });
    expect(r.mode).toBe('full-no-delta');
    expect(state.sourceSnapshotMeta('j')).toBeUndefined();
  });

  it('without delta support or with delta turned off, reads in full and drops a kept snapshot', async () => {
    const { state, read } = setup();
    (await read()).commit();
    const off = await read({ job: job({ enabled: false }) });
    expect(off.mode).toBe('full-no-delta');
    expect(state.sourceSnapshotMeta('j')).toBeUndefined();
    const unsupported = await read({ delta: undefined });
    expect(unsupported.mode).toBe('full-no-delta');
  });
});
