import { describe, expect, it } from 'vitest';
import { fingerprintUser, planJob } from '../../src/plan/planner.js';
import { simulateApply } from '../../src/plan/apply-to-snapshot.js';
import type { Change, Plan, PlanInput } from '../../src/plan/types.js';
import { PHASES } from '../../src/plan/types.js';
import { g, group, input, link, provisioned, u, user } from './builders.js';

const kinds = (p: Plan): string[] => p.changes.map((c) => `${c.kind} ${'ref' in c ? c.ref.label : c.group.label}`);
const only = <K extends Change['kind']>(p: Plan, kind: K): Extract<Change, { kind: K }>[] =>
  p.changes.filter((c): c is Extract<Change, { kind: K }> => c.kind === kind);
const codes = (p: Plan): string[] => p.warnings.map((w) => w.code);

/** Apply the plan in memory and plan again: must be a no-op. */
function replan(inp: PlanInput, plan: Plan): Plan {
  const after = simulateApply(plan, inp.targetUsers, inp.targetGroups, inp.links);
  return planJob({ ...inp, targetUsers: after.targetUsers, targetGroups: after.targetGroups, links: after.links });
}

describe('creating and linking', () => {
  it('creates unmatched active users with externalId = source id', () => {
    const p = planJob(input({ sourceUsers: [user({ id: '1', userName: 'jdoe', title: 'Engineer' })] }));
    expect(kinds(p)).toEqual(['create-user jdoe']);
    const c = only(p, 'create-user')[0]!;
    expect(c.user).toEqual({ userName: 'jdoe', active: true, title: 'Engineer', externalId: '1' });
    expect(c.ref).toEqual({ kind: 'user', sourceId: '1', label: 'jdoe' });
    expect(c.fingerprint).toBe(fingerprintUser(c.user));
    expect(p.summary).toEqual({ create: 1, update: 0, remove: 0, memberships: 0, heldBack: 0 });
  });

  it('a no-op re-run produces zero changes', () => {
    const s = user({ id: '1', userName: 'jdoe', title: 'Engineer', emails: [{ value: 'a@x' }, { value: 'b@x' }] });
    const t = { ...provisioned(s, 'T1'), emails: [{ value: 'b@x' }, { value: 'a@x' }], nickName: 'unmanaged' };
    const p = planJob(input({ sourceUsers: [s], targetUsers: [t], userLinks: [link('1', 'T1')] }));
    expect(p.changes).toEqual([]);
    expect(p.heldBack).toEqual([]);
  });

  it('compares only managed attributes', () => {
    const s = user({ id: '1', title: 'Engineer', nickName: 'Jo' });
    const t = { ...provisioned(s, 'T1'), nickName: 'Other' };
    const p = planJob(input({ sourceUsers: [s], targetUsers: [t], userLinks: [link('1', 'T1')] }));
    expect(p.changes).toEqual([]);
  });

  it('a renamed userName is an update, never delete + create', () => {
    const s = user({ id: '1', userName: 'jane.new' });
    const t = { ...provisioned(s, 'T1'), userName: 'jane.old' };
    const p = planJob(input({ sourceUsers: [s], targetUsers: [t], userLinks: [link('1', 'T1')] }));
    expect(kinds(p)).toEqual(['update-user jane.new']);
    expect(only(p, 'update-user')[0]!.diffs).toEqual([{ attribute: 'userName', before: 'jane.old', after: 'jane.new' }]);
    expect(only(p, 'update-user')[0]!.adopt).toBeUndefined();
  });

  it('field-level diffs, including cleared attributes', () => {
    const s = user({ id: '1', title: 'Senior Engineer' });
    const t = { ...provisioned(s, 'T1'), title: 'Engineer', displayName: 'Jo' };
    const p = planJob(input({ sourceUsers: [s], targetUsers: [t], userLinks: [link('1', 'T1')] }));
    expect(only(p, 'update-user')[0]!.diffs).toEqual([
      { attribute: 'displayName', before: 'Jo', after: undefined },
      { attribute: 'title', before: 'Engineer', after: 'Senior Engineer' },
    ]);
    expect(p.summary.update).toBe(1);
  });

  it('relinks by externalId after a crash (link never recorded)', () => {
    const s = user({ id: '1', userName: 'jdoe' });
    const p = planJob(input({ sourceUsers: [s], targetUsers: [provisioned(s, 'T9')] }));
    expect(kinds(p)).toEqual(['update-user jdoe']);
    const c = only(p, 'update-user')[0]!;
    expect(c.adopt).toBe('externalId');
    expect(c.diffs).toEqual([]);
    expect(c.ref.targetId).toBe('T9');
  });

  it('a link whose target vanished is created again with a warning', () => {
    const s = user({ id: '1', userName: 'jdoe' });
    const p = planJob(input({ sourceUsers: [s], userLinks: [link('1', 'GONE')] }));
    expect(kinds(p)).toEqual(['create-user jdoe']);
    expect(codes(p)).toEqual(['link-target-missing']);
  });
});

