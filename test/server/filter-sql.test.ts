/**
 * The SQL a filter becomes (connectors/embedded/query.ts) selects exactly the users src/scim's
 * in-memory evaluator matches: random filters over a fixed directory, compared result by result.
 * The data is ASCII, where SQLite's NOCASE and JavaScript's toLowerCase agree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../connectors/embedded/store.js';
import type { UserInput } from '../../src/core/model.js';
import { formatFilter, type CompareOp, type FilterNode } from '../../src/scim/filter.js';
import { defaultResolver, matchesFilter } from '../../src/scim/filter-eval.js';
import { toScimUser } from '../../src/scim/schemas.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const NAMES = ['ann', 'Ann.B', 'bob', 'BOBBY', 'carl', 'dana_x', 'd%n', 'eve'];
const WORDS = ['Engineer', 'engineer', 'Manager', 'ops', 'Ops Lead', 'x_y', '100%'];
const EXT = ['E1', 'e1', 'E10', 'X-2', 'x-2'];
const DOMAINS = ['example.com', 'Example.org', 'corp.example'];

let dir: string;
let store: DirectoryStore;
const users: { id: string; json: Record<string, unknown> }[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'scim-sync-filter-sql-'));
  store = new DirectoryStore(join(dir, 'state.db'));
  let i = 0;
  for (const name of NAMES) {
    for (let k = 0; k < 4; k++, i++) {
      const input: UserInput = {
        userName: `${name}${k}@${DOMAINS[i % 3]!}`,
        active: i % 3 !== 0,
        ...(i % 4 !== 0 ? { title: WORDS[i % WORDS.length]! } : {}),
        ...(i % 5 !== 0 ? { externalId: `${EXT[i % EXT.length]!}${k}` } : {}),
        ...(i % 2 === 0 ? { displayName: `${WORDS[(i + 3) % WORDS.length]!} ${name}` } : {}),
        ...(i % 3 !== 2
          ? { emails: [{ value: `${name}@${DOMAINS[k % 3]!}`, type: k % 2 ? 'work' : 'home' }, ...(k === 3 ? [{ value: `Alt.${name}@x.example`, type: 'Work', primary: true }] : [])] }
          : {}),
        ...(i % 2 === 1 ? { enterprise: { department: WORDS[(i + 1) % WORDS.length]! } } : {}),
      };
      const id = store.createUser(input);
      users.push({ id, json: toScimUser(input, id) });
    }
  }
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const stringAttrs = ['userName', 'title', 'displayName', 'externalId', 'emails.value', 'emails.type', 'emails', `${ENTERPRISE}:department`];
const ops: CompareOp[] = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];
const value = fc.oneof(
  fc.constantFrom(...NAMES, ...WORDS, ...EXT, ...DOMAINS, 'a', 'A', 'e', 'x', '.', '@', 'o', 'work', 'WORK', 'home'),
  fc.constantFrom(...NAMES).map((n) => `${n}0@example.com`),
);
const path = (text: string) => {
  const colon = text.lastIndexOf(':');
  const uri = colon >= 0 ? text.slice(0, colon) : undefined;
  const [name, subAttr] = (colon >= 0 ? text.slice(colon + 1) : text).split('.');
  return { name: name!, ...(uri ? { uri } : {}), ...(subAttr ? { subAttr } : {}) };
};

const leaf: fc.Arbitrary<FilterNode> = fc.oneof(
  fc.record({ attr: fc.constantFrom(...stringAttrs), op: fc.constantFrom(...ops), value }).map(({ attr, op, value: v }) => ({ type: 'compare' as const, op, path: path(attr), value: v })),
  fc.record({ op: fc.constantFrom<CompareOp>('eq', 'ne'), value: fc.boolean() }).map(({ op, value: v }) => ({ type: 'compare' as const, op, path: path('active'), value: v })),
  fc.constantFrom(...stringAttrs).map((attr) => ({ type: 'present' as const, path: path(attr) })),
  fc.record({ attr: fc.constantFrom('title', 'displayName', 'externalId'), op: fc.constantFrom<CompareOp>('eq', 'ne') }).map(({ attr, op }) => ({ type: 'compare' as const, op, path: path(attr), value: null })),
  fc
    .record({ type: fc.constantFrom('work', 'home', 'WORK'), op: fc.constantFrom<CompareOp>('co', 'sw', 'eq'), v: value })
    .map(({ type, op, v }) => ({
      type: 'valuePath' as const,
      path: path('emails'),
      filter: { type: 'and' as const, filters: [{ type: 'compare' as const, op: 'eq' as const, path: { name: 'type' }, value: type }, { type: 'compare' as const, op, path: { name: 'value' }, value: v }] },
    })),
);

const filterArb: fc.Arbitrary<FilterNode> = fc.letrec<{ node: FilterNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((filters) => ({ type: 'and' as const, filters })),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((filters) => ({ type: 'or' as const, filters })),
    tie('node').map((filter) => ({ type: 'not' as const, filter })),
  ),
})).node;

const caseExact = (p: string) => ['id', 'externalid'].includes(p.toLowerCase());

describe('filter → SQL agrees with the in-memory evaluator', () => {
  it('on random filters', () => {
    fc.assert(
      fc.property(filterArb, (filter) => {
        const expected = users.filter((u) => matchesFilter(filter, u.json, defaultResolver, { caseExact })).map((u) => u.id).sort();
        const got = store.queryUsers({ filter, offset: 0, limit: 1000 });
        const ids = got.items.map((s) => s.user.id).sort();
        expect(ids, formatFilter(filter)).toEqual(expected);
        expect(got.total).toBe(expected.length);
      }),
      { numRuns: 400 },
    );
  });
});
