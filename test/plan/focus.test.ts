import { describe, expect, it } from 'vitest';
import { focusPlan } from '../../src/plan/focus.js';
import { planJob } from '../../src/plan/planner.js';
import { group, input, link, provisioned, u, user } from './builders.js';

describe('focusPlan (explain, run --only)', () => {
  const ada = user({ id: '1', userName: 'ada', title: 'CTO' });
  const bob = user({ id: '2', userName: 'bob' });
  const cy = user({ id: '3', userName: 'cy' });
  const plan = planJob(
    input({
      sourceUsers: [ada, bob, cy],
      sourceGroups: [group('g1', 'Eng', [u('1'), u('2'), u('3')])],
      targetUsers: [provisioned({ ...ada, title: 'CEO' }, 't1'), provisioned(bob, 't2')],
      targetGroups: [{ id: 'tg1', externalId: 'g1', displayName: 'Eng', members: [{ type: 'User', value: 't2' }] }],
      userLinks: [link('1', 't1'), link('2', 't2')],
      groupLinks: [link('g1', 'tg1')],
    }),
  );

  it('keeps one user\'s own changes and only their entries in membership changes', () => {
    const f = focusPlan(plan, { kind: 'user', sourceId: '1', targetId: 't1', label: 'ada' });
    expect(f.changes.map((c) => c.kind)).toEqual(['update-user', 'add-members']);
    const add = f.changes.find((c) => c.kind === 'add-members');
    expect(add?.kind === 'add-members' && add.members.map((m) => m.sourceId)).toEqual(['1']);
    expect(f.summary).toMatchObject({ create: 0, update: 1, memberships: 1 });
  });

  it('keeps all of a group\'s membership changes, and nothing for an object with none', () => {
    const g = focusPlan(plan, { kind: 'group', sourceId: 'g1', targetId: 'tg1', label: 'Eng' });
    const add = g.changes.find((c) => c.kind === 'add-members');
    expect(add?.kind === 'add-members' && add.members.map((m) => m.sourceId).sort()).toEqual(['1', '3']);
    expect(focusPlan(plan, { kind: 'user', sourceId: '2', targetId: 't2', label: 'bob' }).changes).toEqual([]);
    // Same id, other kind: a group named like a user id is not that user.
    expect(focusPlan(plan, { kind: 'group', sourceId: '1', label: 'x' }).changes).toEqual([]);
  });
});