describe('adoption', () => {
  it('adopts by userName, case-insensitively', () => {
    const s = user({ id: '1', userName: 'JDoe@Example.com', title: 'Eng' });
    const t = user({ id: 'T1', userName: 'jdoe@example.com', title: 'Eng' });
    const p = planJob(input({ sourceUsers: [s], targetUsers: [t], policy: { matchUsers: ['userName'] } }));
    const c = only(p, 'update-user')[0]!;
    expect(c.adopt).toBe('userName');
    expect(c.diffs).toEqual([
      { attribute: 'userName', before: 'jdoe@example.com', after: 'JDoe@Example.com' },
      { attribute: 'externalId', before: undefined, after: '1' },
    ]);
    expect(p.summary.create).toBe(0);
  });

  it('adopts by any email, case-insensitively', () => {
    const s = user({ id: '1', userName: 'jdoe', emails: [{ value: 'x@e.com' }, { value: 'J@E.com' }] });
    const t = user({ id: 'T1', userName: 'john', emails: [{ value: 'j@e.com' }] });
    const p = planJob(input({ sourceUsers: [s], targetUsers: [t], policy: { matchUsers: ['emails.value'] } }));
    expect(only(p, 'update-user')[0]!.adopt).toBe('emails.value');
    expect(only(p, 'update-user')[0]!.ref.targetId).toBe('T1');
  });

  it('tries matchers in order', () => {
    const s = user({ id: '1', userName: 'jdoe', emails: [{ value: 'j@e.com' }] });
    const byEmail = user({ id: 'T1', userName: 'other', emails: [{ value: 'j@e.com' }] });
    const byName = user({ id: 'T2', userName: 'jdoe' });
    const p = planJob(
      input({ sourceUsers: [s], targetUsers: [byEmail, byName], policy: { matchUsers: ['emails.value', 'userName'] } }),
    );
    expect(only(p, 'update-user')[0]!.ref.targetId).toBe('T1');
  });

  it('does not adopt without a configured matcher', () => {
    const s = user({ id: '1', userName: 'jdoe' });
    const p = planJob(input({ sourceUsers: [s], targetUsers: [user({ id: 'T1', userName: 'jdoe' })] }));
    expect(kinds(p)).toEqual(['create-user jdoe']);
  });

  it('an ambiguous match skips the user with a warning', () => {
    const s = user({ id: '1', userName: 'jdoe', emails: [{ value: 'a@e.com' }, { value: 'b@e.com' }] });
    const t1 = user({ id: 'T1', userName: 'x', emails: [{ value: 'a@e.com' }] });
    const t2 = user({ id: 'T2', userName: 'y', emails: [{ value: 'B@e.com' }] });
    const p = planJob(
      input({
        sourceUsers: [s],
        sourceGroups: [group('G', 'Eng', [u('1')])],
        targetUsers: [t1, t2],
        policy: { matchUsers: ['emails.value'] },
      }),
    );
    expect(kinds(p)).toEqual(['create-group Eng']);
    expect(codes(p)).toEqual(['ambiguous-match']);
    expect(p.warnings[0]!.message).toContain('T1, T2');
  });

  it('two source users competing for one target both skip', () => {
    const a = user({ id: '1', userName: 'jdoe' });
    const b = user({ id: '2', userName: 'JDOE' });
    const p = planJob(
      input({ sourceUsers: [a, b], targetUsers: [user({ id: 'T1', userName: 'jdoe' })], policy: { matchUsers: ['userName'] } }),
    );
    expect(p.changes).toEqual([]);
    expect(codes(p)).toEqual(['ambiguous-match']);
  });

  it('never adopts a target already linked to another source object', () => {
    const owner = user({ id: '1', userName: 'jdoe' });
    const other = user({ id: '2', userName: 'JDoe' });
    const p = planJob(
      input({
        sourceUsers: [owner, other],
        targetUsers: [provisioned(owner, 'T1')],
        userLinks: [link('1', 'T1')],
        policy: { matchUsers: ['userName'] },
      }),
    );
    expect(kinds(p)).toEqual(['create-user JDoe']);
  });

  it('keeps matching until stable: a match can resolve another object\'s ambiguity', () => {
    // bob is ambiguous by userName between T0 and T1 until ann adopts T0 by email; a second run
    // would adopt T1 for bob, so this run must already do it.
    const ann = user({ id: 'a', userName: 'ann', emails: [{ value: 'gus@x.io' }] });
    const bob = user({ id: 'b', userName: 'bob' });
    const inp = input({
      sourceUsers: [ann, bob],
      targetUsers: [user({ id: 'T0', userName: 'bob', emails: [{ value: 'GUS@x.io' }] }), user({ id: 'T1', userName: 'bob' })],
      policy: { matchUsers: ['userName', 'emails.value'] },
    });
    const p = planJob(inp);
    expect(only(p, 'update-user').map((c) => [c.ref.label, c.ref.targetId, c.adopt])).toEqual([
      ['ann', 'T0', 'emails.value'],
      ['bob', 'T1', 'userName'],
    ]);
    expect(p.warnings).toEqual([]);
    expect(replan(inp, p).changes).toEqual([]);
  });

  it('never adopts a target whose externalId names another source object', () => {
    const owner = user({ id: '1', userName: 'jdoe' });
    const other = user({ id: '2', userName: 'jdoe' });
    const stale = { ...user({ id: 'T-stale', userName: 'jdoe' }), externalId: '1' };
    const p = planJob(
      input({
        sourceUsers: [owner, other],
        targetUsers: [provisioned(owner, 'T1'), stale],
        userLinks: [link('1', 'T1')],
        policy: { matchUsers: ['userName'] },
      }),
    );
    expect(kinds(p)).toEqual(['create-user jdoe']);
    expect(only(p, 'create-user')[0]!.ref.sourceId).toBe('2');
  });

  it('adopts groups by displayName', () => {
    const p = planJob(
      input({
        sourceGroups: [group('G1', 'Engineering')],
        targetGroups: [group('TG', 'engineering')],
        policy: { matchGroups: ['displayName'] },
      }),
    );
    const c = only(p, 'update-group')[0]!;
    expect(c.adopt).toBe('displayName');
    expect(c.diffs).toEqual([
      { attribute: 'displayName', before: 'engineering', after: 'Engineering' },
      { attribute: 'externalId', before: undefined, after: 'G1' },
    ]);
  });
});

