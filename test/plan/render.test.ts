import { describe, expect, it } from 'vitest';
import { planJob } from '../../src/plan/planner.js';
import { renderPlanText } from '../../src/plan/render-text.js';
import { parsePlanJson, renderPlanJson } from '../../src/plan/render-json.js';
import type { Plan } from '../../src/plan/types.js';
import { g, group, input, link, provisioned, u, user } from './builders.js';

function samplePlan(): Plan {
  const boss = user({ id: 'B', userName: 'boss@example.com' });
  const jane = user({ id: 'J', userName: 'jane@example.com', title: 'Senior Engineer' });
  const adoptMe = user({ id: 'A', userName: 'adopt@example.com' });
  const gone = user({ id: 'X', userName: 'gone@example.com' });
  return planJob(
    input({
      sourceUsers: [boss, jane, adoptMe, user({ id: 'N', userName: 'new@example.com', enterprise: { manager: { value: 'B' } } })],
      sourceGroups: [group('G', 'Engineering', [u('J'), u('N'), g('S')]), group('S', 'Sub')],
      targetUsers: [
        provisioned(boss, 'TB'),
        { ...provisioned(jane, 'TJ'), title: 'Engineer' },
        user({ id: 'TA', userName: 'ADOPT@example.com' }),
        provisioned(gone, 'TX'),
      ],
      targetGroups: [{ ...group('TG', 'Engineering', [u('TX'), u('T-hand')]), externalId: 'G' }],
      userLinks: [link('B', 'TB'), link('J', 'TJ'), link('X', 'TX')],
      groupLinks: [link('G', 'TG')],
      policy: { matchUsers: ['userName'] },
    }),
  );
}

describe('renderPlanText', () => {
  it('renders terraform-like lines and one summary line', () => {
    const text = renderPlanText(samplePlan(), { color: false });
    expect(text).toBe(
      [
        '  + create group Sub',
        '  ~ adopt user adopt@example.com (matched by userName)',
        '      userName: "ADOPT@example.com" → "adopt@example.com"',
        '      externalId: (unset) → "A"',
        '  ~ update user jane@example.com',
        '      title: "Engineer" → "Senior Engineer"',
        '  + create user new@example.com',
        '  ~ group Engineering: +3 members, -1 member',
        '      + group Sub',
        '      + jane@example.com',
        '      + new@example.com',
        '      - gone@example.com',
        '  - deactivate user gone@example.com (removed from source)',
        '',
        'Plan: 2 to create, 2 to update, 1 to remove, 4 membership changes.',
        '',
      ].join('\n'),
    );
  });

  it('says exactly "No changes." for an in-sync target', () => {
    expect(renderPlanText(planJob(input()), { color: false })).toBe('No changes. Target is in sync.\n');
  });

  it('says why an unread plan is empty, still starting with "No changes.", and keeps it through JSON', () => {
    const plan: Plan = {
      ...planJob(input()),
      warnings: [{ code: 'duplicate-id', message: 'id 7 twice', where: 'hr.csv:3' }],
      unchangedSince: '2026-01-02T03:04:05.000Z',
    };
    expect(renderPlanText(plan, { color: false })).toBe(
      [
        'Warnings:',
        '  ! duplicate-id: id 7 twice (hr.csv:3)',
        '',
        'No changes. Source and target are unchanged since they were last compared in full (2026-01-02T03:04:05.000Z).',
        '',
      ].join('\n'),
    );
    expect(parsePlanJson(renderPlanJson(plan)).unchangedSince).toBe('2026-01-02T03:04:05.000Z');
  });

  it('says a delta-read plan cannot see deletions yet, and when it will, and keeps it through JSON', () => {
    const deltaRead = { users: 1, groups: 0, lastFullRead: '2026-01-02T00:00:00.000Z', nextFullRead: '2026-01-03T00:00:00.000Z' };
    const plan: Plan = { ...planJob(input()), deltaRead };
    expect(renderPlanText(plan, { color: false })).toBe(
      [
        'Delta read: 1 user and 0 groups changed in the source. Deletions since the last full read (2026-01-02T00:00:00.000Z) show up at the next one (by 2026-01-03T00:00:00.000Z, or now with --full).',
        '',
        'No changes. Target is in sync.',
        '',
      ].join('\n'),
    );
    expect(parsePlanJson(renderPlanJson(plan)).deltaRead).toEqual(deltaRead);
  });

  it('shows warnings and held-back removals with the reason', () => {
    const src = [1, 2, 3].map((i) => user({ id: `${i}`, userName: `u${i}` }));
    const plan = planJob(
      input({
        sourceUsers: [src[0]!],
        targetUsers: src.map((s) => provisioned(s, `T${s.id}`)),
        userLinks: src.map((s) => link(s.id, `T${s.id}`)),
        policy: { deletes: { maxCount: 1 } },
      }),
    );
    plan.warnings.push({ code: 'duplicate-id', message: 'employee 7 appears twice', where: 'hr.csv:9' });
    const text = renderPlanText(plan, { color: false });
    expect(text).toContain('Warnings:\n  ! duplicate-id: employee 7 appears twice (hr.csv:9)\n');
    expect(text).toContain(
      'Held back (2 removals not applied):\n' +
        '  2 removals exceed deletes.maxCount 1; rerun with --allow-deletes to apply them\n' +
        '  - deactivate user u2 (removed from source)\n' +
        '  - deactivate user u3 (removed from source)\n',
    );
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      'Plan: 0 to create, 0 to update, 0 to remove, 0 membership changes. (2 removals held back)',
    );
  });

  it('truncates long member lists unless verbose', () => {
    const users = Array.from({ length: 25 }, (_, i) => user({ id: `u${String(i).padStart(2, '0')}` }));
    const plan = planJob(input({ sourceUsers: users, sourceGroups: [group('G', 'Big', users.map((x) => u(x.id)))] }));
    const short = renderPlanText(plan, { color: false });
    expect(short).toContain('  ~ group Big: +25 members\n');
    expect(short).toContain('      … and 5 more\n');
    expect(short).not.toContain('u24@example.com\n      ');
    const long = renderPlanText(plan, { color: false, verbose: true });
    expect(long).not.toContain('more');
    expect(long).toContain('      + u24@example.com\n');
  });

  it('shows a manager follow-up and uses colour only when asked', () => {
    // Two new users managing each other: the only case that needs a follow-up.
    const plan = planJob(
      input({
        sourceUsers: [
          user({ id: 'B', userName: 'boss', enterprise: { manager: { value: 'E' } } }),
          user({ id: 'E', userName: 'emp', enterprise: { manager: { value: 'B' } } }),
        ],
      }),
    );
    const plain = renderPlanText(plan, { color: false });
    expect(plain).toContain('  ~ update user emp (after creates)\n      enterprise.manager: (unset) → {"value":"B"}\n');
    expect(plain).not.toContain('\u001b[');
    const colored = renderPlanText(plan, { color: true });
    expect(colored).toContain('\u001b[32m  + create user boss\u001b[39m');
    expect(colored).toContain('\u001b[33m  ~ update user emp (after creates)');
  });
});

