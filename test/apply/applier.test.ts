import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { embeddedConnector } from '../../connectors/embedded/index.js';
import { applyPlan } from '../../src/apply/applier.js';
import type { Connector } from '../../src/core/connector.js';
import { silentLogger } from '../../src/core/logger.js';
import { planJob } from '../../src/plan/planner.js';
import type { Plan } from '../../src/plan/types.js';
import { openDatabase, openState } from '../../src/state/open.js';
import type { StateStore } from '../../src/state/types.js';
import { group, input, user } from '../plan/builders.js';

let dir: string;
let state: StateStore;
let target: Connector;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-sync-apply-'));
  const statePath = join(dir, 'state.db');
  state = openState(statePath);
  target = embeddedConnector.create({}, { name: 'embedded', configDir: dir, statePath, logger: silentLogger, warn: () => {} });
});

afterEach(async () => {
  await target.close();
  state.close();
});

async function targetUsers() {
  const out = [];
  for await (const u of target.reader!.listUsers()) out.push(u);
  return out;
}

function plan(spec: Parameters<typeof input>[0]): Plan {
  return planJob(input(spec));
}

describe('applyPlan against the embedded directory and real state', () => {
  it('links each created object in state only after the target accepted it', async () => {
    const p = plan({ sourceUsers: [user({ id: 'A', userName: 'a' }), user({ id: 'B', userName: 'b', enterprise: { manager: { value: 'A' } } })] });
    const result = await applyPlan({ job: 'j', plan: p, writer: target.writer!, state, concurrency: 4, errorBudget: 10 });
    expect(result.errors).toEqual([]);
    expect(result.counts).toEqual({ 'create-user': 2 });
    const links = state.loadLinks('j');
    const users = await targetUsers();
    expect(users).toHaveLength(2);
    for (const u of users) expect(links.users.get(u.externalId!)!.targetId).toBe(u.id);
    const a = users.find((u) => u.userName === 'a')!;
    expect(users.find((u) => u.userName === 'b')!.enterprise?.manager?.value).toBe(a.id);
  });

  it('one refused object fails alone; its dependants are skipped; the rest applies', async () => {
    // "taken" already exists and the job may not adopt by userName: its create answers 409.
    await target.writer!.createUser({ userName: 'taken', active: true });
    const p = plan({
      sourceUsers: [user({ id: 'T', userName: 'taken' }), user({ id: 'F', userName: 'fine' })],
      sourceGroups: [group('G', 'Group', [{ type: 'User', value: 'T' }, { type: 'User', value: 'F' }])],
      policy: { matchUsers: [] },
    });
    const result = await applyPlan({ job: 'j', plan: p, writer: target.writer!, state, concurrency: 2, errorBudget: 10 });
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]!.object).toBe('create user taken');
    expect(result.errors[0]!.message).toMatch(/already exists/);
    expect(result.counts['create-user']).toBe(1);
    const add = result.results.find((r) => r.change.kind === 'add-members')!;
    expect(add.status).toBe('applied');
    expect(add.message).toMatch(/1 member\(s\) not on the target were left out: taken/);
    expect(state.loadLinks('j').users.has('T')).toBe(false);
    expect(state.loadLinks('j').users.has('F')).toBe(true);
  });

  it('stops starting changes once the error budget is spent', async () => {
    for (const n of ['x1', 'x2', 'x3']) await target.writer!.createUser({ userName: n, active: true });
    const p = plan({
      sourceUsers: ['x1', 'x2', 'x3', 'y1', 'y2'].map((n) => user({ id: n.toUpperCase(), userName: n })),
      policy: { matchUsers: [] },
    });
    const result = await applyPlan({ job: 'j', plan: p, writer: target.writer!, state, concurrency: 1, errorBudget: 2 });
    expect(result.stoppedByBudget).toBe(true);
    expect(result.errors).toHaveLength(2);
    expect(result.results.filter((r) => r.status === 'skipped').map((r) => r.message)).toEqual(['error budget exhausted', 'error budget exhausted', 'error budget exhausted']);
  });

  it('an aborted signal stops before the next change and reports the rest as interrupted', async () => {
    const controller = new AbortController();
    const p = plan({ sourceUsers: ['a', 'b', 'c'].map((n) => user({ id: n, userName: n })) });
    let seen = 0;
    const result = await applyPlan({
      job: 'j',
      plan: p,
      writer: target.writer!,
      state,
      concurrency: 1,
      errorBudget: 10,
      signal: controller.signal,
      onProgress: () => {
        if (++seen === 1) controller.abort();
      },
    });
    expect(result.interrupted).toBe(true);
    expect(result.counts['create-user']).toBe(1);
    expect(state.loadLinks('j').users.size).toBe(1);
  });

  it('deactivation keeps the link so a returning person gets the same account back', async () => {
    const first = plan({ sourceUsers: [user({ id: 'A', userName: 'a' })] });
    await applyPlan({ job: 'j', plan: first, writer: target.writer!, state, concurrency: 1, errorBudget: 10 });
    const created = (await targetUsers())[0]!;
    const gone = planJob(
      input({ sourceUsers: [user({ id: 'B', userName: 'b' })], targetUsers: [created], userLinks: [...state.loadLinks('j').users.values()] }),
    );
    expect(gone.changes.map((c) => c.kind)).toEqual(['create-user', 'deactivate-user']);
    const r = await applyPlan({ job: 'j', plan: gone, writer: target.writer!, state, concurrency: 1, errorBudget: 10 });
    expect(r.errors).toEqual([]);
    expect((await targetUsers()).find((u) => u.id === created.id)!.active).toBe(false);
    expect(state.loadLinks('j').users.get('A')!.targetId).toBe(created.id);
  });
});

