import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createScimConnector } from '../../connectors/scim/index.js';
import { scimConfigSchema } from '../../connectors/scim/config.js';
import type { ScimConfigInput } from '../../connectors/scim/config.js';
import { applyPlan } from '../../src/apply/applier.js';
import type { ApplyOptions } from '../../src/apply/applier.js';
import type { Connector } from '../../src/core/connector.js';
import type { Group, User } from '../../src/core/model.js';
import { silentLogger } from '../../src/core/logger.js';
import { planJob } from '../../src/plan/planner.js';
import { openState } from '../../src/state/open.js';
import type { StateStore } from '../../src/state/types.js';
import { startFaultServer } from '../support/fault-server.js';
import type { FaultServer } from '../support/fault-server.js';
import { group, input, user } from '../plan/builders.js';
import type { InputSpec } from '../plan/builders.js';

/**
 * The applier's decisions that need a target's answer — adoption after "already exists", 404 on a
 * linked object, a target that is down — against the real SCIM connector over HTTP, with the
 * fault server as the target and real SQLite state.
 */

let dir: string;
let state: StateStore;
let server: FaultServer;
let target: Connector;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-sync-apply-scim-'));
  state = openState(join(dir, 'state.db'));
  server = await startFaultServer();
});

afterEach(async () => {
  await target?.close();
  await server.close();
  state.close();
});

function connect(extra: Partial<ScimConfigInput> = {}): Connector {
  const config = scimConfigSchema.parse({ baseUrl: server.baseUrl, auth: { bearer: 'unused' }, retry: { attempts: 2, baseDelay: 1 }, ...extra });
  target = createScimConnector(config, { name: 'app', configDir: dir, statePath: join(dir, 'state.db'), logger: silentLogger, warn: () => {} }, { sleep: async () => {} });
  return target;
}

async function read(): Promise<{ users: User[]; groups: Group[] }> {
  const users: User[] = [];
  const groups: Group[] = [];
  for await (const u of target.reader!.listUsers()) users.push(u);
  for await (const g of target.reader!.listGroups()) groups.push(g);
  return { users, groups };
}

/** Plan against what the target really holds now, with the links state holds now. */
async function planNow(spec: InputSpec) {
  const { users, groups } = await read();
  const links = state.loadLinks('j');
  return planJob(input({ targetUsers: users, targetGroups: groups, userLinks: [...links.users.values()], groupLinks: [...links.groups.values()], ...spec }));
}

const apply = (plan: ReturnType<typeof planJob>, extra: Partial<ApplyOptions> = {}) =>
  applyPlan({ job: 'j', plan, writer: target.writer!, state, concurrency: 1, errorBudget: 50, ...extra });

function seed(record: Record<string, unknown>): string {
  const [id] = server.seedUsers(1, () => record);
  return id!;
}

