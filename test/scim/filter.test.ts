import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  COMPARE_OPS,
  FilterSyntaxError,
  formatFilter,
  parseFilter,
  parsePatchPath,
  type AttrPath,
  type CompareValue,
  type FilterNode,
} from '../../src/scim/filter.js';
import { defaultResolver, matchesFilter, scopeResolver } from '../../src/scim/filter-eval.js';

const cmp = (name: string, op: (typeof COMPARE_OPS)[number], value: CompareValue, extra: Partial<AttrPath> = {}): FilterNode => ({
  type: 'compare',
  op,
  path: { name, ...extra },
  value,
});

function syntaxError(text: string): FilterSyntaxError {
  try {
    parseFilter(text);
  } catch (err) {
    if (err instanceof FilterSyntaxError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parseFilter', () => {
  test('simple comparisons, every operator, any case', () => {
    for (const op of COMPARE_OPS) {
      expect(parseFilter(`userName ${op.toUpperCase()} "bjensen"`)).toEqual(cmp('userName', op, 'bjensen'));
    }
    expect(parseFilter('title pr')).toEqual({ type: 'present', path: { name: 'title' } });
    expect(parseFilter('title PR')).toEqual({ type: 'present', path: { name: 'title' } });
  });

  test('values: strings with escapes, numbers, booleans, null (case-insensitive)', () => {
    expect(parseFilter('a eq "say \\"hi\\" \\\\ \\u0041\\n"')).toEqual(cmp('a', 'eq', 'say "hi" \\ A\n'));
    expect(parseFilter('a eq ""')).toEqual(cmp('a', 'eq', ''));
    expect(parseFilter('a gt -1.5e2')).toEqual(cmp('a', 'gt', -150));
    expect(parseFilter('a eq 0')).toEqual(cmp('a', 'eq', 0));
    expect(parseFilter('a eq True')).toEqual(cmp('a', 'eq', true));
    expect(parseFilter('a eq false')).toEqual(cmp('a', 'eq', false));
    expect(parseFilter('a eq NULL')).toEqual(cmp('a', 'eq', null));
  });

  test('precedence: not > and > or; parentheses group', () => {
    expect(parseFilter('a eq 1 or b eq 2 and c eq 3')).toEqual({
      type: 'or',
      filters: [cmp('a', 'eq', 1), { type: 'and', filters: [cmp('b', 'eq', 2), cmp('c', 'eq', 3)] }],
    });
    expect(parseFilter('(a eq 1 or b eq 2) and c eq 3')).toEqual({
      type: 'and',
      filters: [{ type: 'or', filters: [cmp('a', 'eq', 1), cmp('b', 'eq', 2)] }, cmp('c', 'eq', 3)],
    });
    expect(parseFilter('not (a eq 1) and b pr')).toEqual({
      type: 'and',
      filters: [{ type: 'not', filter: cmp('a', 'eq', 1) }, { type: 'present', path: { name: 'b' } }],
    });
    expect(parseFilter('a eq 1 AND b eq 2 And c eq 3 OR d eq 4')).toEqual({
      type: 'or',
      filters: [{ type: 'and', filters: [cmp('a', 'eq', 1), cmp('b', 'eq', 2), cmp('c', 'eq', 3)] }, cmp('d', 'eq', 4)],
    });
    expect(parseFilter('((a pr))')).toEqual({ type: 'present', path: { name: 'a' } });
    expect(parseFilter('NOT(a pr)')).toEqual({ type: 'not', filter: { type: 'present', path: { name: 'a' } } });
  });

  test('attribute paths: sub-attributes and schema URNs', () => {
    expect(parseFilter('name.givenName sw "B"')).toEqual(cmp('name', 'sw', 'B', { subAttr: 'givenName' }));
    const urn = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    expect(parseFilter(`${urn}:department eq "x"`)).toEqual(cmp('department', 'eq', 'x', { uri: urn }));
    expect(parseFilter(`${urn}:manager.value eq "x"`)).toEqual(cmp('manager', 'eq', 'x', { uri: urn, subAttr: 'value' }));
    expect(parseFilter('members.$ref pr')).toEqual({ type: 'present', path: { name: 'members', subAttr: '$ref' } });
    expect(parseFilter('cost-center_2 eq "x"')).toEqual(cmp('cost-center_2', 'eq', 'x'));
    // "not" is only a keyword before "(".
    expect(parseFilter('not eq "x"')).toEqual(cmp('not', 'eq', 'x'));
  });

  test('complex attribute value filters', () => {
    expect(parseFilter('emails[type eq "work" and value co "@example.com"]')).toEqual({
      type: 'valuePath',
      path: { name: 'emails' },
      filter: { type: 'and', filters: [cmp('type', 'eq', 'work'), cmp('value', 'co', '@example.com')] },
    });
    expect(parseFilter('userType eq "Employee" and emails[not (type eq "home")] or x pr')).toEqual({
      type: 'or',
      filters: [
        {
          type: 'and',
          filters: [
            cmp('userType', 'eq', 'Employee'),
            { type: 'valuePath', path: { name: 'emails' }, filter: { type: 'not', filter: cmp('type', 'eq', 'home') } },
          ],
        },
        { type: 'present', path: { name: 'x' } },
      ],
    });
  });

  test.each([
    ['userName eq "a" and and x pr', 'unexpected "and" at position 20: expected an attribute name, "(" or "not ("', 20],
    ['and x pr', 'unexpected "and" at position 0: expected an attribute name, "(" or "not ("', 0],
    ['userName eq', 'unexpected end of filter at position 11: expected a value (a "quoted string", number, true, false or null)', 11],
    ['userName zz "x"', 'unexpected "zz" at position 9: expected an operator after "userName" (eq, ne, co, sw, ew, gt, ge, lt, le, pr)', 9],
    ['userName', 'unexpected end of filter at position 8: expected an operator after "userName" (eq, ne, co, sw, ew, gt, ge, lt, le, pr)', 8],
    ['userName eq bjensen', 'unexpected "bjensen" at position 12: expected a value (a "quoted string", number, true, false or null)', 12],
    ['userName eq "unterminated', 'unterminated string starting at position 12', 12],
    ['(a pr', 'unexpected end of filter at position 5: expected ")"', 5],
    ['a pr)', 'unexpected ")" at position 4: expected "and", "or" or the end of the filter', 4],
    ['a pr b pr', 'unexpected "b" at position 5: expected "and", "or" or the end of the filter', 5],
    ['not a pr', 'unexpected "a" at position 4: expected "(" after "not"', 4],
    ['a eq 01', 'invalid number "01" at position 5', 5],
    ['a eq 1x', 'invalid number "1x" at position 5', 5],
    ['a eq "\\x"', 'invalid escape or control character in string at position 5', 5],
    ['emails[type eq "work"', 'unexpected end of filter at position 21: expected "]"', 21],
    ['emails[x[y pr]]', 'unexpected "[" at position 8: expected an operator (value filters cannot be nested)', 8],
    ['a.b.c pr', 'invalid attribute path "a.b.c" at position 0', 0],
    ['foo:bar pr', 'invalid attribute name "foo:bar" at position 0: only a "urn:" schema prefix may contain ":"', 0],
    ['a eq "x" # comment', 'unexpected "#" at position 9', 9],
    ['', 'empty filter', 0],
    ['   ', 'empty filter', 0],
  ])('rejects %j', (text, message, position) => {
    const err = syntaxError(text);
    expect(err.message).toBe(message);
    expect(err.position).toBe(position);
  });
});

describe('parsePatchPath', () => {
  test('plain, sub-attribute, filtered and filtered with sub-attribute', () => {
    expect(parsePatchPath('members')).toEqual({ path: { name: 'members' } });
    expect(parsePatchPath('name.familyName')).toEqual({ path: { name: 'name', subAttr: 'familyName' } });
    expect(parsePatchPath('members[value eq "2819c223"]')).toEqual({
      path: { name: 'members' },
      filter: cmp('value', 'eq', '2819c223'),
    });
    expect(parsePatchPath('emails[type eq "work"].value')).toEqual({
      path: { name: 'emails' },
      filter: cmp('type', 'eq', 'work'),
      subAttr: 'value',
    });
  });

  test('rejects garbage', () => {
    expect(() => parsePatchPath('emails[type eq "work"] x')).toThrow('unexpected "x" at position 23: expected the end of the path');
    expect(() => parsePatchPath('"x"')).toThrow(FilterSyntaxError);
    expect(() => parsePatchPath('emails x')).toThrow('unexpected "x" at position 7: expected "[" or the end of the path');
  });
});

describe('matchesFilter', () => {
  const user = {
    userName: 'BJensen@Example.com',
    active: true,
    title: '',
    name: { givenName: 'Barbara', familyName: 'Jensen' },
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@home.example.org', type: 'home' },
    ],
    loginCount: 42,
    tags: [],
    meta: { lastModified: '2024-05-13T04:42:34Z' },
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Sales' },
  };
  const m = (f: string, obj: Record<string, unknown> = user) => matchesFilter(parseFilter(f), obj);

  test('string operators ignore case; attribute names ignore case', () => {
    expect(m('userName eq "bjensen@example.com"')).toBe(true);
    expect(m('USERNAME Eq "BJENSEN@EXAMPLE.COM"')).toBe(true);
    expect(m('name.GIVENNAME sw "bar"')).toBe(true);
    expect(m('name.familyName ew "SEN"')).toBe(true);
    expect(m('userName co "@example"')).toBe(true);
    expect(m('userName co "@other"')).toBe(false);
  });

  test('caseExact can be switched on per attribute', () => {
    const node = parseFilter('userName eq "bjensen@example.com"');
    expect(matchesFilter(node, user, defaultResolver, { caseExact: (p) => p === 'userName' })).toBe(false);
    expect(matchesFilter(node, user, defaultResolver, { caseExact: () => false })).toBe(true);
  });

  test('multi-valued attributes match when any value does', () => {
    expect(m('emails.value ew "home.example.org"')).toBe(true);
    expect(m('emails.type eq "home"')).toBe(true);
    expect(m('emails.value eq "nobody@example.com"')).toBe(false);
    // A complex value without sub-attribute stands for its "value".
    expect(m('emails co "babs"')).toBe(true);
  });

  test('value filters apply all conditions to the same value', () => {
    expect(m('emails[type eq "work" and value co "@example.com"]')).toBe(true);
    expect(m('emails[type eq "home" and value co "@example.com"]')).toBe(false);
    expect(m('emails[type eq "home" and value co "home"]')).toBe(true);
    expect(m('emails[not (primary eq true)]')).toBe(true);
    expect(m('name[givenName eq "barbara"]')).toBe(true);
    expect(m('missing[x pr]')).toBe(false);
  });

  test('ne is true for a missing attribute and false when any value equals', () => {
    expect(m('nickName ne "x"')).toBe(true);
    expect(m('userName ne "bjensen@example.com"')).toBe(false);
    expect(m('emails.type ne "home"')).toBe(false);
    expect(m('emails.type ne "other"')).toBe(true);
  });

  test('pr is false for missing, empty string and empty list', () => {
    expect(m('userName pr')).toBe(true);
    expect(m('title pr')).toBe(false);
    expect(m('tags pr')).toBe(false);
    expect(m('nickName pr')).toBe(false);
    expect(m('emails pr')).toBe(true);
    expect(m('x pr', { x: null })).toBe(false);
    expect(m('x pr', { x: {} })).toBe(false);
    expect(m('x pr', { x: 0 })).toBe(true);
    expect(m('x pr', { x: false })).toBe(true);
  });

  test('numbers, booleans, null, ordering', () => {
    expect(m('loginCount gt 41 and loginCount ge 42 and loginCount lt 43 and loginCount le 42')).toBe(true);
    expect(m('loginCount gt 42')).toBe(false);
    expect(m('active eq true')).toBe(true);
    expect(m('active eq false')).toBe(false);
    expect(m('active gt false')).toBe(false);
    expect(m('nickName eq null')).toBe(true);
    expect(m('userName eq null')).toBe(false);
    expect(m('userName ne null')).toBe(true);
    expect(m('meta.lastModified gt "2024-01-01T00:00:00Z"')).toBe(true);
    expect(m('meta.lastModified lt "2024-01-01T00:00:00Z"')).toBe(false);
    expect(m('name.familyName gt "j"')).toBe(true);
  });

  test('text from CSV sources is compared as numbers and booleans when the filter says so', () => {
    const row = { level: '7', enabled: 'TRUE', code: '007' };
    expect(m('level gt 5', row)).toBe(true);
    expect(m('level eq 7', row)).toBe(true);
    expect(m('code eq 7', row)).toBe(true);
    expect(m('code eq "7"', row)).toBe(false);
    expect(m('enabled eq true', row)).toBe(true);
    expect(m('level gt "10"', row)).toBe(true); // string comparison, as written
    expect(m('level co 7', row)).toBe(false); // co needs a string
  });

  test('schema URN prefixes', () => {
    expect(m('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales"')).toBe(true);
    expect(m('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj"')).toBe(true);
    expect(m('URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT eq "sales"')).toBe(true);
    expect(m('urn:example:other:department eq "sales"')).toBe(false);
  });

  test('logic', () => {
    expect(m('not (userName eq "x") and (title pr or name.givenName eq "barbara")')).toBe(true);
    expect(m('userName eq "x" or userName eq "y"')).toBe(false);
  });

  test('a custom resolver sees the path as written', () => {
    const seen: string[] = [];
    matchesFilter(parseFilter('a.b eq 1 and urn:x:y:c pr'), {}, (p) => {
      seen.push(p);
      return undefined;
    });
    expect(seen).toEqual(['a.b']);
    matchesFilter(parseFilter('a.b eq 1 or urn:x:y:c pr'), {}, (p) => {
      seen.push(p);
      return undefined;
    });
    expect(seen).toEqual(['a.b', 'a.b', 'urn:x:y:c']);
  });
});