describe('managers', () => {
  it('a manager created in this run is in the create, and the report is created after the manager', () => {
    // Labels chosen so that alphabetical order alone would put the report first.
    const boss = user({ id: 'B', userName: 'zz-boss' });
    const emp = user({ id: 'E', userName: 'aa-emp', enterprise: { manager: { value: 'B', displayName: 'Boss' } } });
    const inp = input({ sourceUsers: [emp, boss] });
    const p = planJob(inp);
    expect(kinds(p)).toEqual(['create-user zz-boss', 'create-user aa-emp']);
    expect(only(p, 'create-user')[1]!.user.enterprise?.manager).toEqual({ value: 'B' });
    expect(p.summary).toMatchObject({ create: 2, update: 0 });
    expect(replan(inp, p).changes).toEqual([]);
  });

  it('orders a chain of new managers by depth', () => {
    const a = user({ id: 'A', userName: 'c-top' });
    const b = user({ id: 'B', userName: 'b-middle', enterprise: { manager: { value: 'A' } } });
    const c = user({ id: 'C', userName: 'a-bottom', enterprise: { manager: { value: 'B' } } });
    const d = user({ id: 'D', userName: 'd-peer', enterprise: { manager: { value: 'A' } } });
    const p = planJob(input({ sourceUsers: [c, d, b, a] }));
    expect(kinds(p)).toEqual(['create-user c-top', 'create-user b-middle', 'create-user d-peer', 'create-user a-bottom']);
  });

  it('a manager cycle among new users is broken by follow-up updates after creates', () => {
    const a = user({ id: 'A', userName: 'a', enterprise: { manager: { value: 'B' } } });
    const b = user({ id: 'B', userName: 'b', enterprise: { manager: { value: 'A' } } });
    const inp = input({ sourceUsers: [a, b] });
    const p = planJob(inp);
    expect(kinds(p)).toEqual(['create-user a', 'create-user b', 'update-user a', 'update-user b']);
    expect(only(p, 'create-user').every((c) => c.user.enterprise?.manager === undefined)).toBe(true);
    const follow = only(p, 'update-user');
    expect(follow.every((c) => c.phase === 'memberships')).toBe(true);
    expect(follow[0]!.diffs).toEqual([{ attribute: 'enterprise.manager', before: undefined, after: { value: 'B' } }]);
    expect(replan(inp, p).changes).toEqual([]);
  });

  it('a manager already linked goes straight into the create, as a source id', () => {
    const boss = user({ id: 'B', userName: 'boss' });
    const emp = user({ id: 'E', userName: 'emp', enterprise: { manager: { value: 'B' } } });
    const p = planJob(input({ sourceUsers: [emp, boss], targetUsers: [provisioned(boss, 'TB')], userLinks: [link('B', 'TB')] }));
    expect(kinds(p)).toEqual(['create-user emp']);
    expect(only(p, 'create-user')[0]!.user.enterprise?.manager).toEqual({ value: 'B' });
  });

  it('compares managers by translating target ids to source ids', () => {
    const boss = user({ id: 'B', userName: 'boss' });
    const emp = user({ id: 'E', userName: 'emp', enterprise: { manager: { value: 'B' } } });
    const tEmp = { ...provisioned(emp, 'TE'), enterprise: { manager: { value: 'TB', displayName: 'The Boss' } } };
    const p = planJob(
      input({
        sourceUsers: [emp, boss],
        targetUsers: [provisioned(boss, 'TB'), tEmp],
        userLinks: [link('B', 'TB'), link('E', 'TE')],
      }),
    );
    expect(p.changes).toEqual([]);
  });

  it('a changed manager to a user being created: one update, after the new manager is created', () => {
    const old = user({ id: 'O', userName: 'old' });
    const neu = user({ id: 'N', userName: 'new' });
    const emp = user({ id: 'E', userName: 'emp', title: 'Lead', enterprise: { manager: { value: 'N' } } });
    const tEmp = { ...provisioned(emp, 'TE'), title: 'Dev', enterprise: { manager: { value: 'TO' } } };
    const inp = input({ sourceUsers: [emp, old, neu], targetUsers: [provisioned(old, 'TO'), tEmp], userLinks: [link('O', 'TO'), link('E', 'TE')] });
    const p = planJob(inp);
    expect(kinds(p)).toEqual(['create-user new', 'update-user emp']);
    const update = only(p, 'update-user')[0]!;
    expect(update.phase).toBe('users');
    expect(update.diffs.map((d) => d.attribute).sort()).toEqual(['enterprise.manager', 'title']);
    expect(update.diffs.find((d) => d.attribute === 'enterprise.manager')!.before).toEqual({ value: 'O' });
    expect(p.summary.update).toBe(1);
    expect(replan(inp, p).changes).toEqual([]);
  });

  it('a manager that will not exist on the target is left alone, with one warning', () => {
    const emp = user({ id: 'E', userName: 'emp', enterprise: { manager: { value: 'NOBODY' } } });
    const tEmp = { ...provisioned(emp, 'TE'), enterprise: { manager: { value: 'T-someone' } } };
    const p = planJob(input({ sourceUsers: [emp], targetUsers: [tEmp], userLinks: [link('E', 'TE')] }));
    expect(p.changes).toEqual([]);
    expect(codes(p)).toEqual(['unresolved-manager']);
  });

  it('clears a manager the source no longer has', () => {
    const emp = user({ id: 'E', userName: 'emp' });
    const tEmp = { ...provisioned(emp, 'TE'), enterprise: { manager: { value: 'TX' } } };
    const p = planJob(input({ sourceUsers: [emp], targetUsers: [tEmp], userLinks: [link('E', 'TE')] }));
    expect(only(p, 'update-user')[0]!.diffs).toEqual([
      { attribute: 'enterprise.manager', before: { value: 'TX' }, after: undefined },
    ]);
  });
});

