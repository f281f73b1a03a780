import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { formatPath, joinPath, knownKeysAt, parseWith } from '../../src/config/issues.js';
import { ReferenceError, isSecretKeyName, resolveString } from '../../src/config/references.js';
import { didYouMean, levenshtein, suggest } from '../../src/config/suggest.js';

describe('suggest', () => {
  test('edit distance counts a transposition as one edit', () => {
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('titel', 'title')).toBe(1);
    expect(levenshtein('same', 'same')).toBe(0);
  });

  test('suggests close names, case-insensitively, and nothing for far-off ones', () => {
    expect(suggest('delets', ['deletes', 'scope'])).toBe('deletes');
    expect(suggest('MAXCOUNT', ['maxCount', 'maxPercent'])).toBe('maxCount');
    expect(suggest('xyz', ['deletes', 'scope'])).toBeUndefined();
    expect(suggest('ab', ['cd'])).toBeUndefined();
    expect(suggest('anything', [])).toBeUndefined();
    expect(didYouMean('jobz', ['jobs'])).toBe(' (did you mean "jobs"?)');
    expect(didYouMean('zzzz', ['jobs'])).toBe('');
  });
});

describe('paths', () => {
  test('dots for keys, brackets for list indexes', () => {
    expect(formatPath(['jobs', 'hr', 'deletes', 'maxPercent'])).toBe('jobs.hr.deletes.maxPercent');
    expect(formatPath(['server', 'tokens', 0, 'value'])).toBe('server.tokens[0].value');
    expect(formatPath([])).toBe('');
    expect(joinPath('connectors.hr', 'users', 'path')).toBe('connectors.hr.users.path');
    expect(joinPath('a', 2)).toBe('a[2]');
    expect(joinPath('', 'x')).toBe('x');
    expect(joinPath('x')).toBe('x');
  });
});

describe('zod issues in plain words', () => {
  const schema = z.strictObject({
    name: z.string().min(1),
    long: z.string().min(3).max(5).optional(),
    count: z.int().min(1).max(10).optional(),
    ratio: z.number().gt(0).lt(1).optional(),
    step: z.number().multipleOf(5).optional(),
    list: z.array(z.string()).min(2).max(3).optional(),
    mode: z.enum(['a', 'b']).optional(),
    one: z.literal('only').optional(),
    flag: z.boolean().optional(),
    nested: z
      .strictObject({ inner: z.strictObject({ deep: z.string().optional() }).optional() })
      .optional(),
    either: z.union([z.string(), z.strictObject({ expr: z.string() })]).optional(),
    email: z.email().optional(),
    pattern: z.string().regex(/^x/).optional(),
  });
  const msgs = (value: unknown) => {
    const r = parseWith(schema, value, 'root');
    return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
  };

  test('types, ranges, enums, lists', () => {
    expect(
      msgs({
        long: 'ab',
        count: 11,
        ratio: 1,
        step: 7,
        list: ['a'],
        mode: 'c',
        one: 'x',
        flag: 'yes',
        either: 5,
        email: 'nope',
        pattern: 'y',
      }),
    ).toEqual([
      'root.name: is required',
      'root.long: must be at least 3 characters long',
      'root.count: must be at most 10',
      'root.ratio: must be less than 1',
      'root.step: must be a multiple of 5',
      'root.list: must list at least 2 entries',
      'root.mode: expected one of "a", "b"',
      'root.one: expected "only"',
      'root.flag: expected true or false, got text',
      'root.either: does not match any accepted form (got an integer)',
      'root.email: expected a valid email',
      'root.pattern: has an invalid format',
    ]);
    expect(msgs({ name: '', long: 'abcdefg', count: 0, ratio: 0, list: ['a', 'b', 'c', 'd'] })).toEqual([
      'root.name: must not be empty',
      'root.long: must be at most 5 characters long',
      'root.count: must be at least 1',
      'root.ratio: must be greater than 0',
      'root.list: must list at most 3 entries',
    ]);
    expect(msgs({ name: 1.5 })).toEqual(['root.name: expected text (a string), got a number']);
    expect(msgs({ name: null })).toEqual(['root.name: expected text (a string), got null (an empty value)']);
    expect(msgs({ name: 'x', nested: [] })).toEqual(['root.nested: expected a mapping (key: value pairs), got a list']);
    expect(msgs('text')).toEqual(['root: expected a mapping (key: value pairs), got text']);
  });

  test('values are never echoed in messages', () => {
    const secret = 'sup3r-secret-value';
    expect(msgs({ name: 'x', count: secret, mode: secret, flag: secret }).join('\n')).not.toContain(secret);
  });

  test('unknown keys: one issue each, with suggestions from the schema at that depth', () => {
    expect(msgs({ name: 'x', nmae: 1, nested: { innr: {}, inner: { dep: 'x' } }, either: { exp: 'x' } })).toEqual([
      'root.nmae: unknown key (did you mean "name"?)',
      'root.nested.innr: unknown key (did you mean "inner"?)',
      'root.nested.inner.dep: unknown key (did you mean "deep"?)',
      'root.either: does not match any accepted form (got a mapping)',
    ]);
  });

  test('knownKeysAt sees through optional, default, pipe, array, record and union', () => {
    const s = z.strictObject({
      a: z.array(z.strictObject({ x: z.string(), y: z.string() })).optional(),
      r: z.record(z.string(), z.strictObject({ k: z.string() }).default({ k: '' })),
      p: z.strictObject({ q: z.string() }).transform((v) => v.q),
      u: z.union([z.strictObject({ m: z.string() }), z.strictObject({ n: z.string() })]),
    });
    expect(knownKeysAt(s, [])).toEqual(['a', 'r', 'p', 'u']);
    expect(knownKeysAt(s, ['a', 0])).toEqual(['x', 'y']);
    expect(knownKeysAt(s, ['r', 'any'])).toEqual(['k']);
    expect(knownKeysAt(s, ['p'])).toEqual(['q']);
    expect(knownKeysAt(s, ['u'])).toEqual(['m', 'n']);
    expect(knownKeysAt(s, ['missing'])).toEqual([]);
  });
});

describe('references', () => {
  const ctx = { configDir: '/nonexistent', env: { A: 'alpha', EMPTY: '' } };

  test('strings without references are returned as they are', async () => {
    expect(await resolveString('plain $ text {x}', ctx)).toEqual({ value: 'plain $ text {x}', fromReference: false, secrets: [] });
  });

  test('several references and escapes in one string', async () => {
    expect(await resolveString('${env:A}-$${env:A}-${ env:A }-$$x-${env:EMPTY}', ctx)).toEqual({
      value: 'alpha-${env:A}-alpha-$$x-',
      fromReference: true,
      secrets: ['alpha', 'alpha', ''],
    });
  });

  test('failures', async () => {
    await expect(resolveString('${env:B}', ctx)).rejects.toThrow(ReferenceError);
    await expect(resolveString('${env:B}', ctx)).rejects.toThrow('environment variable B is not set (referenced as ${env:B})');
    await expect(resolveString('${file:x}', ctx)).rejects.toThrow('cannot read /nonexistent/x (referenced as ${file:x}): file not found');
  });

  test('secret-looking key names', () => {
    for (const k of ['password', 'bindPassword', 'token', 'tokens', 'accessToken', 'secret', 'client_secret', 'clientSecret', 'bearer', 'apiKey', 'API-KEY']) {
      expect(isSecretKeyName(k)).toBe(true);
    }
    for (const k of ['tokenUrl', 'user', 'bindDN', 'secretary_name', 'path']) expect(isSecretKeyName(k)).toBe(false);
  });
});
