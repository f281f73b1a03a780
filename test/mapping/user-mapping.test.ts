import { describe, expect, test } from 'vitest';
import type { SourceGroup, SourceUser } from '../../src/core/connector.js';
import { ConfigError } from '../../src/core/errors.js';
import {
  compileGroupMapping,
  compileUserMapping,
  MappingError,
  userMappingFields,
  validateGroupMapping,
  validateUserMapping,
  type MappingValue,
} from '../../src/mapping/index.js';

const P = 'jobs.hr.mapping.users';

function user(over: Partial<SourceUser> = {}): SourceUser {
  return {
    id: 'E1',
    userName: 'jdoe',
    active: true,
    name: { givenName: 'Jane', familyName: 'Doe' },
    title: 'Engineer',
    emails: [{ value: 'Jane.Doe@Example.com', type: 'work', primary: true }],
    phoneNumbers: [
      { value: '+1 555 0100', type: 'work', primary: true },
      { value: '+1 555 0199', type: 'mobile' },
    ],
    enterprise: { department: 'Sales', manager: { value: 'E9', displayName: 'Boss' } },
    raw: { status: 'contractor', title: 'raw title', 'first name': 'Jane', login: 'JDOE', enabled: 'no', empty: '' },
    ...over,
  };
}

async function apply(mapping: Record<string, MappingValue>, u: SourceUser = user()): Promise<SourceUser> {
  return compileUserMapping(mapping, P).apply(u);
}

async function mappingError(mapping: Record<string, MappingValue>, u: SourceUser = user()): Promise<MappingError> {
  try {
    await apply(mapping, u);
  } catch (err) {
    if (err instanceof MappingError) return err;
    throw err;
  }
  throw new Error('expected a MappingError');
}

describe('fields visible to templates', () => {
  test('raw fields, canonical attributes by path, and aliases', () => {
    const f = userMappingFields(user());
    expect(f).toMatchObject({
      status: 'contractor',
      'first name': 'Jane',
      userName: 'jdoe',
      title: 'Engineer', // canonical wins over the raw column of the same name
      raw: { title: 'raw title' },
      name: { givenName: 'Jane', familyName: 'Doe' },
      email: 'Jane.Doe@Example.com',
      'emails.value': 'Jane.Doe@Example.com',
      phone: '+1 555 0100',
      mobile: '+1 555 0199',
      department: 'Sales',
      manager: 'E9',
    });
  });

  test('templates read nested canonical paths, aliases and raw columns', async () => {
    const out = await apply({
      userName: '{{email | lower}}',
      displayName: '{{name.givenName}} {{name.familyName}} ({{department}})',
      nickName: '{{raw.title}}',
      title: '{{status | upper}}',
      'name.middleName': '{{empty}}',
    });
    expect(out.userName).toBe('jane.doe@example.com');
    expect(out.displayName).toBe('Jane Doe (Sales)');
    expect(out.nickName).toBe('raw title');
    expect(out.title).toBe('CONTRACTOR');
    expect(out.name).toEqual({ givenName: 'Jane', familyName: 'Doe' });
  });
});