describe('adoption when a create finds the object already there', () => {
  // The planner saw no target objects (as with a target that cannot list everything, or one
  // created between read and apply): only the create's answer reveals the existing object.
  const blindPlan = (sourceUsers: User[], sourceGroups: Group[] = []) => planJob(input({ sourceUsers, sourceGroups }));

  it('a 409 whose lookup finds one user by userName adopts it when match.users allows userName', async () => {
    connect();
    const existing = seed({ userName: 'ada@example.com', active: false, displayName: 'Old name' });
    const plan = blindPlan([user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada Lovelace' })]);
    expect(plan.changes.map((c) => c.kind)).toEqual(['create-user']);

    const r = await apply(plan, { match: { users: ['externalId', 'userName'], groups: ['externalId'] } });
    expect(r.errors).toEqual([]);
    expect(r.counts).toEqual({ 'adopt-user': 1 });
    expect(r.results[0]!.effect).toBe('adopted');
    expect(r.results[0]!.message).toContain(`already on the target as ${existing} (found by userName)`);
    const link = state.loadLinks('j').users.get('E1')!;
    expect(link).toMatchObject({ targetId: existing, origin: 'adopted' });
    // The desired attributes were written: the anchor, the name, active.
    expect(server.users.get(existing)).toMatchObject({ externalId: 'E1', displayName: 'Ada Lovelace', active: true });
    expect(server.users.size).toBe(1);

    // Converged: a fresh plan against the real target has nothing left to do.
    const again = await planNow({ sourceUsers: [user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada Lovelace' })] });
    expect(again.changes).toEqual([]);
  });

  it('the same 409 fails the object, naming the existing id, when the job may not match by userName', async () => {
    connect();
    const existing = seed({ userName: 'ada@example.com', active: true });
    const r = await apply(blindPlan([user({ id: 'E1', userName: 'ada@example.com' })]), { match: { users: ['externalId'], groups: ['externalId'] } });
    expect(r.counts).toEqual({});
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toContain(`existing user ${existing} has userName "ada@example.com"`);
    expect(r.errors[0]!.message).toContain("not adopted: the job's match.users does not include userName");
    expect(state.loadLinks('j').users.size).toBe(0);
    expect(server.users.get(existing)!.externalId).toBeUndefined();
  });

  it('never adopts an object whose externalId anchors it to another source object, nor one linked to another', async () => {
    connect();
    const anchored = seed({ userName: 'bob@example.com', externalId: 'E9', active: true });
    const r = await apply(blindPlan([user({ id: 'E2', userName: 'bob@example.com' })]));
    expect(r.errors[0]!.message).toContain(`existing user ${anchored}`);
    expect(r.errors[0]!.message).toContain('its externalId "E9" anchors it to another source user');

    const other = seed({ userName: 'cy@example.com', active: true });
    state.link('j', 'user', { sourceId: 'E7', targetId: other, origin: 'created', fingerprint: null });
    const r2 = await apply(blindPlan([user({ id: 'E3', userName: 'cy@example.com' })]));
    expect(r2.errors[0]!.message).toContain('it is linked to source user E7');
  });

  it('groups: a 409 found by displayName is adopted per match.groups, and its members are then added', async () => {
    connect();
    const [uid] = server.seedUsers(1, () => ({ userName: 'm@example.com', externalId: 'U1', active: true }));
    state.link('j', 'user', { sourceId: 'U1', targetId: uid!, origin: 'created', fingerprint: null });
    server.groups.set('g-old', { id: 'g-old', displayName: 'Engineering', members: [] });
    const plan = planJob(
      input({ sourceUsers: [user({ id: 'U1', userName: 'm@example.com' })], sourceGroups: [group('G1', 'Engineering', [{ type: 'User', value: 'U1' }])], targetUsers: [{ id: uid!, userName: 'm@example.com', active: true, externalId: 'U1' }], userLinks: [{ sourceId: 'U1', targetId: uid!, origin: 'created', fingerprint: null }] }),
    );
    const r = await apply(plan, { match: { users: ['externalId'], groups: ['externalId', 'displayName'] } });
    expect(r.errors).toEqual([]);
    expect(r.counts['adopt-group']).toBe(1);
    expect(state.loadLinks('j').groups.get('G1')).toMatchObject({ targetId: 'g-old', origin: 'adopted' });
    expect(server.groups.get('g-old')).toMatchObject({ externalId: 'G1', members: [{ value: uid }] });
  });

  it('lookupBeforeCreate: the existing user is found by externalId before any POST and adopted', async () => {
    connect({ lookupBeforeCreate: true });
    // Renamed on the target since it was created: only the anchor finds it.
    const existing = seed({ userName: 'renamed@example.com', externalId: 'E1', active: true });
    const r = await apply(blindPlan([user({ id: 'E1', userName: 'ada@example.com' }), user({ id: 'E2', userName: 'new@example.com' })]), {
      match: { users: ['externalId'], groups: ['externalId'] },
    });
    expect(r.errors).toEqual([]);
    expect(r.counts).toEqual({ 'adopt-user': 1, 'create-user': 1 });
    expect(state.loadLinks('j').users.get('E1')!.targetId).toBe(existing);
    expect(server.users.get(existing)!.userName).toBe('ada@example.com');
    // One POST (the genuinely new user); the adopted one was never POSTed.
    expect(server.requests.filter((q) => q.method === 'POST')).toHaveLength(1);
    expect(server.requests.filter((q) => q.method === 'GET' && q.path.includes('filter=externalId'))).toHaveLength(2);
  });
});

describe('onMissing: a linked object answering 404', () => {
  async function provisionAda(): Promise<string> {
    const r = await apply(await planNow({ sourceUsers: [user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada' })] }));
    expect(r.errors).toEqual([]);
    return state.loadLinks('j').users.get('E1')!.targetId;
  }

  it('relink (default): the update is reported, the link dropped, and the next run creates it again', async () => {
    connect();
    const first = await provisionAda();
    const plan = await planNow({ sourceUsers: [user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada L.' })] });
    expect(plan.changes.map((c) => c.kind)).toEqual(['update-user']);
    server.users.delete(first); // someone deletes it on the target between plan and apply

    const r = await apply(plan);
    expect(r.results[0]).toMatchObject({ status: 'skipped', effect: 'unlinked' });
    expect(r.errors).toEqual([{ object: 'update user ada@example.com', message: expect.stringContaining(`user ${first} is gone from the target (404); its link was dropped`) as string }]);
    expect(r.stoppedByBudget).toBe(false);
    expect(state.loadLinks('j').users.has('E1')).toBe(false);

    const next = await planNow({ sourceUsers: [user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada L.' })] });
    expect(next.changes.map((c) => c.kind)).toEqual(['create-user']);
    expect((await apply(next)).errors).toEqual([]);
    expect([...server.users.values()].map((u) => u.displayName)).toEqual(['Ada L.']);
    expect((await planNow({ sourceUsers: [user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada L.' })] })).changes).toEqual([]);
  });

  it('recreate: created again now from the desired state and linked to the new id', async () => {
    connect();
    const first = await provisionAda();
    const plan = await planNow({ sourceUsers: [user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada L.' })] });
    server.users.delete(first);

    const r = await apply(plan, { onMissing: 'recreate' });
    expect(r.errors).toEqual([]);
    expect(r.results[0]).toMatchObject({ status: 'applied', effect: 'recreated' });
    const now = state.loadLinks('j').users.get('E1')!.targetId;
    expect(now).not.toBe(first);
    expect(server.users.get(now)).toMatchObject({ userName: 'ada@example.com', displayName: 'Ada L.', externalId: 'E1' });
    expect((await planNow({ sourceUsers: [user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada L.' })] })).changes).toEqual([]);
  });

  it('recreate, group: later member changes in the same run go to the new group', async () => {
    connect();
    const src = { users: [user({ id: 'U1', userName: 'a@example.com' }), user({ id: 'U2', userName: 'b@example.com' })], groups: [group('G1', 'Eng', [{ type: 'User', value: 'U1' }])] };
    expect((await apply(await planNow({ sourceUsers: src.users, sourceGroups: src.groups }))).errors).toEqual([]);
    const oldGroup = state.loadLinks('j').groups.get('G1')!.targetId;
    const plan = await planNow({ sourceUsers: src.users, sourceGroups: [group('G1', 'Engineering', [{ type: 'User', value: 'U1' }, { type: 'User', value: 'U2' }])] });
    expect(plan.changes.map((c) => c.kind)).toEqual(['update-group', 'add-members']);
    server.groups.delete(oldGroup);

    const r = await apply(plan, { onMissing: 'recreate' });
    expect(r.errors).toEqual([]);
    const newGroup = state.loadLinks('j').groups.get('G1')!.targetId;
    expect(newGroup).not.toBe(oldGroup);
    expect(server.groups.get(newGroup)!.displayName).toBe('Engineering');
    // U2 was added in this run; U1 (a member of the old group) is added by the next run.
    const next = await planNow({ sourceUsers: src.users, sourceGroups: [group('G1', 'Engineering', [{ type: 'User', value: 'U1' }, { type: 'User', value: 'U2' }])] });
    expect(next.changes.map((c) => c.kind)).toEqual(['add-members']);
    await apply(next);
    expect((server.groups.get(newGroup)!.members as { value: string }[]).map((m) => m.value).sort()).toHaveLength(2);
  });

  it('a deactivation of a user already gone is done (never recreated), and the link is dropped', async () => {
    connect();
    const first = await provisionAda();
    const plan = await planNow({ sourceUsers: [user({ id: 'E1', userName: 'ada@example.com', displayName: 'Ada', active: false })] });
    expect(plan.changes.map((c) => c.kind)).toEqual(['deactivate-user']);
    server.users.delete(first);
    const r = await apply(plan, { onMissing: 'recreate' });
    expect(r.errors).toEqual([]);
    expect(r.results[0]).toMatchObject({ status: 'applied', effect: 'unlinked' });
    expect(server.users.size).toBe(0);
    expect(state.loadLinks('j').users.has('E1')).toBe(false);
  });

  it('a member change on a group gone from the target drops the group link (it has no desired group to recreate from)', async () => {
    connect();
    const users = [user({ id: 'U1', userName: 'a@example.com' }), user({ id: 'U2', userName: 'b@example.com' })];
    await apply(await planNow({ sourceUsers: users, sourceGroups: [group('G1', 'Eng', [{ type: 'User', value: 'U1' }])] }));
    const gid = state.loadLinks('j').groups.get('G1')!.targetId;
    const plan = await planNow({ sourceUsers: users, sourceGroups: [group('G1', 'Eng', [{ type: 'User', value: 'U1' }, { type: 'User', value: 'U2' }])] });
    expect(plan.changes.map((c) => c.kind)).toEqual(['add-members']);
    server.groups.delete(gid);
    const r = await apply(plan, { onMissing: 'recreate' });
    expect(r.results[0]).toMatchObject({ status: 'skipped', effect: 'unlinked' });
    expect(state.loadLinks('j').groups.has('G1')).toBe(false);
    const next = await planNow({ sourceUsers: users, sourceGroups: [group('G1', 'Eng', [{ type: 'User', value: 'U1' }, { type: 'User', value: 'U2' }])] });
    expect(next.changes.map((c) => c.kind)).toEqual(['create-group', 'add-members']);
  });
});

describe('a target that is clearly broken stops the run', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => user({ id: `E${i}`, userName: `u${i}@example.com` }));

  it('every write answering 500: stopped after maxConsecutiveFailures, the rest skipped unattempted', async () => {
    connect();
    server.inject({ kind: 'status', status: 500, detail: 'database unavailable' }, { method: 'POST', times: 1000 });
    const r = await apply(planJob(input({ sourceUsers: many(40) })), { maxConsecutiveFailures: 5, concurrency: 1 });
    expect(r.stoppedByBudget).toBe(true);
    expect(r.stopReason).toMatch(/target looks unavailable: 5 changes in a row failed/);
    expect(r.results.filter((x) => x.status === 'failed')).toHaveLength(5);
    expect(r.results.filter((x) => x.status === 'skipped')).toHaveLength(35);
    expect(r.errors[0]!.message).toContain('database unavailable');
    expect(server.counts.POST).toBe(5); // a POST answered 500 is not repeated (it may have been done)
  });

  it('connection refused: stopped within one round of in-flight changes after the limit', async () => {
    const closed = await startFaultServer();
    const baseUrl = closed.baseUrl;
    await closed.close();
    const config = scimConfigSchema.parse({ baseUrl, auth: { bearer: 'x' }, retry: { attempts: 3, baseDelay: 1 } });
    target = createScimConnector(config, { name: 'app', configDir: dir, statePath: '', logger: silentLogger, warn: () => {} }, { sleep: async () => {} });
    const r = await apply(planJob(input({ sourceUsers: many(60) })), { maxConsecutiveFailures: 6, concurrency: 4 });
    expect(r.stoppedByBudget).toBe(true);
    const failed = r.results.filter((x) => x.status === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(6);
    expect(failed.length).toBeLessThanOrEqual(6 + 4 - 1);
    expect(failed[0]!.message).toMatch(/ECONNREFUSED/);
    expect(failed[0]!.message).toMatch(/after 3 attempts/);
  });

  it('refusals (4xx) prove the target is up: they count against the budget only', async () => {
    connect();
    server.inject({ kind: 'status', status: 400, detail: 'bad value' }, { method: 'POST', times: 8 });
    const r = await apply(planJob(input({ sourceUsers: many(10) })), { maxConsecutiveFailures: 3 });
    expect(r.stoppedByBudget).toBe(false);
    expect(r.results.filter((x) => x.status === 'failed')).toHaveLength(8);
    expect(r.counts['create-user']).toBe(2);
  });

  it('successes in between reset the count: intermittent 503s do not stop the run', async () => {
    connect({ retry: { attempts: 1 } });
    for (let i = 0; i < 6; i++) {
      server.inject({ kind: 'status', status: 503 }, { method: 'POST', times: 2 });
      server.inject({ kind: 'delay', ms: 0 }, { method: 'POST', times: 1 });
    }
    const r = await apply(planJob(input({ sourceUsers: many(18) })), { maxConsecutiveFailures: 3 });
    expect(r.stoppedByBudget).toBe(false);
    expect(r.results.filter((x) => x.status === 'failed')).toHaveLength(12);
    expect(r.counts['create-user']).toBe(6);
  });
});