describe('inactive users', () => {
  it('inactive unmatched users are not created, silently', () => {
    const p = planJob(input({ sourceUsers: [user({ id: '1', active: false })] }));
    expect(p.changes).toEqual([]);
    expect(p.warnings).toEqual([]);
  });

  it('inactive-in-source deactivates the linked user; other diffs are a separate update', () => {
    const s = user({ id: '1', userName: 'gone', active: false, title: 'Ex' });
    const t = { ...provisioned(s, 'T1'), active: true, title: 'Eng' };
    const p = planJob(input({ sourceUsers: [s], targetUsers: [t], userLinks: [link('1', 'T1')] }));
    expect(kinds(p)).toEqual(['update-user gone', 'deactivate-user gone']);
    const up = only(p, 'update-user')[0]!;
    expect(up.diffs.map((d) => d.attribute)).toEqual(['title']);
    expect(up.user.active).toBe(true);
    expect(only(p, 'deactivate-user')[0]!.reason).toBe('inactive-in-source');
    expect(p.summary.remove).toBe(1);
  });

  it('inactive-in-source deactivations count toward the cap', () => {
    const src = [1, 2, 3].map((i) => user({ id: `${i}`, active: false }));
    const p = planJob(
      input({
        sourceUsers: src,
        targetUsers: src.map((s) => ({ ...provisioned(s, `T${s.id}`), active: true })),
        userLinks: src.map((s) => link(s.id, `T${s.id}`)),
        policy: { deletes: { maxCount: 2 } },
      }),
    );
    expect(p.changes).toEqual([]);
    expect(p.heldBack.map((c) => c.kind)).toEqual(['deactivate-user', 'deactivate-user', 'deactivate-user']);
    expect(p.holdReason).toBe('3 removals exceed deletes.maxCount 2; rerun with --allow-deletes to apply them');
  });

  it('inactive → active in source is a plain update', () => {
    const s = user({ id: '1', active: true });
    const t = { ...provisioned(s, 'T1'), active: false };
    const p = planJob(input({ sourceUsers: [s], targetUsers: [t], userLinks: [link('1', 'T1')] }));
    expect(only(p, 'update-user')[0]!.diffs).toEqual([{ attribute: 'active', before: false, after: true }]);
  });
});