describe('scopeResolver', () => {
  const sourceUser = {
    id: 'E1',
    userName: 'jdoe@example.com',
    active: true,
    name: { givenName: 'Jane' },
    emails: [{ value: 'jdoe@example.com', type: 'work', primary: true }],
    enterprise: { department: 'Sales', costCenter: 'CC-1', manager: { value: 'E9' } },
    raw: { Status: 'Active', 'cost center': 'x', department: 'raw-dept', employee_type: 'contractor', level: '3' },
  };
  const s = (f: string) => matchesFilter(parseFilter(f), sourceUser, scopeResolver);

  test('canonical paths first', () => {
    expect(s('userName eq "JDOE@example.com"')).toBe(true);
    expect(s('active eq true')).toBe(true);
    expect(s('name.givenName eq "jane"')).toBe(true);
    expect(s('emails.value co "@example.com"')).toBe(true);
    expect(s('emails[type eq "work"]')).toBe(true);
  });

  test('enterprise attributes unqualified and by URN, before raw fields', () => {
    expect(s('department eq "sales"')).toBe(true);
    expect(s('costCenter eq "cc-1"')).toBe(true);
    expect(s('manager eq "E9"')).toBe(true);
    expect(s('manager.value eq "E9"')).toBe(true);
    expect(s('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"')).toBe(true);
    expect(s('enterprise.department eq "Sales"')).toBe(true);
  });

  test('raw source fields by column name, case-insensitively', () => {
    expect(s('status eq "active"')).toBe(true);
    expect(s('employee_type eq "contractor" and level ge 3')).toBe(true);
    expect(s('nothing pr')).toBe(false);
    expect(s('nothing ne "x"')).toBe(true);
  });

  test('works on a user without raw or enterprise data', () => {
    const plain = { id: '1', userName: 'a', active: false };
    expect(matchesFilter(parseFilter('active eq false and department ne "x"'), plain, scopeResolver)).toBe(true);
    expect(matchesFilter(parseFilter('status pr'), plain, scopeResolver)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const attrName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,6}$/).filter((n) => !/^(and|or|not|pr)$/i.test(n));
const attrPathArb: fc.Arbitrary<AttrPath> = fc
  .record({ name: attrName, subAttr: fc.option(attrName, { nil: undefined }), urn: fc.boolean() })
  .map(({ name, subAttr, urn }) => {
    const p: AttrPath = { name };
    if (subAttr !== undefined) p.subAttr = subAttr;
    if (urn) p.uri = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    return p;
  });
const valueArb: fc.Arbitrary<CompareValue> = fc.oneof(
  fc.string(),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.boolean(),
  fc.constant(null),
);
const leafArb: fc.Arbitrary<FilterNode> = fc.oneof(
  fc.record({ type: fc.constant('compare' as const), op: fc.constantFrom(...COMPARE_OPS), path: attrPathArb, value: valueArb }),
  fc.record({ type: fc.constant('present' as const), path: attrPathArb }),
);

/** ASTs in the normal form the parser produces (no and-in-and, no or-in-or). */
const { filter: filterArb } = fc.letrec<{ filter: FilterNode }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.array(tie('filter'), { minLength: 2, maxLength: 3 }).map((fs): FilterNode => ({
      type: 'and',
      filters: fs.flatMap((f) => (f.type === 'and' ? f.filters : [f])),
    })),
    fc.array(tie('filter'), { minLength: 2, maxLength: 3 }).map((fs): FilterNode => ({
      type: 'or',
      filters: fs.flatMap((f) => (f.type === 'or' ? f.filters : [f])),
    })),
    tie('filter').map((f): FilterNode => ({ type: 'not', filter: f })),
    fc
      .record({ path: attrPathArb, filter: leafArb })
      .map(({ path, filter }): FilterNode => ({ type: 'valuePath', path: { name: path.name }, filter })),
  ),
}));