describe('plan JSON', () => {
  it('round-trips', () => {
    const plan = samplePlan();
    const text = renderPlanJson(plan);
    const back = parsePlanJson(text);
    expect(renderPlanJson(back)).toBe(text);
    // undefined diff sides are dropped by JSON and read back as absent: same meaning.
    expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(plan)));
    expect(text.startsWith('{\n  "version": 1,\n  "job": "hr-to-app",')).toBe(true);
  });

  it('is stable regardless of key insertion order', () => {
    const plan = samplePlan();
    const reverseKeys = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(reverseKeys);
      if (v === null || typeof v !== 'object') return v;
      const entries = Object.entries(v as Record<string, unknown>).reverse();
      return Object.fromEntries(entries.map(([k, x]) => [k, reverseKeys(x)]));
    };
    expect(renderPlanJson(reverseKeys(plan) as Plan)).toBe(renderPlanJson(plan));
  });

  it('refuses another version, naming the supported one', () => {
    const text = renderPlanJson(samplePlan()).replace('"version": 1', '"version": 2');
    expect(() => parsePlanJson(text)).toThrow(/plan file is version 2; this scim-sync reads plan version 1 only/);
    expect(() => parsePlanJson('{}')).toThrow(/has no version/);
  });

  it('explains malformed input', () => {
    expect(() => parsePlanJson('{ nope')).toThrow(/not a plan file: invalid JSON/);
    expect(() => parsePlanJson('[]')).toThrow(/expected a JSON object/);
    const plan = JSON.parse(renderPlanJson(samplePlan())) as Record<string, unknown>;
    (plan.changes as Record<string, unknown>[])[0]!.kind = 'explode-user';
    delete plan.job;
    expect(() => parsePlanJson(JSON.stringify(plan))).toThrow(/malformed plan file:[\s\S]*job[\s\S]*changes\.0\.kind/);
  });
});

describe('renderPlanText at scale', () => {
  it('renders a 150k-change plan without overflowing the stack', () => {
    const users = Array.from({ length: 150_000 }, (_, i) => user({ id: `u${i}`, userName: `u${i}@example.com` }));
    const plan = planJob(input({ sourceUsers: users, sourceGroups: [group('G', 'All', users.map((u) => ({ type: 'User' as const, value: u.id })))] }));
    const text = renderPlanText(plan, { color: false });
    expect(text).toContain('+ create user u99999@example.com');
    expect(text).toContain('Plan: 150001 to create');
  });
});