describe('removals and safety', () => {
  const managed = (n: number) => {
    const src = Array.from({ length: n }, (_, i) => user({ id: `s${String(i).padStart(3, '0')}` }));
    return {
      src,
      targets: src.map((s) => provisioned(s, `t${s.id}`)),
      links: src.map((s) => link(s.id, `t${s.id}`)),
    };
  };

  it('deactivates linked users removed from the source; out-of-scope reason', () => {
    const { src, targets, links } = managed(3);
    const p = planJob(
      input({ sourceUsers: [src[0]!], targetUsers: targets, userLinks: links, outOfScopeUsers: ['s001'] }),
    );
    expect(only(p, 'deactivate-user').map((c) => [c.ref.targetId, c.reason])).toEqual([
      ['ts001', 'out-of-scope'],
      ['ts002', 'removed-from-source'],
    ]);
    expect(p.changes.every((c) => c.phase === 'deactivations')).toBe(true);
  });

  it('skips deactivation of an already inactive target; delete mode deletes; never mode does nothing', () => {
    const { targets, links } = managed(2);
    targets[0]!.active = false;
    const base = { sourceUsers: [user({ id: 'other' })], targetUsers: targets, userLinks: links };
    expect(kinds(planJob(input(base)))).toEqual(['create-user other@example.com', 'deactivate-user s001@example.com']);
    expect(only(planJob(input({ ...base, policy: { deletes: { mode: 'delete' } } })), 'delete-user')).toHaveLength(2);
    expect(kinds(planJob(input({ ...base, policy: { deletes: { mode: 'never' } } })))).toEqual(['create-user other@example.com']);
  });

  it('never touches unlinked target objects', () => {
    const p = planJob(
      input({
        sourceUsers: [user({ id: '1' })],
        targetUsers: [user({ id: 'T-hand', userName: 'admin' })],
        targetGroups: [group('TG-hand', 'Admins')],
        policy: { deletes: { mode: 'delete' } },
      }),
    );
    expect(kinds(p)).toEqual(['create-user 1@example.com']);
  });

  it('holds back all removals over maxPercent, with the reason', () => {
    const { src, targets, links } = managed(40);
    const p = planJob(
      input({ sourceUsers: src.slice(12), targetUsers: targets, userLinks: links, policy: { deletes: { maxCount: 100, maxPercent: 10 } } }),
    );
    expect(p.changes).toEqual([]);
    expect(p.heldBack).toHaveLength(12);
    expect(p.summary.heldBack).toBe(12);
    expect(p.holdReason).toBe(
      '12 removals exceed deletes.maxPercent 10% of 40 managed objects (max 4); rerun with --allow-deletes to apply them',
    );
  });

  it('membership removals of held-back people are held back with them; other member changes apply', () => {
    const { src, targets, links } = managed(10);
    // Group G holds everyone on the target; in the source the first five left the company and
    // person 5 moved out of the group (but stays employed).
    const members = targets.map((t) => ({ type: 'User' as const, value: t.id }));
    const sourceMembers = src.slice(6).map((u) => ({ type: 'User' as const, value: u.id }));
    const p = planJob(
      input({
        sourceUsers: src.slice(5),
        sourceGroups: [group('G', 'Staff', sourceMembers)],
        targetUsers: targets,
        targetGroups: [{ id: 'TG', displayName: 'Staff', externalId: 'G', members }],
        userLinks: links,
        groupLinks: [link('G', 'TG')],
        policy: { deletes: { maxCount: 2 } },
      }),
    );
    const removeNow = only(p, 'remove-members');
    expect(removeNow).toHaveLength(1);
    expect(removeNow[0]!.members.map((m) => m.targetId)).toEqual([targets[5]!.id]);
    const heldMembers = p.heldBack.filter((c) => c.kind === 'remove-members');
    expect(heldMembers).toHaveLength(1);
    expect(heldMembers[0]!.kind === 'remove-members' && heldMembers[0]!.members.map((m) => m.targetId).sort()).toEqual(
      targets.slice(0, 5).map((t) => t.id).sort(),
    );
    expect(p.heldBack.filter((c) => c.kind === 'deactivate-user')).toHaveLength(5);
  });

  it('removals within both thresholds apply', () => {
    const { src, targets, links } = managed(40);
    const p = planJob(
      input({ sourceUsers: src.slice(4), targetUsers: targets, userLinks: links, policy: { deletes: { maxCount: 4, maxPercent: 10 } } }),
    );
    expect(only(p, 'deactivate-user')).toHaveLength(4);
    expect(p.heldBack).toEqual([]);
  });

  it('creates and updates still apply when removals are held back; allow overrides the thresholds', () => {
    const { src, targets, links } = managed(10);
    const spec = {
      sourceUsers: [...src.slice(5), user({ id: 'new' })],
      targetUsers: targets,
      userLinks: links,
      policy: { deletes: { maxCount: 2 } },
    };
    const held = planJob(input(spec));
    expect(kinds(held)).toEqual(['create-user new@example.com']);
    expect(held.heldBack).toHaveLength(5);
    const allowed = planJob(input({ ...spec, policy: { deletes: { maxCount: 2, allow: true } } }));
    expect(only(allowed, 'deactivate-user')).toHaveLength(5);
    expect(allowed.heldBack).toEqual([]);
  });

  it('an empty source holds back everything, even with allow', () => {
    const { targets, links } = managed(3);
    const p = planJob(
      input({
        targetUsers: targets,
        userLinks: links,
        targetGroups: [{ ...group('TG', 'Eng', [u('ts000')]), externalId: 'G' }],
        groupLinks: [link('G', 'TG')],
        policy: { deletes: { allow: true, mode: 'delete' } },
      }),
    );
    expect(p.changes).toEqual([]);
    expect(p.heldBack.map((c) => c.kind)).toEqual(['delete-user', 'delete-user', 'delete-user', 'delete-group']);
    expect(p.holdReason).toBe('the source returned no users; refusing to remove 4 objects');
  });

  it('an incomplete source holds back removals and membership removals', () => {
    const { src, targets, links } = managed(3);
    const p = planJob(
      input({
        sourceUsers: [src[0]!],
        sourceGroups: [group('G', 'Eng', [])],
        targetUsers: targets,
        userLinks: links,
        targetGroups: [{ ...group('TG', 'Eng', [u('ts000')]), externalId: 'G' }],
        groupLinks: [link('G', 'TG')],
        policy: { sourceComplete: false, deletes: { allow: true } },
      }),
    );
    expect(p.changes).toEqual([]);
    expect(p.heldBack.map((c) => c.kind)).toEqual(['remove-members', 'deactivate-user', 'deactivate-user']);
    expect(p.holdReason).toBe('the source read is incomplete; refusing to remove 2 objects and 1 membership');
  });

  it('groups: deleted only in delete mode, never in deactivate mode', () => {
    const spec = {
      sourceUsers: [user({ id: '1' })],
      targetGroups: [{ ...group('TG', 'Old'), externalId: 'G' }],
      groupLinks: [link('G', 'TG')],
      outOfScopeGroups: ['G'],
    };
    expect(kinds(planJob(input(spec)))).toEqual(['create-user 1@example.com']);
    const p = planJob(input({ ...spec, policy: { deletes: { mode: 'delete' } } }));
    expect(only(p, 'delete-group').map((c) => [c.ref.label, c.reason, c.phase])).toEqual([['Old', 'out-of-scope', 'group-deletes']]);
  });
});

