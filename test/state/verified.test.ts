import { describe, expect, it } from 'vitest';
import type { ReadWarning } from '../../src/core/connector.js';
import { openDatabase, openState } from '../../src/state/open.js';
import { tempStatePath } from './helpers.js';

const warning: ReadWarning = {
  code: 'duplicate-id',
  message: 'user id "E2" appears on lines 3, 4',
  where: 'hr.csv:3',
  excluded: { kind: 'user', id: 'E2' },
};

describe('verified no-op records', () => {
  it('stores, replaces and clears one record per job', () => {
    const s = openState(tempStatePath());
    expect(s.getVerifiedNoop('a')).toBeUndefined();
    s.setVerifiedNoop('a', 'k1', [warning]);
    s.setVerifiedNoop('b', 'kb', []);
    const a = s.getVerifiedNoop('a')!;
    expect(a.key).toBe('k1');
    expect(a.warnings).toEqual([warning]);
    expect(new Date(a.verifiedAt).toISOString()).toBe(a.verifiedAt);

    s.setVerifiedNoop('a', 'k2', []);
    expect(s.getVerifiedNoop('a')).toMatchObject({ key: 'k2', warnings: [] });

    s.clearVerifiedNoop('a');
    expect(s.getVerifiedNoop('a')).toBeUndefined();
    expect(s.getVerifiedNoop('b')?.key).toBe('kb');
    s.close();
  });

  it('survives reopening the file (it is what lets the next process skip reading)', () => {
    const path = tempStatePath();
    const s = openState(path);
    s.setVerifiedNoop('a', 'k1', [warning]);
    s.close();
    const again = openState(path);
    expect(again.getVerifiedNoop('a')).toMatchObject({ key: 'k1', warnings: [warning] });
    again.close();
  });

  it('ignores a row damaged by hand instead of failing the run', () => {
    const path = tempStatePath();
    const s = openState(path);
    s.setVerifiedNoop('a', 'k1', []);
    const db = openDatabase(path);
    db.prepare("UPDATE verified_noop SET warnings = 'not json'").run();
    db.close();
    expect(s.getVerifiedNoop('a')).toBeUndefined();
    s.close();
  });

  it('every link change bumps the serial, which is part of the key', () => {
    // The engine puts serial(job) into the key, so this is what invalidates a record on link changes.
    const s = openState(tempStatePath());
    const serials = [s.serial('a')];
    const bumped = () => {
      const now = s.serial('a');
      expect(serials).not.toContain(now);
      serials.push(now);
    };
    s.link('a', 'user', { sourceId: 'u1', targetId: 't1', origin: 'created', fingerprint: 'f1' });
    bumped();
    s.linkMany('a', 'user', [{ sourceId: 'u2', targetId: 't2', origin: 'adopted', fingerprint: null }]);
    bumped();
    s.setFingerprint('a', 'user', 'u1', 'f2');
    bumped();
    s.unlink('a', 'user', 'u2');
    bumped();
    s.close();
  });
});
