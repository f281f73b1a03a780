import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getPath, valuesEqual } from '../../src/core/attributes.js';
import type { Group, MemberRef, User } from '../../src/core/model.js';
import { simulateApply } from '../../src/plan/apply-to-snapshot.js';
import { planJob } from '../../src/plan/planner.js';
import type { Change, Link, Plan, PlanInput } from '../../src/plan/types.js';
import { DEFAULT_ATTRIBUTES, input } from './builders.js';

/**
 * Random sources against random targets: some target objects linked (identical or drifted), some
 * links stale, some target objects nobody owns (adoption candidates or someone else's), with
 * colliding userNames/emails/displayNames to exercise adoption and ambiguity.
 */

const NAMES = ['ann', 'bob', 'cat', 'dan', 'eve'];
const TITLES = [undefined, 'Engineer', 'Manager', ''];

const nameArb = fc.tuple(fc.constantFrom(...NAMES), fc.boolean()).map(([n, upper]) => (upper ? n.toUpperCase() : n));
const EMAILS = [...NAMES, 'fay', 'gus', 'hal', 'ivy'].map((n) => `${n}@X.io`);
const emailsArb = fc.option(
  fc.subarray(EMAILS, { minLength: 1, maxLength: 2 }).map((es) => es.map((value, i) => ({ value: i ? value.toLowerCase() : value }))),
  { nil: undefined },
);

const attrsArb = fc.record({
  userName: nameArb,
  active: fc.boolean(),
  title: fc.constantFrom(...TITLES),
  emails: emailsArb,
});

interface World {
  inp: PlanInput;
}

const worldArb: fc.Arbitrary<World> = fc
  .record({
    src: fc.array(fc.record({ attrs: attrsArb, mgr: fc.option(fc.nat(12), { nil: undefined }), activeBias: fc.nat(3) }), { maxLength: 10 }),
    // How each source user relates to the target: 0 none, 1 linked identical, 2 linked drifted,
    // 3 stale link (target vanished), 4 unlinked target carrying its externalId (crash relink).
    rel: fc.array(fc.nat(4), { minLength: 10, maxLength: 10 }),
    drift: fc.array(attrsArb, { minLength: 10, maxLength: 10 }),
    gone: fc.array(fc.record({ attrs: attrsArb }), { maxLength: 4 }),
    goneOut: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    loose: fc.array(attrsArb, { maxLength: 5 }),
    groups: fc.array(
      fc.record({ name: fc.constantFrom('Eng', 'eng', 'Ops', 'Sales'), users: fc.subarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 42]), groups: fc.subarray([0, 1, 2, 3]) }),
      { maxLength: 4 },
    ),
    groupRel: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
    targetMembers: fc.array(fc.subarray(['T0', 'T1', 'T2', 'T3', 'G0', 'L0', 'L1', 'L2', 'X0', 'X1', 'TG0', 'LG0']), { minLength: 4, maxLength: 4 }),
    goneGroups: fc.nat(2),
    matchUsers: fc.subarray(['userName', 'emails.value'] as const),
    reverseMatchers: fc.boolean(),
    matchGroups: fc.boolean(),
    mode: fc.constantFrom('deactivate', 'delete', 'never') as fc.Arbitrary<'deactivate' | 'delete' | 'never'>,
    maxCount: fc.nat(6),
    maxPercent: fc.constantFrom(0, 10, 50, 100),
    allow: fc.boolean(),
    complete: fc.nat(4),
    manageManager: fc.boolean(),
  })
  .map((r): World => {
    const sourceUsers: User[] = r.src.map((s, i) => ({
      id: `s${i}`,
      ...s.attrs,
      active: s.activeBias > 0 ? true : s.attrs.active,
      ...(s.mgr !== undefined ? { enterprise: { manager: { value: `s${s.mgr}` } } } : {}),
    }));
    const targetUsers: User[] = [];
    const userLinks: Link[] = [];
    sourceUsers.forEach((s, i) => {
      const rel = r.rel[i]!;
      const tid = `L${i}`;
      if (rel === 1 || rel === 2) {
        // Managers on linked targets are written as the target ids they would have.
        const base: User = { ...structuredClone(s), id: tid, externalId: s.id };
        if (s.enterprise?.manager) base.enterprise = { manager: { value: `L${s.enterprise.manager.value.slice(1)}` } };
        targetUsers.push(rel === 1 ? base : { ...base, ...r.drift[i]! });
        userLinks.push({ sourceId: s.id, targetId: tid, origin: 'created', fingerprint: null });
      } else if (rel === 3) {
        userLinks.push({ sourceId: s.id, targetId: `VANISHED${i}`, origin: 'created', fingerprint: null });
      } else if (rel === 4) {
        targetUsers.push({ id: tid, externalId: s.id, ...r.drift[i]! });
      }
    });
    r.gone.forEach((gn, i) => {
      targetUsers.push({ id: `X${i}`, externalId: `gone${i}`, ...gn.attrs });
      userLinks.push({ sourceId: `gone${i}`, targetId: `X${i}`, origin: i % 2 ? 'adopted' : 'created', fingerprint: null });
    });
    r.loose.forEach((a, i) => targetUsers.push({ id: `T${i}`, ...a }));

    const sourceGroups: Group[] = r.groups.map((gr, i) => ({
      id: `g${i}`,
      displayName: gr.name,
      members: [
        ...gr.users.map((n): MemberRef => ({ type: 'User', value: `s${n}` })),
        ...gr.groups.map((n): MemberRef => ({ type: 'Group', value: `g${n}` })),
      ],
    }));
    const targetGroups: Group[] = [];
    const groupLinks: Link[] = [];
    const asMember = (id: string): MemberRef => ({ type: id.includes('G') ? 'Group' : 'User', value: id });
    sourceGroups.forEach((sg, i) => {
      const rel = r.groupRel[i]!;
      if (rel === 1 || rel === 2) {
        targetGroups.push({ id: `LG${i}`, externalId: sg.id, displayName: rel === 1 ? sg.displayName : 'Drifted', members: r.targetMembers[i]!.map(asMember) });
        groupLinks.push({ sourceId: sg.id, targetId: `LG${i}`, origin: 'created', fingerprint: null });
      }
    });
    for (let i = 0; i < r.goneGroups; i++) {
      targetGroups.push({ id: `XG${i}`, externalId: `goneG${i}`, displayName: `Old${i}`, members: [] });
      groupLinks.push({ sourceId: `goneG${i}`, targetId: `XG${i}`, origin: 'created', fingerprint: null });
    }
    targetGroups.push({ id: 'TG0', displayName: 'eng', members: r.targetMembers[3]!.map(asMember) });

    const matchUsers = r.reverseMatchers ? [...r.matchUsers].reverse() : r.matchUsers;
    return {
      inp: input({
        sourceUsers,
        sourceGroups,
        targetUsers,
        targetGroups,
        userLinks,
        groupLinks,
        outOfScopeUsers: r.gone.flatMap((_, i) => (r.goneOut[i] ? [`gone${i}`] : [])),
        userAttributes: r.manageManager ? DEFAULT_ATTRIBUTES : DEFAULT_ATTRIBUTES.filter((a) => a !== 'enterprise.manager'),
        policy: {
          matchUsers,
          matchGroups: r.matchGroups ? ['displayName'] : [],
          // As the engine does: an empty source is never complete; sometimes the read is partial.
          sourceComplete: sourceUsers.length > 0 && r.complete > 0,
          deletes: { mode: r.mode, maxCount: r.maxCount, maxPercent: r.maxPercent, allow: r.allow },
        },
      }),
    };
  });