describe('groups and memberships', () => {
  it('creates parents before children', () => {
    const p = planJob(
      input({
        sourceGroups: [group('leaf', 'A-leaf'), group('mid', 'B-mid', [g('leaf')]), group('root', 'C-root', [g('mid')])],
      }),
    );
    expect(only(p, 'create-group').map((c) => c.ref.label)).toEqual(['C-root', 'B-mid', 'A-leaf']);
  });

  it('breaks nesting cycles deterministically with a warning', () => {
    const groups = [group('a', 'A', [g('b')]), group('b', 'B', [g('c')]), group('c', 'C', [g('a')]), group('d', 'D', [g('a')])];
    const p = planJob(input({ sourceGroups: groups }));
    expect(only(p, 'create-group').map((c) => c.ref.label)).toEqual(['D', 'A', 'B', 'C']);
    const reversed = planJob(input({ sourceGroups: [...groups].reverse() }));
    expect(reversed).toEqual(p);
    expect(p.warnings.filter((w) => w.code === 'group-cycle')).toHaveLength(1);
  });

  it('adds members of new groups by source id, including users being created', () => {
    const p = planJob(
      input({
        sourceUsers: [user({ id: '1', userName: 'bob' }), user({ id: '2', userName: 'alice' }), user({ id: '3', active: false })],
        sourceGroups: [group('G', 'Eng', [u('1'), u('2'), u('3'), u('missing'), g('H')]), group('H', 'Sub')],
      }),
    );
    const add = only(p, 'add-members')[0]!;
    expect(add.group).toEqual({ kind: 'group', sourceId: 'G', label: 'Eng' });
    // Code-unit order (locale-independent): upper case sorts first.
    expect(add.members).toEqual([
      { type: 'Group', sourceId: 'H', label: 'Sub' },
      { type: 'User', sourceId: '2', label: 'alice' },
      { type: 'User', sourceId: '1', label: 'bob' },
    ]);
    expect(p.summary.memberships).toBe(3);
  });

  it('removes only managed members; hand-added members stay', () => {
    const a = user({ id: 'a', userName: 'ann' });
    const b = user({ id: 'b', userName: 'ben' });
    const tg = { ...group('TG', 'Eng', [u('Ta'), u('Tb'), u('T-hand'), g('TG-hand')]), externalId: 'G' };
    const p = planJob(
      input({
        sourceUsers: [a, b],
        sourceGroups: [group('G', 'Eng', [u('a')])],
        targetUsers: [provisioned(a, 'Ta'), provisioned(b, 'Tb'), user({ id: 'T-hand', userName: 'admin' })],
        targetGroups: [tg, group('TG-hand', 'Hand')],
        userLinks: [link('a', 'Ta'), link('b', 'Tb')],
        groupLinks: [link('G', 'TG')],
      }),
    );
    expect(kinds(p)).toEqual(['remove-members Eng']);
    const rm = only(p, 'remove-members')[0]!;
    expect(rm.group).toEqual({ kind: 'group', sourceId: 'G', targetId: 'TG', label: 'Eng' });
    expect(rm.members).toEqual([{ type: 'User', targetId: 'Tb', label: 'ben' }]);
  });

  it('members that are already there produce no change', () => {
    const a = user({ id: 'a' });
    const p = planJob(
      input({
        sourceUsers: [a],
        sourceGroups: [group('G', 'Eng', [u('a'), u('a')])],
        targetUsers: [provisioned(a, 'Ta')],
        targetGroups: [{ ...group('TG', 'Eng', [u('Ta')]), externalId: 'G' }],
        userLinks: [link('a', 'Ta')],
        groupLinks: [link('G', 'TG')],
      }),
    );
    expect(p.changes).toEqual([]);
  });
});

