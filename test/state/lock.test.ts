import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { LockHeldError } from '../../src/core/errors.js';
import { processAlive } from '../../src/state/lock.js';
import { openState } from '../../src/state/open.js';
import { tempStatePath } from './helpers.js';

/** The pid of a process that has exited and been reaped. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined) throw new Error('spawn failed');
  return child.pid;
}

function plantLock(path: string, job: string, pid: number, host: string, at = '2026-01-01T00:00:00.000Z'): void {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.prepare('INSERT OR REPLACE INTO locks (job, pid, host, acquired_at) VALUES (?, ?, ?, ?)').run(job, pid, host, at);
  db.close();
}

describe('locks', () => {
  it('acquires, reports and releases a lock', () => {
    const s = openState(tempStatePath());
    expect(s.readLock('a')).toBeUndefined();
    const release = s.acquireLock('a');
    expect(s.readLock('a')).toMatchObject({ job: 'a', pid: process.pid, host: hostname() });
    // Another job is independent.
    s.acquireLock('b')();
    release();
    release();
    expect(s.readLock('a')).toBeUndefined();
    s.acquireLock('a')();
    s.close();
  });

  it('refuses a held lock, naming the holder', () => {
    const path = tempStatePath();
    const s = openState(path);
    plantLock(path, 'a', process.ppid, hostname(), '2026-05-06T07:08:09.000Z');
    let caught: unknown;
    try {
      s.acquireLock('a');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LockHeldError);
    const err = caught as LockHeldError;
    expect(err.job).toBe('a');
    expect(err.holder).toBe(`pid ${process.ppid} on host ${hostname()} since 2026-05-06T07:08:09.000Z`);
    expect(err.message).toContain('job a is locked by pid');
    s.close();
  });

  it('refuses a second acquire from the same process (no re-entrance)', () => {
    const s = openState(tempStatePath());
    const release = s.acquireLock('a');
    expect(() => s.acquireLock('a')).toThrow(LockHeldError);
    release();
    s.close();
  });

  it('takes over a lock left by a dead process on this host', () => {
    const path = tempStatePath();
    const s = openState(path);
    const pid = deadPid();
    expect(processAlive(pid)).toBe(false);
    plantLock(path, 'a', pid, hostname());
    const release = s.acquireLock('a');
    expect(s.readLock('a')?.pid).toBe(process.pid);
    release();
    expect(s.readLock('a')).toBeUndefined();
    s.close();
  });

  it('never takes over a lock held on another host', () => {
    const path = tempStatePath();
    const s = openState(path);
    plantLock(path, 'a', deadPid(), 'some-other-host');
    expect(() => s.acquireLock('a')).toThrow(/pid \d+ on host some-other-host since/);
    s.close();
  });

  it('release removes only its own lock, not one that took it over', () => {
    const path = tempStatePath();
    const s = openState(path);
    const release = s.acquireLock('a');
    // Someone else concluded we were dead and took over.
    plantLock(path, 'a', process.ppid, hostname());
    release();
    expect(s.readLock('a')?.pid).toBe(process.ppid);
    s.close();
  });

  it.runIf(process.platform === 'linux')('treats a zombie process as dead', async () => {
    // sh starts a short sleep in the background, then becomes a long `sleep`, which never reaps its
    // inherited child: when the short one exits it stays a zombie. (It must outlive the exec, or sh
    // itself may reap it first.)
    const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = await new Promise<number>((resolve) =>
        parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
      );
      // Wait for the short sleep to exit and become a zombie.
      const { readFileSync } = await import('node:fs');
      for (let i = 0; i < 100; i++) {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(() => process.kill(pid, 0)).not.toThrow();
      expect(processAlive(pid)).toBe(false);
      expect(processAlive(parent.pid!)).toBe(true);
    } finally {
      parent.kill();
    }
  });

  it('processAlive: this process is alive, nonsense pids are not', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(0)).toBe(false);
    expect(processAlive(-1)).toBe(false);
  });
});