const REMOVALS = new Set<Change['kind']>(['deactivate-user', 'delete-user', 'delete-group', 'remove-members']);
const ambiguous = (p: Plan): boolean => p.warnings.some((w) => w.code === 'ambiguous-match');

function applyAndReplan(inp: PlanInput, plan: Plan) {
  const after = simulateApply(plan, inp.targetUsers, inp.targetGroups, inp.links);
  const next: PlanInput = { ...inp, targetUsers: after.targetUsers, targetGroups: after.targetGroups, links: after.links };
  return { after, next, replan: planJob(next) };
}

const RUNS = { numRuns: Number(process.env.PLAN_PROPERTY_RUNS ?? 400) };

describe('planner properties', () => {
  it('(a) applying the plan makes managed attributes and memberships match the source', () => {
    fc.assert(
      fc.property(worldArb, ({ inp }) => {
        const plan = planJob(inp);
        if (plan.heldBack.length > 0) return;
        const { after } = applyAndReplan(inp, plan);
        const t2s = new Map([...after.links.users.values()].map((l) => [l.targetId, l.sourceId]));
        const unresolved = plan.warnings.some((w) => w.code === 'unresolved-manager');
        for (const src of inp.sourceUsers.values()) {
          const link = after.links.users.get(src.id);
          const t = link && after.targetUsers.get(link.targetId);
          if (t === undefined) {
            // Only ambiguity or an inactive user with nothing to link may leave a user unlinked.
            expect(!src.active || ambiguous(plan)).toBe(true);
            continue;
          }
          for (const a of inp.userAttributes) {
            if (a === 'enterprise.manager') {
              const want = src.enterprise?.manager?.value;
              const have = t.enterprise?.manager?.value;
              if (!unresolved) expect(have === undefined ? undefined : t2s.get(have)).toBe(want);
              continue;
            }
            expect(valuesEqual(getPath(t, a), getPath(src, a)), `${src.id}.${a}`).toBe(true);
          }
          expect(t.externalId).toBe(src.id);
        }
        const g2s = new Map([...after.links.groups.values()].map((l) => [l.targetId, l.sourceId]));
        for (const sg of inp.sourceGroups.values()) {
          const link = after.links.groups.get(sg.id);
          if (link === undefined) {
            expect(ambiguous(plan)).toBe(true);
            continue;
          }
          const tg = after.targetGroups.get(link.targetId)!;
          expect(tg.displayName).toBe(sg.displayName);
          const managed = tg.members
            .map((m) => `${m.type}:${(m.type === 'User' ? t2s : g2s).get(m.value)}`)
            .filter((k) => !k.endsWith(':undefined'));
          const desired = sg.members
            .filter((m) => {
            const l = (m.type === 'User' ? after.links.users : after.links.groups).get(m.value);
            return l !== undefined && (m.type === 'User' ? after.targetUsers : after.targetGroups).has(l.targetId);
          })
            .filter((m) => (m.type === 'User' ? inp.sourceUsers : inp.sourceGroups).has(m.value))
            .map((m) => `${m.type}:${m.value}`);
          expect([...new Set(managed)].sort()).toEqual([...new Set(desired)].sort());
        }
      }),
      RUNS,
    );
  });

  it('(b) planning again against the result yields no changes', () => {
    fc.assert(
      fc.property(worldArb, ({ inp }) => {
        const plan = planJob(inp);
        const { replan } = applyAndReplan(inp, plan);
        if (plan.heldBack.length === 0) expect(replan.changes).toEqual([]);
        // With removals held back, everything else has been applied: only removals remain.
        else expect(replan.changes.filter((c) => !REMOVALS.has(c.kind))).toEqual([]);
      }),
      RUNS,
    );
  });

  it('(c) nothing unlinked is ever removed, and no unmanaged member is ever removed', () => {
    fc.assert(
      fc.property(worldArb, ({ inp }) => {
        const plan = planJob(inp);
        const linkedUsers = new Set([...inp.links.users.values()].map((l) => l.targetId));
        const linkedGroups = new Set([...inp.links.groups.values()].map((l) => l.targetId));
        const adopted = new Set(
          plan.changes.flatMap((c) => (c.kind === 'update-user' && c.adopt !== undefined ? [c.ref.targetId!] : [])),
        );
        const adoptedGroups = new Set(
          plan.changes.flatMap((c) => (c.kind === 'update-group' && c.adopt !== undefined ? [c.ref.targetId!] : [])),
        );
        for (const c of [...plan.changes, ...plan.heldBack]) {
          switch (c.kind) {
            case 'deactivate-user':
              if (c.reason === 'inactive-in-source') expect(linkedUsers.has(c.ref.targetId!) || adopted.has(c.ref.targetId!)).toBe(true);
              else expect(linkedUsers.has(c.ref.targetId!)).toBe(true);
              break;
            case 'delete-user':
              expect(linkedUsers.has(c.ref.targetId!)).toBe(true);
              break;
            case 'delete-group':
              expect(linkedGroups.has(c.ref.targetId!)).toBe(true);
              break;
            case 'remove-members':
              for (const m of c.members) {
                const owned = m.type === 'User' ? linkedUsers.has(m.targetId!) || adopted.has(m.targetId!) : linkedGroups.has(m.targetId!) || adoptedGroups.has(m.targetId!);
                expect(owned, `${m.type} ${m.targetId}`).toBe(true);
              }
              break;
            default:
              break;
          }
        }
      }),
      RUNS,
    );
  });

  it('(d) the plan does not depend on input order', () => {
    fc.assert(
      fc.property(worldArb, ({ inp }) => {
        const rev = <K, V>(m: ReadonlyMap<K, V>): Map<K, V> => new Map([...m].reverse());
        const reversed: PlanInput = {
          ...inp,
          sourceUsers: rev(inp.sourceUsers),
          sourceGroups: new Map([...inp.sourceGroups].reverse().map(([k, gr]) => [k, { ...gr, members: [...gr.members].reverse() }])),
          targetUsers: rev(inp.targetUsers),
          targetGroups: new Map([...inp.targetGroups].reverse().map(([k, gr]) => [k, { ...gr, members: [...gr.members].reverse() }])),
          links: { users: rev(inp.links.users), groups: rev(inp.links.groups) },
        };
        expect(planJob(reversed)).toEqual(planJob(inp));
      }),
      RUNS,
    );
  });
});