describe('output', () => {
  it('is ordered by phase and independent of input order', () => {
    const users = [user({ id: '2', userName: 'b' }), user({ id: '1', userName: 'a' }), user({ id: '3', userName: 'c' })];
    const spec = {
      sourceUsers: users.slice(0, 2),
      sourceGroups: [group('G2', 'Z', [u('1')]), group('G1', 'Y', [u('2'), u('1')])],
      targetUsers: [provisioned(users[2]!, 'T3')],
      userLinks: [link('3', 'T3')],
    };
    const p = planJob(input(spec));
    const ranks = p.changes.map((c) => PHASES.indexOf(c.phase));
    expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
    expect(kinds(p)).toEqual([
      'create-group Y',
      'create-group Z',
      'create-user a',
      'create-user b',
      'add-members Y',
      'add-members Z',
      'deactivate-user c',
    ]);
    const rev = planJob(
      input({
        ...spec,
        sourceUsers: [...spec.sourceUsers].reverse(),
        sourceGroups: [...spec.sourceGroups].reverse().map((gr) => ({ ...gr, members: [...gr.members].reverse() })),
      }),
    );
    expect(rev).toEqual(p);
  });

  it('carries input warnings first, then planner warnings', () => {
    const inp = input({ sourceUsers: [user({ id: '1' })], userLinks: [link('1', 'X')] });
    inp.warnings = [{ code: 'duplicate-id', message: 'row 3', where: 'hr.csv:3' }];
    expect(codes(planJob(inp))).toEqual(['duplicate-id', 'link-target-missing']);
  });

  it('stamps version, job and serial', () => {
    const p = planJob(input());
    expect(p).toMatchObject({ version: 1, job: 'hr-to-app', source: 'hr', target: 'app', stateSerial: 7, changes: [] });
    expect('holdReason' in p).toBe(false);
  });
});

