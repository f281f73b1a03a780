import { describe, expect, it } from 'vitest';
import { openDatabase, openState } from '../../src/state/open.js';
import type { Link } from '../../src/plan/types.js';
import { tempStatePath } from './helpers.js';

const link = (sourceId: string, targetId: string, fingerprint: string | null = null): Link => ({
  sourceId,
  targetId,
  origin: 'created',
  fingerprint,
});

function open() {
  const state = openState(tempStatePath());
  return state;
}

describe('links', () => {
  it('upserts and loads links per job and kind', () => {
    const s = open();
    s.link('a', 'user', link('u1', 't1', 'f1'));
    s.link('a', 'group', link('u1', 'g1'));
    s.link('b', 'user', link('u1', 'other'));
    s.link('a', 'user', { sourceId: 'u1', targetId: 't1b', origin: 'adopted', fingerprint: 'f2' });
    const a = s.loadLinks('a');
    expect([...a.users.values()]).toEqual([{ sourceId: 'u1', targetId: 't1b', origin: 'adopted', fingerprint: 'f2' }]);
    expect(a.groups.get('u1')?.targetId).toBe('g1');
    expect(s.loadLinks('b').users.get('u1')?.targetId).toBe('other');
    expect(s.loadLinks('none').users.size).toBe(0);
    s.close();
  });

  it('replaces the old row when the target id is already linked to another source id', () => {
    const s = open();
    s.link('a', 'user', link('old-source', 't1'));
    s.link('a', 'user', link('other', 't2'));
    s.link('a', 'user', link('new-source', 't1'));
    const users = s.loadLinks('a').users;
    expect(users.has('old-source')).toBe(false);
    expect(users.get('new-source')?.targetId).toBe('t1');
    expect(users.get('other')?.targetId).toBe('t2');
    // Same target id under another kind or job is a different link and is left alone.
    s.link('a', 'group', link('g', 't1'));
    s.link('b', 'user', link('x', 't1'));
    expect(s.loadLinks('a').users.get('new-source')?.targetId).toBe('t1');
    // Moving a source onto a target held by another source: both constraints satisfied at once.
    s.link('a', 'user', link('other', 't1'));
    expect([...s.loadLinks('a').users.values()]).toEqual([link('other', 't1')]);
    s.close();
  });

  it('bumps the serial on every change and only then', () => {
    const s = open();
    expect(s.serial('a')).toBe(0);
    s.link('a', 'user', link('u1', 't1'));
    expect(s.serial('a')).toBe(1);
    s.setFingerprint('a', 'user', 'u1', 'fp');
    expect(s.serial('a')).toBe(2);
    expect(s.loadLinks('a').users.get('u1')?.fingerprint).toBe('fp');
    s.setFingerprint('a', 'user', 'u1', null);
    expect(s.loadLinks('a').users.get('u1')?.fingerprint).toBeNull();
    expect(s.serial('a')).toBe(3);
    // No-ops: nothing changed, so a saved plan is not made stale.
    s.setFingerprint('a', 'user', 'missing', 'fp');
    s.unlink('a', 'user', 'missing');
    expect(s.serial('a')).toBe(3);
    s.unlink('a', 'user', 'u1');
    expect(s.serial('a')).toBe(4);
    expect(s.loadLinks('a').users.size).toBe(0);
    expect(s.serial('b')).toBe(0);
    s.close();
  });

  it('loads every link across page boundaries, with any characters in ids and null fingerprints', () => {
    const s = open();
    const db = openDatabase(s.path);
    const ins = db.prepare("INSERT INTO links VALUES ('p', ?, ?, ?, 'adopted', ?, '2026-01-01T00:00:00.000Z')");
    // 20_000 is the page size: exactly one full page of groups, one page and one more of users.
    const odd = ['', 'quote"d', 'back\\slash', 'new\nline', 'zoë 🙂', '\u0001ctl'];
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) ins.run('group', `g${i}`, `tg${i}`, i % 2 ? null : `fp${i}`);
      for (let i = 0; i < 20_001 - odd.length; i++) ins.run('user', `u${String(i).padStart(6, '0')}`, `tu${i}`, null);
      odd.forEach((id, i) => ins.run('user', id, `odd${i}`, id));
    })();
    db.close();
    const links = s.loadLinks('p');
    expect(links.groups.size).toBe(20_000);
    expect(links.users.size).toBe(20_001);
    expect(links.groups.get('g1')).toEqual({ sourceId: 'g1', targetId: 'tg1', origin: 'adopted', fingerprint: null });
    expect(links.groups.get('g19998')?.fingerprint).toBe('fp19998');
    odd.forEach((id, i) => expect(links.users.get(id)).toEqual({ sourceId: id, targetId: `odd${i}`, origin: 'adopted', fingerprint: id }));
    expect(links.users.get('u019994')?.targetId).toBe('tu19994');
    s.close();
  });

  it('loads 100k links quickly', () => {
    const s = open();
    // Seeding through the public API would take 100k transactions (the bench measures that); the
    // interest here is the read path, so seed in one transaction over a second connection.
    const db = openDatabase(s.path);
    const ins = db.prepare(
      "INSERT INTO links VALUES ('j', ?, ?, ?, 'created', ?, '2026-01-01T00:00:00.000Z')",
    );
    db.transaction(() => {
      for (let i = 0; i < 100_000; i++) ins.run(i % 50 === 0 ? 'group' : 'user', `s${i}`, `t-${i}-${'x'.repeat(24)}`, `fp${i}`);
    })();
    db.close();
    const started = performance.now();
    const links = s.loadLinks('j');
    const ms = performance.now() - started;
    expect(links.users.size + links.groups.size).toBe(100_000);
    expect(links.groups.get('s50')).toEqual({ sourceId: 's50', targetId: `t-50-${'x'.repeat(24)}`, origin: 'created', fingerprint: 'fp50' });
    // Generous bound for slow CI; the bench reports the real figure.
    expect(ms).toBeLessThan(5000);
    s.close();
  });
});

describe('linkMany', () => {
  it('links several objects with one serial bump, applying the newest-wins rule in order', () => {
    const s = open();
    s.link('a', 'user', link('old', 't1'));
    s.linkMany('a', 'user', [link('u1', 't1'), link('u2', 't2'), link('u3', 't3')]);
    expect(s.serial('a')).toBe(2);
    expect([...s.loadLinks('a').users.keys()].sort()).toEqual(['u1', 'u2', 'u3']);
    s.linkMany('a', 'user', []);
    expect(s.serial('a')).toBe(2);
    s.close();
  });
});
