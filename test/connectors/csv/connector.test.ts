import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.js';
import { csvConnector } from '../../../connectors/csv/index.js';
import { connect, harness, readAll, rejection, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

const EMPLOYEES =
  'employee_id,first_name,last_name,email,title,department,location,manager_id,status,phone,mobile,roles\n' +
  'E1,Ada,Lovelace,Ada@Example.com,CEO,Management,Berlin,,Active,+49 30 1,,admins;vpn\n' +
  'E2,Zoë,Ångström,zoe@example.com,"Director, Sales",Sales,Berlin,E1,on-leave,,+49 170 2,vpn\n' +
  'E3,José,Núñez,jose@example.com,Rep,Sales,Austin,E2,terminated,,,\n' +
  'E4,Grace,Hopper,grace@example.com,Engineer,Engineering,Austin,E9,active,,,vpn ; admins\n';

const mapping = {
  userName: '{{ email | lower }}',
  'name.givenName': '{{first_name}}',
  'name.familyName': '{{last_name}}',
  email: '{{ email | lower }}',
  phone: '{{phone}}',
  mobile: '{{mobile}}',
  title: '{{title}}',
  manager: '{{manager_id}}',
  'enterprise.department': '{{department}}',
};

const users = (extra: Record<string, unknown> = {}) => ({ path: 'employees.csv', id: 'employee_id', ...extra });

describe('csv connector: users', () => {
  it('maps rows to users with aliases, status and a default displayName', async () => {
    await h.write('employees.csv', EMPLOYEES);
    const result = await readAll(h.dir, {
      users: users({ status: { column: 'status', active: ['active', 'On-Leave'] } }),
      mapping,
    });
    const { raw: _raw, ...zoe } = result.users[1]!;
    expect(zoe).toEqual({
      id: 'E2',
      active: true,
      userName: 'zoe@example.com',
      name: { givenName: 'Zoë', familyName: 'Ångström' },
      displayName: 'Zoë Ångström',
      emails: [{ value: 'zoe@example.com', type: 'work', primary: true }],
      phoneNumbers: [{ value: '+49 170 2', type: 'mobile' }],
      title: 'Director, Sales',
      enterprise: { manager: { value: 'E1' }, department: 'Sales' },
    });
    expect(result.users.map((u) => [u.id, u.active])).toEqual([
      ['E1', true],
      ['E2', true],
      ['E3', false],
      ['E4', true],
    ]);
    expect(result.users[0]!.phoneNumbers).toEqual([{ value: '+49 30 1', type: 'work' }]);
    expect(result.users[0]!.enterprise).toEqual({ department: 'Management' });
    expect(result.users[2]!.raw).toMatchObject({ employee_id: 'E3', status: 'terminated', roles: '' });
    expect(result.warnings).toEqual([
      { code: 'unknown-manager', message: 'manager "E9" of user "E4" is not in the file', where: 'employees.csv:5' },
    ]);
    expect(result.attributes).toEqual([
      'userName',
      'active',
      'displayName',
      'title',
      'name.familyName',
      'name.givenName',
      'emails',
      'phoneNumbers',
      'enterprise.department',
      'enterprise.manager',
    ]);
  });

  it('treats everyone as active without a status column', async () => {
    await h.write('employees.csv', EMPLOYEES);
    const result = await readAll(h.dir, { users: users(), mapping: { userName: '{{email}}' } });
    expect(result.users.every((u) => u.active)).toBe(true);
    expect(result.attributes).toEqual(['userName', 'active']);
    expect(result.users[0]).not.toHaveProperty('displayName');
  });

  it('leaves out rows with a status that is neither active nor inactive when inactive is listed', async () => {
    await h.write('employees.csv', EMPLOYEES.replace('on-leave', 'on-leaev'));
    const result = await readAll(h.dir, {
      users: users({ status: { column: 'status', active: ['active', 'on-leave'], inactive: ['terminated'] } }),
      mapping: { userName: '{{email}}' },
    });
    expect(result.users.map((u) => u.id)).toEqual(['E1', 'E3', 'E4']);
    expect(result.warnings).toEqual([
      {
        code: 'unknown-status',
        message: 'user "E2" has status "on-leaev", which is neither an active nor an inactive value; left out of this run',
        where: 'employees.csv:3',
        excluded: { kind: 'user', id: 'E2' },
      },
    ]);
  });

  it('excludes every row of a duplicated id and warns once per row', async () => {
    await h.write(
      'employees.csv',
      'employee_id,email\nE1,a@example.com\nE2,b@example.com\nE1,c@example.com\nE3,d@example.com\nE1,e@example.com\n',
    );
    const result = await readAll(h.dir, { users: users(), mapping: { userName: '{{email}}' } });
    expect(result.users.map((u) => u.id)).toEqual(['E2', 'E3']);
    const message = 'user id "E1" appears on lines 2, 4, 6; all 3 rows are left out of this run';
    const excluded = { kind: 'user', id: 'E1' };
    expect(result.warnings).toEqual([
      { code: 'duplicate-id', message, where: 'employees.csv:2', excluded },
      { code: 'duplicate-id', message, where: 'employees.csv:4', excluded },
      { code: 'duplicate-id', message, where: 'employees.csv:6', excluded },
    ]);
  });

  it('reports several duplicated ids in the order of their first row', async () => {
    await h.write(
      'employees.csv',
      'employee_id,email\nE1,a@example.com\nE2,b@example.com\nE3,c@example.com\nE2,d@example.com\nE1,e@example.com\n',
    );
    const result = await readAll(h.dir, { users: users(), mapping: { userName: '{{email}}', manager: '{{employee_id}}' } });
    expect(result.users.map((u) => u.id)).toEqual(['E3']);
    expect(result.warnings.map((w) => [w.code, w.where, w.excluded?.id])).toEqual([
      ['duplicate-id', 'employees.csv:2', 'E1'],
      ['duplicate-id', 'employees.csv:6', 'E1'],
      ['duplicate-id', 'employees.csv:3', 'E2'],
      ['duplicate-id', 'employees.csv:5', 'E2'],
    ]);
  });

  it('warns about a userName used twice but keeps both users', async () => {
    await h.write('employees.csv', 'employee_id,email\nE1,a@example.com\nE2,A@example.com\n');
    const result = await readAll(h.dir, { users: users(), mapping: { userName: '{{email}}' } });
    expect(result.users).toHaveLength(2);
    expect(result.warnings).toEqual([
      { code: 'duplicate-username', message: 'users "E1" and "E2" both have userName "A@example.com"', where: 'employees.csv:3' },
    ]);
  });

  it('reports a manager who is left out this run', async () => {
    await h.write('employees.csv', 'employee_id,email,manager_id\nE1,,\nE2,b@example.com,E1\n');
    const result = await readAll(h.dir, { users: users(), mapping: { userName: '{{email}}', manager: '{{manager_id}}' } });
    expect(result.users.map((u) => u.id)).toEqual(['E2']);
    expect(result.warnings.map((w) => [w.code, w.message, w.where])).toEqual([
      ['missing-username', 'user "E1" has an empty userName after mapping; left out of this run', 'employees.csv:2'],
      ['unknown-manager', 'manager "E1" of user "E2" is left out this run (empty userName)', 'employees.csv:3'],
    ]);
  });

  it('reads the files once per connector for both listings', async () => {
    await h.write('employees.csv', EMPLOYEES);
    const { reader, warnings } = connect(h.dir, { users: users({ groups: [{ column: 'department' }] }), mapping: { userName: '{{email}}', manager: '{{manager_id}}' } });
    let n = 0;
    for await (const _u of reader.listUsers()) n++;
    await h.write('employees.csv', 'employee_id,email\n');
    let g = 0;
    for await (const _g of reader.listGroups()) g++;
    expect([n, g]).toEqual([4, 3]);
    expect(warnings).toHaveLength(1);
  });
});

describe('csv connector: groups', () => {
  it('derives groups from columns with stable ids, templates and separators', async () => {
    await h.write('employees.csv', EMPLOYEES);
    const { groups } = await readAll(h.dir, {
      users: users({
        groups: [
          { column: 'department' },
          { column: 'location', name: 'Office {{ value | upper }}' },
          { column: 'roles', separator: ';' },
        ],
      }),
      mapping: { userName: '{{email}}' },
    });
    expect(groups.map((g) => ({ id: g.id, name: g.displayName, members: g.members.map((m) => m.value) }))).toEqual([
      { id: 'department:Management', name: 'Management', members: ['E1'] },
      { id: 'department:Sales', name: 'Sales', members: ['E2', 'E3'] },
      { id: 'department:Engineering', name: 'Engineering', members: ['E4'] },
      { id: 'location:Berlin', name: 'Office BERLIN', members: ['E1', 'E2'] },
      { id: 'location:Austin', name: 'Office AUSTIN', members: ['E3', 'E4'] },
      { id: 'roles:admins', name: 'admins', members: ['E1', 'E4'] },
      { id: 'roles:vpn', name: 'vpn', members: ['E1', 'E2', 'E4'] },
    ]);
    expect(groups[0]!.members).toEqual([{ type: 'User', value: 'E1' }]);
  });

  it('adds each member once: repeated values in a cell, rules over the same column, a memberships file', async () => {
    await h.write('employees.csv', 'employee_id,email,roles\nE1,a@example.com,vpn;vpn ; admins\nE2,b@example.com,vpn\nE1x,,vpn\n');
    await h.write('memberships.csv', 'group,user\nroles:vpn,E2\nroles:admins,E2\n');
    const { groups, warnings } = await readAll(h.dir, {
      users: users({ groups: [{ column: 'roles', separator: ';' }, { column: 'roles', separator: ';', name: 'Role {{value}}' }] }),
      mapping: { userName: '{{email}}' },
      memberships: { path: 'memberships.csv', group: 'group', user: 'user' },
    });
    // The second rule names groups the first one made; like before, the first name is kept silently.
    expect(groups.map((g) => [g.id, g.displayName, g.members.map((m) => m.value)])).toEqual([
      ['roles:vpn', 'vpn', ['E1', 'E2']],
      ['roles:admins', 'admins', ['E1', 'E2']],
    ]);
    expect(warnings.map((w) => w.code)).toEqual(['missing-username']);
  });

  it('keeps a column group whose only member is left out, without members', async () => {
    await h.write('employees.csv', 'employee_id,email,department\nE1,a@example.com,Sales\nE2,,Legal\n');
    const { groups } = await readAll(h.dir, { users: users({ groups: [{ column: 'department' }] }), mapping: { userName: '{{email}}' } });
    expect(groups.map((g) => [g.id, g.members.length])).toEqual([
      ['department:Sales', 1],
      ['department:Legal', 0],
    ]);
  });

  it('warns when a per-row group name template gives different names for one group', async () => {
    await h.write('employees.csv', 'employee_id,email,dept,code\nE1,a@example.com,Sales,S1\nE2,b@example.com,Sales,S2\n');
    const { groups, warnings } = await readAll(h.dir, {
      users: users({ groups: [{ column: 'dept', name: '{{value}} ({{code}})' }] }),
      mapping: { userName: '{{email}}' },
    });
    expect(groups[0]!.displayName).toBe('Sales (S1)');
    expect(warnings).toEqual([
      {
        code: 'inconsistent-group-name',
        message: 'group "dept:Sales" is named "Sales (S1)" earlier and "Sales (S2)" here; keeping "Sales (S1)"',
        where: 'employees.csv:3',
      },
    ]);
  });

  it('reads a groups file with nested parents and a memberships file', async () => {
    await h.write('employees.csv', EMPLOYEES);
    await h.write('groups.csv', 'group_id,name,parent_id\nall,Everyone,\neng,Engineering,all\nplatform,Platform Team,eng\nsales,Sales,all\n');
    await h.write(
      'memberships.csv',
      'group_id,employee_id\nplatform,E4\nsales,E2\nsales,E3\nsales,E2\nnope,E1\nall,E99\ndepartment:Sales,E1\n',
    );
    const { groups, warnings } = await readAll(h.dir, {
      users: users({ groups: [{ column: 'department' }] }),
      mapping: { userName: '{{email}}' },
      groups: { path: 'groups.csv', id: 'group_id', name: 'name', parent: 'parent_id' },
      memberships: { path: 'memberships.csv', group: 'group_id', user: 'employee_id' },
    });
    const byId = new Map(groups.map((g) => [g.id, g]));
    expect(byId.get('all')).toMatchObject({
      displayName: 'Everyone',
      members: [
        { type: 'Group', value: 'eng' },
        { type: 'Group', value: 'sales' },
      ],
    });
    expect(byId.get('eng')!.members).toEqual([{ type: 'Group', value: 'platform' }]);
    expect(byId.get('platform')!.members).toEqual([{ type: 'User', value: 'E4' }]);
    expect(byId.get('sales')!.members).toEqual([
      { type: 'User', value: 'E2' },
      { type: 'User', value: 'E3' },
    ]);
    expect(byId.get('department:Sales')!.members.map((m) => m.value)).toEqual(['E2', 'E3', 'E1']);
    expect(byId.get('platform')!.raw).toEqual({ group_id: 'platform', name: 'Platform Team', parent_id: 'eng' });
    expect(warnings).toEqual([
      { code: 'unknown-member', message: 'membership skipped: unknown group "nope"', where: 'memberships.csv:6' },
      { code: 'unknown-member', message: 'membership skipped: unknown user "E99"', where: 'memberships.csv:7' },
    ]);
  });

  it('builds group names from a template', async () => {
    await h.write('employees.csv', EMPLOYEES);
    await h.write('groups.csv', 'group_id,name,kind\ng1,Ops,team\n');
    const { groups } = await readAll(h.dir, {
      users: users(),
      mapping: { userName: '{{email}}' },
      groups: { path: 'groups.csv', id: 'group_id', name: '{{kind}}: {{name}}' },
    });
    expect(groups.map((g) => g.displayName)).toEqual(['team: Ops']);
  });

  it('rejects a parent cycle, naming the file, line and parent column', async () => {
    await h.write('employees.csv', EMPLOYEES);
    await h.write('groups.csv', 'group_id,name,parent_id\nroot,Root,\na,A,c\nb,B,a\nc,C,b\n');
    const err = await rejection(
      readAll(h.dir, {
        users: users(),
        mapping: { userName: '{{email}}' },
        groups: { path: 'groups.csv', id: 'group_id', name: 'name', parent: 'parent_id' },
      }),
    );
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('groups.csv:3:3: parent cycle: a → c → b → a');
  });

  it('rejects a group that is its own parent', async () => {
    await h.write('employees.csv', EMPLOYEES);
    await h.write('groups.csv', 'group_id,name,parent_id\na,A,\nb,B,b\n');
    const err = await rejection(
      readAll(h.dir, { users: users(), mapping: { userName: '{{email}}' }, groups: { path: 'groups.csv', id: 'group_id', name: 'name', parent: 'parent_id' } }),
    );
    expect(err.message).toBe('groups.csv:3:3: parent cycle: b → b');
  });

  it('rejects an unknown parent id', async () => {
    await h.write('employees.csv', EMPLOYEES);
    await h.write('groups.csv', 'group_id,name,parent_id\na,A,\nb,B,zzz\n');
    const err = await rejection(
      readAll(h.dir, { users: users(), mapping: { userName: '{{email}}' }, groups: { path: 'groups.csv', id: 'group_id', name: 'name', parent: 'parent_id' } }),
    );
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('groups.csv:3:3: unknown parent group "zzz"');
  });

  it('rejects an empty group name and a missing memberships column', async () => {
    await h.write('employees.csv', EMPLOYEES);
    await h.write('groups.csv', 'group_id,name\na,A\nb,\n');
    const cfg = { users: users(), mapping: { userName: '{{email}}' }, groups: { path: 'groups.csv', id: 'group_id', name: 'name' } };
    expect((await rejection(readAll(h.dir, cfg))).message).toBe('groups.csv:3:2: group "b" has an empty name');

    await h.write('groups.csv', 'group_id,name\na,A\n');
    await h.write('memberships.csv', 'group,user\na,E1\n');
    const err = await rejection(
      readAll(h.dir, { ...cfg, memberships: { path: 'memberships.csv', group: 'group_id', user: 'user' } }),
    );
    expect(err.message).toBe(
      'memberships.csv:1: memberships.group refers to column "group_id", which is not in the header; columns are: group, user',
    );
  });
});

describe('csv connector: check', () => {
  it('reports files, counts and warnings', async () => {
    await h.write('employees.csv', EMPLOYEES + 'E4,Dup,Dup,dup@example.com,x,Sales,Austin,,active,,,\n');
    const { connector } = connect(h.dir, {
      users: users({ status: { column: 'status', active: ['active'] }, groups: [{ column: 'department' }] }),
      mapping: { userName: '{{email}}' },
    });
    const result = await connector.check();
    expect(result.ok).toBe(true);
    expect(result.details).toEqual([
      'employees.csv: 5 rows, columns: employee_id, first_name, last_name, email, title, department, location, manager_id, status, phone, mobile, roles',
      '3 users (2 inactive), 3 groups',
      '2 warnings:',
      '  employees.csv:5: user id "E4" appears on lines 5, 6; all 2 rows are left out of this run [duplicate-id]',
      '  employees.csv:6: user id "E4" appears on lines 5, 6; all 2 rows are left out of this run [duplicate-id]',
    ]);
  });

  it('fails with the reason when a file is missing', async () => {
    const { connector } = connect(h.dir, { users: users(), mapping: { userName: '{{email}}' } });
    const result = await connector.check();
    expect(result.ok).toBe(false);
    expect(result.details[0]).toMatch(/^employees\.csv: cannot read file: file not found/);
  });
});

describe('csv connector: configuration', () => {
  const issues = (raw: unknown) => {
    const result = csvConnector.configSchema.safeParse(raw);
    expect(result.success).toBe(false);
    return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('rejects unknown mapping keys, listing the valid ones', () => {
    const [issue] = issues({ users: users(), mapping: { userName: '{{email}}', surname: '{{last_name}}' } });
    expect(issue).toMatch(/^mapping\.surname: unknown attribute "surname"; valid keys are: userName, displayName, /);
    expect(issue).toContain('email, phone, mobile, manager');
  });

  it('rejects active and externalId in the mapping', () => {
    expect(issues({ users: users(), mapping: { userName: '{{email}}', active: '{{status}}', externalId: '{{id}}' } })).toEqual([
      'mapping.active: "active" cannot be mapped; it comes from users.status',
      'mapping.externalId: "externalId" cannot be mapped; the sync engine sets it to the source id',
    ]);
  });

  it('requires userName and a mapping', () => {
    expect(issues({ users: users(), mapping: { title: '{{title}}' } })).toEqual([
      'mapping: userName must be mapped, e.g. userName: "{{email | lower}}"',
    ]);
    expect(issues({ users: users() })).toEqual(['mapping: required; map at least userName, e.g. userName: "{{email | lower}}"']);
  });

  it('rejects conflicting aliases', () => {
    expect(issues({ users: users(), mapping: { userName: '{{e}}', email: '{{e}}', emails: '{{e}}' } })).toEqual([
      'mapping.emails: "email" and "emails" both set the same attribute; keep one',
    ]);
  });

  it('rejects template syntax errors with their position', () => {
    expect(issues({ users: users(), mapping: { userName: '{{ email | lowr }}' } })[0]).toMatch(
      /^mapping\.userName: unknown filter "lowr" .* at character 12 of template/,
    );
  });

  it('rejects unknown keys everywhere', () => {
    expect(issues({ users: users({ delimeter: ';' }), mapping: { userName: '{{e}}' } })[0]).toMatch(/^users: Unrecognized key: "delimeter"/);
    expect(issues({ users: users(), mapping: { userName: '{{e}}' }, extra: 1 })[0]).toMatch(/^: Unrecognized key: "extra"/);
    expect(
      issues({ users: users({ status: { column: 's', active: ['a'], activ: [] } }), mapping: { userName: '{{e}}' } })[0],
    ).toMatch(/^users\.status: Unrecognized key: "activ"/);
  });

  it('requires columns when there is no header, and checks delimiter and encoding', () => {
    expect(issues({ users: users({ header: false }), mapping: { userName: '{{e}}' } })).toEqual([
      'users.columns: required when header is false',
    ]);
    expect(issues({ users: users({ delimiter: ':', encoding: 'cp1252' }), mapping: { userName: '{{e}}' } })).toHaveLength(2);
  });

  it('applies defaults', () => {
    const parsed = csvConnector.configSchema.parse({ users: users(), mapping: { userName: '{{e}}' } });
    expect(parsed).toEqual({
      users: { path: 'employees.csv', id: 'employee_id', delimiter: ',', quote: '"', encoding: 'utf8', header: true, trim: true, groups: [] },
      mapping: { userName: '{{e}}' },
    });
  });

  it('declares a read-only connector', () => {
    expect(csvConnector.type).toBe('csv');
    expect(csvConnector.capabilities).toEqual({ read: true, write: false, nestedGroups: true, deactivate: false, delete: false, delta: false });
  });
});

describe('examples/hr/employees.csv', () => {
  it('reads cleanly: 50 people, one terminated, a real manager hierarchy', async () => {
    const dir = new URL('../../../examples/hr/', import.meta.url).pathname;
    const result = await readAll(dir, {
      users: { path: 'employees.csv', id: 'employee_id', status: { column: 'status', active: ['active', 'on-leave'] }, groups: [{ column: 'department' }] },
      mapping: {
        userName: '{{ email | lower }}',
        'name.givenName': '{{first_name}}',
        'name.familyName': '{{last_name}}',
        email: '{{email}}',
        title: '{{title}}',
        manager: '{{manager_id}}',
      },
    });
    expect(result.warnings).toEqual([]);
    expect(result.users).toHaveLength(50);
    expect(result.users.filter((u) => !u.active).map((u) => u.id)).toEqual(['E1024']);
    expect(result.users.filter((u) => !u.enterprise?.manager).map((u) => u.title)).toEqual(['Chief Executive Officer']);
    expect(result.users.find((u) => u.id === 'E1003')!.title).toBe('Director, Sales');
    expect(result.users.find((u) => u.id === 'E1004')!.displayName).toBe('Zoë Ångström');
    expect(result.groups.map((g) => g.displayName).sort()).toEqual(['Engineering', 'Finance', 'Marketing', 'People', 'Sales', 'Support']);
  });
});