describe('properties', () => {
  test('formatFilter output parses back to the same AST', () => {
    fc.assert(
      fc.property(filterArb, (node) => {
        expect(parseFilter(formatFilter(node))).toEqual(node);
      }),
      { numRuns: 500 },
    );
  });

  test('arbitrary text either parses or fails with a FilterSyntaxError inside the text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(fc.constantFrom('a', 'eq', 'and', 'or', 'not', '(', ')', '[', ']', '"x"', '1', 'pr', ' ', 'b.c', 'true'), { maxLength: 12 }).map((p) => p.join(' ')),
        ),
        (text) => {
          try {
            parseFilter(text);
          } catch (err) {
            expect(err).toBeInstanceOf(FilterSyntaxError);
            expect((err as FilterSyntaxError).position).toBeGreaterThanOrEqual(0);
            expect((err as FilterSyntaxError).position).toBeLessThanOrEqual(text.length);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('not(f) is the complement of f; de Morgan holds', () => {
    const objArb = fc.dictionary(
      fc.constantFrom('a', 'b', 'c', 'A'),
      fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -3, max: 3 }), fc.boolean(), fc.array(fc.constantFrom('x', 'Y', '1'), { maxLength: 2 })),
    );
    const smallLeaf: fc.Arbitrary<FilterNode> = fc.record({
      type: fc.constant('compare' as const),
      op: fc.constantFrom(...COMPARE_OPS),
      path: fc.constantFrom({ name: 'a' }, { name: 'b' }, { name: 'c' }),
      value: fc.oneof(fc.constantFrom('x', 'y', '1', ''), fc.integer({ min: -3, max: 3 }), fc.boolean(), fc.constant(null)),
    });
    fc.assert(
      fc.property(smallLeaf, smallLeaf, objArb, (f, g, obj) => {
        const not = (n: FilterNode): FilterNode => ({ type: 'not', filter: n });
        expect(matchesFilter(not(f), obj)).toBe(!matchesFilter(f, obj));
        expect(matchesFilter(not({ type: 'and', filters: [f, g] }), obj)).toBe(
          matchesFilter({ type: 'or', filters: [not(f), not(g)] }, obj),
        );
        // eq and ne are exact complements (the "ne on a missing attribute" rule included).
        if (f.type === 'compare' && f.op === 'eq') {
          expect(matchesFilter({ ...f, op: 'ne' }, obj)).toBe(!matchesFilter(f, obj));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