describe('compileUserMapping', () => {
  test('reports the attributes it writes, aliases resolved', () => {
    const m = compileUserMapping(
      { userName: '{{login}}', email: '{{login}}@x.com', phone: '1', mobile: '2', manager: '{{m}}', department: 'D', 'name.givenName': 'G' },
      P,
    );
    expect(m.attributes).toEqual(['userName', 'emails', 'phoneNumbers', 'enterprise.manager', 'enterprise.department', 'name.givenName']);
    expect(m.async).toBe(false);
  });

  test('a template-only mapping applies synchronously and does not touch its input', () => {
    const input = user();
    const snapshot = structuredClone(input);
    const out = compileUserMapping({ userName: '{{login | lower}}', 'name.givenName': 'X', phone: '123' }, P).apply(input);
    expect(out).not.toBeInstanceOf(Promise);
    expect(input).toEqual(snapshot);
    expect((out as SourceUser).userName).toBe('jdoe');
    expect((out as SourceUser).raw).toBe(input.raw);
  });

  test('an empty mapping returns the user unchanged', () => {
    const input = user();
    expect(compileUserMapping({}, P).apply(input)).toBe(input);
  });

  test('each entry sees the source values, not other entries\' results', async () => {
    const out = await apply({ userName: '{{title}}', title: '{{userName}}' });
    expect(out.userName).toBe('Engineer');
    expect(out.title).toBe('jdoe');
  });

  test('a template that renders nothing clears the attribute', async () => {
    const out = await apply({ title: '{{nope}}', department: '{{empty}}', manager: '{{nope}}' });
    expect(out.title).toBeUndefined();
    expect('title' in out).toBe(false);
    expect(out.enterprise).toBeUndefined();
  });

  test('email, phone, mobile and manager aliases', async () => {
    const out = await apply({ email: '{{login | lower}}@corp.example', mobile: '+49 1', manager: 'E7' });
    expect(out.emails).toEqual([{ value: 'jdoe@corp.example', type: 'work', primary: true }]);
    expect(out.phoneNumbers).toEqual([
      { value: '+1 555 0100', type: 'work', primary: true },
      { value: '+49 1', type: 'mobile' },
    ]);
    // Same shape as the CSV connector's phone/mobile aliases: no primary flag added.
    const both = await apply({ phone: '1', mobile: '2' }, user({ phoneNumbers: undefined }));
    expect(both.phoneNumbers).toEqual([
      { value: '1', type: 'work' },
      { value: '2', type: 'mobile' },
    ]);
    expect(out.enterprise).toEqual({ department: 'Sales', manager: { value: 'E7' } });

    const phoneOnly = await apply({ phone: '+1 2' }, user({ phoneNumbers: [{ value: 'm', type: 'mobile', primary: true }] }));
    expect(phoneOnly.phoneNumbers).toEqual([
      { value: 'm', type: 'mobile', primary: true },
      { value: '+1 2', type: 'work' },
    ]);
    const cleared = await apply({ phone: '{{nope}}', mobile: '{{nope}}' });
    expect(cleared.phoneNumbers).toBeUndefined();
    const mobileFirst = await apply({ mobile: '5' }, user({ phoneNumbers: undefined }));
    expect(mobileFirst.phoneNumbers).toEqual([{ value: '5', type: 'mobile' }]);
  });

  test('active accepts true/false, yes/no, 1/0 in any case', async () => {
    for (const [text, expected] of [['TRUE', true], ['yes', true], ['1', true], ['false', false], ['No', false], ['0', false]] as const) {
      expect((await apply({ active: text })).active).toBe(expected);
    }
    expect((await apply({ active: '{{enabled}}' })).active).toBe(false);
  });

  test('run-time errors name the mapping entry and the user', async () => {
    const bad = await mappingError({ active: '{{status}}' });
    expect(bad.message).toBe(`${P}.active: user "jdoe" (id E1): active is "contractor"; expected true/false, yes/no or 1/0`);
    expect(bad.objectId).toBe('E1');
    expect(bad.path).toBe(`${P}.active`);
    const empty = await mappingError({ active: '{{nope}}' });
    expect(empty.message).toBe(`${P}.active: user "jdoe" (id E1): active is empty; expected true/false, yes/no or 1/0`);
    const noName = await mappingError({ userName: '{{nope}}' });
    expect(noName.message).toBe(`${P}.userName: user "jdoe" (id E1): userName is empty`);
  });

  test('invalid mappings throw a ConfigError with every issue', () => {
    try {
      compileUserMapping({ titel: '{{x}}', userName: '{{ | }}' }, P);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.path)).toEqual([`${P}.titel`, `${P}.userName`]);
    }
  });
});

describe('JSONata expressions', () => {
  test('conditionals; apply becomes async', async () => {
    const m = compileUserMapping({ title: { expr: 'status = "contractor" ? "Contractor" : title' }, userName: '{{login}}' }, P);
    expect(m.async).toBe(true);
    const result = m.apply(user());
    expect(result).toBeInstanceOf(Promise);
    const out = await result;
    expect(out.title).toBe('Contractor');
    expect(out.userName).toBe('JDOE');
    expect((await m.apply(user({ raw: { status: 'employee', login: 'x' } }))).title).toBe('Engineer');
  });

  test('expressions see nested canonical data, aliases, raw columns with spaces', async () => {
    const out = await apply({
      displayName: { expr: '`first name` & " " & $uppercase(name.familyName)' },
      nickName: { expr: '$lowercase(email)' },
      title: { expr: 'department & "/" & manager' },
      'enterprise.costCenter': { expr: '42' },
      active: { expr: 'enabled = "yes"' },
    });
    expect(out.displayName).toBe('Jane DOE');
    expect(out.nickName).toBe('jane.doe@example.com');
    expect(out.title).toBe('Sales/E9');
    expect(out.enterprise?.costCenter).toBe('42');
    expect(out.active).toBe(false);
  });

  test('multi-valued attributes and the manager from expressions', async () => {
    const out = await apply({
      emails: { expr: '[{"value": email, "type": "work"}, {"value": "alt@x.com", "type": "other", "primary": false}]' },
      phoneNumbers: { expr: '["1", "2"]' },
      'enterprise.manager': { expr: '{"value": "E5", "displayName": "New Boss"}' },
    });
    expect(out.emails).toEqual([
      { value: 'Jane.Doe@Example.com', type: 'work', primary: true },
      { value: 'alt@x.com', type: 'other', primary: false },
    ]);
    expect(out.phoneNumbers).toEqual([
      { value: '1', type: 'work' },
      { value: '2', type: 'work' },
    ]);
    expect(out.enterprise?.manager).toEqual({ value: 'E5', displayName: 'New Boss' });
  });

  test('a missing result clears; wrong kinds and evaluation errors name the user', async () => {
    expect((await apply({ title: { expr: 'nothing' } })).title).toBeUndefined();
    const list = await mappingError({ title: { expr: '["a", "b"]' } });
    expect(list.message).toBe(`${P}.title: user "jdoe" (id E1): expected text, got a list`);
    const obj = await mappingError({ title: { expr: '{"a": 1}' } });
    expect(obj.message).toBe(`${P}.title: user "jdoe" (id E1): expected text, got an object`);
    const runtime = await mappingError({ title: { expr: '$nope(1)' } });
    expect(runtime.message).toBe(`${P}.title: user "jdoe" (id E1): expression failed at position 6: Attempted to invoke a non-function`);
  });
});