describe('fingerprints', () => {
  it('are equal for payloads that compare equal and differ otherwise', () => {
    const a = fingerprintUser({ userName: 'j', active: true, emails: [{ value: 'a' }, { value: 'b' }], title: '' });
    const b = fingerprintUser({ active: true, userName: 'j', emails: [{ value: 'b' }, { value: 'a' }] });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{40}$/);
    expect(fingerprintUser({ userName: 'j', active: false })).not.toBe(fingerprintUser({ userName: 'j', active: true }));
  });
});

describe('fingerprints', () => {
  it('hash the canonical JSON of the normalised payload, so fingerprints stored by earlier versions stay valid', async () => {
    const { createHash } = await import('node:crypto');
    const { canonicalJson, normalizeValue } = await import('../../src/core/attributes.js');
    const { fingerprintUser } = await import('../../src/plan/fingerprint.js');
    const payload = {
      userName: 'ada@example.com',
      active: true,
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ value: 'b@example.com', type: 'home' }, { value: 'ada@example.com', type: 'work', primary: true }],
      enterprise: { manager: { value: 'E1' }, department: 'R&D', costCenter: '' },
      title: 'Ünïcode "quoted"',
    };
    const reference = createHash('sha1').update(canonicalJson(normalizeValue(payload))).digest('hex');
    expect(fingerprintUser(payload)).toBe(reference);
  });
});
