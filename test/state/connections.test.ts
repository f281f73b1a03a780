import { describe, expect, it } from 'vitest';
import { LockHeldError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { openState } from '../../src/state/open.js';
import { embeddedConnector } from '../../connectors/embedded/index.js';
import { tempStatePath } from './helpers.js';

describe('two connections to one state file', () => {
  it('see each other’s committed writes and share locks', () => {
    const path = tempStatePath();
    const a = openState(path);
    const b = openState(path);
    a.link('j', 'user', { sourceId: 's', targetId: 't', origin: 'created', fingerprint: null });
    expect(b.loadLinks('j').users.get('s')?.targetId).toBe('t');
    expect(b.serial('j')).toBe(1);
    const release = a.acquireLock('j');
    expect(() => b.acquireLock('j')).toThrow(LockHeldError);
    release();
    b.acquireLock('j')();
    a.close();
    b.close();
  });

  it('work alongside the embedded directory connection, interleaving writes', async () => {
    const path = tempStatePath();
    const state = openState(path);
    const dir = embeddedConnector.create({}, { name: 'dir', configDir: '.', statePath: path, logger: silentLogger, warn() {} });
    const writer = dir.writer!;
    // The applier's pattern: a remote write, then the state write, several calls in flight at once.
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const { id } = await writer.createUser({ userName: `u${i}`, active: true });
        state.link('j', 'user', { sourceId: `s${i}`, targetId: id, origin: 'created', fingerprint: null });
      }),
    );
    const users = [];
    for await (const u of dir.reader!.listUsers()) users.push(u);
    expect(users).toHaveLength(50);
    const links = state.loadLinks('j').users;
    expect(new Set([...links.values()].map((l) => l.targetId))).toEqual(new Set(users.map((u) => u.id)));
    expect(state.serial('j')).toBe(50);
    await dir.close();
    // Reopening the state afterwards still works: the embedded tables did not disturb user_version.
    state.close();
    openState(path).close();
  });
});