describe('validateUserMapping', () => {
  test('accepts attribute paths and aliases', () => {
    expect(
      validateUserMapping(
        { userName: '{{a}}', active: 'true', 'name.givenName': 'x', email: 'x', phone: 'x', mobile: 'x', manager: 'x', department: 'x', costCenter: { expr: 'a' } },
        P,
      ),
    ).toEqual([]);
    expect(validateUserMapping(undefined, P)).toEqual([]);
  });

  test('reports every problem with its path', () => {
    expect(
      validateUserMapping(
        {
          usrName: '{{a}}',
          externalId: '{{id}}',
          'name.givenname': 'x',
          email: '{{a}}',
          emails: '{{b}}',
          phone: '1',
          phoneNumbers: '2',
          department: 'x',
          'enterprise.department': 'y',
          title: '{{a | nope}}',
          nickName: { expr: '(' },
          locale: { expr: 'a', extra: 1 },
          timezone: 5,
          displayName: ['a'],
        },
        P,
      ),
    ).toEqual([
      { path: `${P}.usrName`, message: 'unknown attribute (did you mean "userName"?)' },
      { path: `${P}.externalId`, message: '"externalId" cannot be mapped; the sync engine sets it to the source id' },
      { path: `${P}.name.givenname`, message: 'unknown attribute (did you mean "name.givenName"?)' },
      {
        path: `${P}.title`,
        message: 'unknown filter "nope" (known filters: lower, upper, trim, first, ascii, default, replace) at character 7 of template "{{a | nope}}"',
      },
      { path: `${P}.nickName.expr`, message: 'invalid expression at position 1: Expected ")" before end of expression' },
      { path: `${P}.locale.extra`, message: 'unknown key' },
      { path: `${P}.timezone`, message: 'expected a template string such as "{{email | lower}}" or { expr: "<JSONata expression>" }' },
      { path: `${P}.displayName`, message: 'expected a template string such as "{{email | lower}}" or { expr: "<JSONata expression>" }' },
      { path: `${P}.emails`, message: '"email" and "emails" both set emails; keep one' },
      { path: `${P}.phoneNumbers`, message: '"phone" and "phoneNumbers" both set phoneNumbers; keep one' },
      { path: `${P}.enterprise.department`, message: '"department" and "enterprise.department" both set enterprise.department; keep one' },
    ]);
  });

  test('the whole block must be a mapping', () => {
    expect(validateUserMapping(['a'], P)).toEqual([{ path: P, message: 'expected a mapping of attribute names to templates' }]);
  });
});

describe('group mapping', () => {
  const group: SourceGroup = { id: 'G1', displayName: 'Sales', members: [], raw: { code: 'S1' } };

  test('re-templates displayName from raw and canonical fields', () => {
    const m = compileGroupMapping({ displayName: 'hr-{{displayName | lower}}-{{code}}' }, 'jobs.hr.mapping.groups');
    expect(m.apply(group)).toEqual({ ...group, displayName: 'hr-sales-S1' });
    expect(compileGroupMapping({}, 'x').apply(group)).toBe(group);
  });

  test('errors', () => {
    expect(validateGroupMapping({ displayName: '{{' }, 'jobs.hr.mapping.groups')).toEqual([
      { path: 'jobs.hr.mapping.groups.displayName', message: expect.stringContaining('template "{{"') },
    ]);
    const m = compileGroupMapping({ displayName: '{{nope}}' }, 'jobs.hr.mapping.groups');
    expect(() => m.apply(group)).toThrow('jobs.hr.mapping.groups.displayName: group "Sales" (id G1): displayName is empty');
  });
});

test('cost of JSONata on many users (measured, reported)', async () => {
  const n = 20_000;
  const m = compileUserMapping({ userName: '{{email | lower}}', title: { expr: 'status = "contractor" ? "Contractor" : title' } }, P);
  const t = compileUserMapping({ userName: '{{email | lower}}', title: '{{title}}' }, P);
  const users = Array.from({ length: n }, (_, i) => user({ id: `E${i}`, raw: { status: i % 3 ? 'employee' : 'contractor' } }));
  let start = performance.now();
  for (const u of users) await m.apply(u);
  const exprMs = performance.now() - start;
  start = performance.now();
  for (const u of users) t.apply(u);
  const templateMs = performance.now() - start;
  console.log(`${n} users: with one JSONata expression ${exprMs.toFixed(0)} ms, templates only ${templateMs.toFixed(0)} ms`);
  // Generous bound: catches an accidental per-user compile (which costs ~10x), not machine noise.
  expect(exprMs).toBeLessThan(20_000);
});