describe('links committed in batches after the writes', () => {
  it('a batch state cannot commit fails its creates (objects stay on the target); the next run relinks them by externalId', async () => {
    // A real SQLite refusal, not a stub: a trigger aborts any transaction that links user 'B'.
    const db = openDatabase(join(dir, 'state.db'));
    db.exec(`CREATE TRIGGER refuse_b BEFORE INSERT ON links WHEN NEW.source_id = 'B' BEGIN SELECT RAISE(ABORT, 'disk is full'); END`);
    const p = plan({ sourceUsers: [user({ id: 'A', userName: 'a' }), user({ id: 'B', userName: 'b' })] });
    const result = await applyPlan({ job: 'j', plan: p, writer: target.writer!, state, concurrency: 2, errorBudget: 10 });
    // Both links were queued together, so the whole batch is refused and both creates fail.
    expect(result.counts).toEqual({});
    expect(result.errors.map((e) => e.object).sort()).toEqual(['create user a', 'create user b']);
    expect(result.errors[0]!.message).toMatch(/the target accepted the write, but its link could not be saved in state: .*disk is full/);
    expect(result.results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(state.loadLinks('j').users.size).toBe(0);
    expect(await targetUsers()).toHaveLength(2);

    db.exec('DROP TRIGGER refuse_b');
    db.close();
    const again = planJob(input({ sourceUsers: [user({ id: 'A', userName: 'a' }), user({ id: 'B', userName: 'b' })], targetUsers: await targetUsers() }));
    expect(again.changes.map((c) => c.kind)).toEqual(['update-user', 'update-user']);
    const r = await applyPlan({ job: 'j', plan: again, writer: target.writer!, state, concurrency: 2, errorBudget: 10 });
    expect(r.errors).toEqual([]);
    expect(state.loadLinks('j').users.size).toBe(2);
    expect(await targetUsers()).toHaveLength(2);
  });

  it('queued links and direct state writes (a dropped link) of the same apply both land', async () => {
    await applyPlan({ job: 'j', plan: plan({ sourceUsers: [user({ id: 'A', userName: 'a' })] }), writer: target.writer!, state, concurrency: 1, errorBudget: 10 });
    const created = (await targetUsers())[0]!;
    await target.writer!.deleteUser(created.id);
    // A is gone from the target; B is new. B's link is queued, then A's 404 drops A's link directly.
    const p = planJob(
      input({
        sourceUsers: [user({ id: 'B', userName: 'b' }), user({ id: 'A', userName: 'a', title: 'new' })],
        targetUsers: [created],
        userLinks: [...state.loadLinks('j').users.values()],
      }),
    );
    const r = await applyPlan({ job: 'j', plan: p, writer: target.writer!, state, concurrency: 1, errorBudget: 10 });
    expect(r.results.map((x) => [x.change.kind, x.status]).sort()).toEqual([
      ['create-user', 'applied'],
      ['update-user', 'skipped'],
    ]);
    const links = state.loadLinks('j').users;
    expect([...links.keys()]).toEqual(['B']);
  });
});

describe('deletes', () => {
  it('a delete that finds the object already gone (404) counts as done and drops the link', async () => {
    const first = plan({ sourceUsers: [user({ id: 'A', userName: 'a' }), user({ id: 'B', userName: 'b' })] });
    await applyPlan({ job: 'j', plan: first, writer: target.writer!, state, concurrency: 1, errorBudget: 10 });
    const users = await targetUsers();
    const removal = planJob(
      input({
        sourceUsers: [user({ id: 'B', userName: 'b' })],
        targetUsers: users,
        userLinks: [...state.loadLinks('j').users.values()],
        policy: { deletes: { mode: 'delete', maxCount: 10, maxPercent: 100 } },
      }),
    );
    expect(removal.changes.map((c) => c.kind)).toEqual(['delete-user']);
    // Someone else deletes it between plan and apply.
    await target.writer!.deleteUser(users.find((u) => u.userName === 'a')!.id);
    const r = await applyPlan({ job: 'j', plan: removal, writer: target.writer!, state, concurrency: 1, errorBudget: 10 });
    expect(r.errors).toEqual([]);
    expect(r.counts).toEqual({ 'delete-user': 1 });
    expect(state.loadLinks('j').users.has('A')).toBe(false);
  });
});

describe('onMissing against the embedded directory (the applier decides; the connector only answers 404)', () => {
  it('relink drops the link of a user deleted behind the job; recreate makes a new one', async () => {
    await applyPlan({ job: 'j', plan: plan({ sourceUsers: [user({ id: 'A', userName: 'a', title: 'one' })] }), writer: target.writer!, state, concurrency: 1, errorBudget: 10 });
    const before = (await targetUsers())[0]!;
    const update = () =>
      planJob(input({ sourceUsers: [user({ id: 'A', userName: 'a', title: 'two' })], targetUsers: [before], userLinks: [...state.loadLinks('j').users.values()] }));
    const p = update();
    expect(p.changes.map((c) => c.kind)).toEqual(['update-user']);
    await target.writer!.deleteUser(before.id);

    const relinked = await applyPlan({ job: 'j', plan: p, writer: target.writer!, state, concurrency: 1, errorBudget: 10 });
    expect(relinked.results[0]).toMatchObject({ status: 'skipped', effect: 'unlinked' });
    expect(relinked.errors[0]!.message).toContain('its link was dropped');
    expect(state.loadLinks('j').users.has('A')).toBe(false);

    state.link('j', 'user', { sourceId: 'A', targetId: before.id, origin: 'created', fingerprint: null });
    const recreated = await applyPlan({ job: 'j', plan: update(), writer: target.writer!, state, concurrency: 1, errorBudget: 10, onMissing: 'recreate' });
    expect(recreated.errors).toEqual([]);
    expect(recreated.results[0]).toMatchObject({ status: 'applied', effect: 'recreated' });
    const after = await targetUsers();
    expect(after.map((u) => [u.userName, u.title])).toEqual([['a', 'two']]);
    expect(state.loadLinks('j').users.get('A')!.targetId).toBe(after[0]!.id);
  });
});
