import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.js';
import { harness, readAll, rejection, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

const base = (users: Record<string, unknown> = {}) => ({
  users: { path: './people.csv', id: 'id', ...users },
  mapping: { userName: '{{email | lower}}', title: '{{title}}' },
});

async function failure(content: string | Buffer, users: Record<string, unknown> = {}): Promise<InputError> {
  await h.write('people.csv', content);
  const err = await rejection(readAll(h.dir, base(users)));
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

describe('csv reader: parsing', () => {
  it('handles quotes, embedded commas and newlines, and keeps line numbers right after them', async () => {
    await h.write(
      'people.csv',
      'id,email,title\n' +
        '1,Ada@Example.com,"Director, Sales"\n' +
        '2,grace@example.com,"Line one\nline two ""quoted"""\n' +
        '3,,Nobody\n' +
        '4,linus@example.com,Dev\n',
    );
    const { users, warnings } = await readAll(h.dir, base());
    expect(users.map((u) => [u.id, u.userName, u.title])).toEqual([
      ['1', 'ada@example.com', 'Director, Sales'],
      ['2', 'grace@example.com', 'Line one\nline two "quoted"'],
      ['4', 'linus@example.com', 'Dev'],
    ]);
    // Row 3 starts on line 5 because row 2 spans lines 3-4.
    expect(warnings).toEqual([
      { code: 'missing-username', message: 'user "3" has an empty userName after mapping; left out of this run', where: './people.csv:5', excluded: { kind: 'user', id: '3' } },
    ]);
    expect(users[0]!.raw).toEqual({ id: '1', email: 'Ada@Example.com', title: 'Director, Sales' });
  });

  it('strips a UTF-8 byte order mark so the first column name is intact', async () => {
    await h.write('people.csv', '\uFEFFid,email,title\r\n1,zoë@example.com,Ingénieure\r\n');
    const { users } = await readAll(h.dir, base());
    expect(users).toHaveLength(1);
    expect(users[0]!.id).toBe('1');
    expect(users[0]!.userName).toBe('zoë@example.com');
    expect(users[0]!.title).toBe('Ingénieure');
  });

  it('decodes latin1 files', async () => {
    await h.write('people.csv', Buffer.from('id;email;title\n1;zoe@example.com;Zoë Müller\n', 'latin1'));
    const { users } = await readAll(h.dir, base({ delimiter: ';', encoding: 'latin1' }));
    expect(users[0]!.title).toBe('Zoë Müller');
  });

  it('supports ";" "|" and tab delimiters and a custom quote', async () => {
    await h.write('people.csv', "id|email|title\n1|a@example.com|'x|y'\n");
    const { users } = await readAll(h.dir, base({ delimiter: '|', quote: "'" }));
    expect(users[0]!.title).toBe('x|y');
    await h.write('people.csv', 'id\temail\ttitle\n1\ta@example.com\tTabbed\n');
    const tabbed = await readAll(h.dir, base({ delimiter: '\t' }));
    expect(tabbed.users[0]!.title).toBe('Tabbed');
  });

  it('trims cells by default and skips blank lines and rows of empty cells', async () => {
    await h.write('people.csv', 'id,email,title\n\n 1 , a@example.com ,  Dev \n,,\n\n2,b@example.com,Ops\n');
    const { users } = await readAll(h.dir, base());
    expect(users.map((u) => [u.id, u.userName, u.title])).toEqual([
      ['1', 'a@example.com', 'Dev'],
      ['2', 'b@example.com', 'Ops'],
    ]);
  });

  it('keeps spaces when trim is false', async () => {
    await h.write('people.csv', 'id,email,title\n1,a@example.com, Dev \n');
    const { users } = await readAll(h.dir, base({ trim: false }));
    expect(users[0]!.title).toBe(' Dev ');
  });

  it('reads header-less files with configured columns', async () => {
    await h.write('people.csv', '1,a@example.com,Dev\n2,b@example.com,Ops\n');
    const { users } = await readAll(h.dir, base({ header: false, columns: ['id', 'email', 'title'] }));
    expect(users.map((u) => u.userName)).toEqual(['a@example.com', 'b@example.com']);
  });

  it('renames header columns when columns are given with a header', async () => {
    await h.write('people.csv', 'Employee #,E-Mail,Job Title\n1,a@example.com,Dev\n');
    const { users } = await readAll(h.dir, base({ columns: ['id', 'email', 'title'] }));
    expect(users[0]!.title).toBe('Dev');
  });

  it('reads files larger than one read chunk with correct line numbers', async () => {
    const rows = ['id,email,title'];
    for (let i = 1; i <= 30_000; i++) rows.push(`${i},u${i}@example.com,"multi\nline ${i}, with comma"`);
    rows.push('30001,,empty');
    await h.write('people.csv', rows.join('\n') + '\n');
    const { users, warnings } = await readAll(h.dir, base());
    expect(users).toHaveLength(30_000);
    expect(users[29_999]!.title).toBe('multi\nline 30000, with comma');
    expect(warnings.map((w) => w.where)).toEqual([`./people.csv:${2 + 30_000 * 2}`]);
  });
});

describe('csv reader: bad input names file, line and column', () => {
  it('unclosed quote', async () => {
    const err = await failure('id,email,title\n1,a@example.com,ok\n2,b@example.com,"never closed\n3,c@example.com,x\n');
    expect(err.message).toBe('./people.csv:3:3: unclosed quote: the field opened with " here never ends');
  });

  it('malformed quoted field', async () => {
    const err = await failure('id,email,title\n1,"a@example.com"x,ok\n');
    expect(err.message).toMatch(/^\.\/people\.csv:2:2: malformed quoted field/);
  });

  it('too many fields', async () => {
    const err = await failure('id,email,title\n1,a@example.com,"multi\nline"\n2,b@example.com,Director, Sales\n');
    expect(err.message).toBe(
      './people.csv:4:4: too many fields: expected 3 (as in the header), found 4; is a value with a delimiter missing its quotes?',
    );
  });

  it('too few fields', async () => {
    const err = await failure('id,email,title\n1,a@example.com\n');
    expect(err.message).toBe('./people.csv:2:3: too few fields: expected 3 (as in the header), found 2; column "title" is missing');
  });

  it('missing id column in the header', async () => {
    const err = await failure('employee,email,title\n1,a@example.com,Dev\n');
    expect(err.message).toBe(
      './people.csv:1: users.id refers to column "id", which is not in the header; columns are: employee, email, title',
    );
  });

  it('template referencing a column that is not in the header', async () => {
    await h.write('people.csv', 'id,email,title\n1,a@example.com,Dev\n');
    const err = await rejection(
      readAll(h.dir, { users: { path: './people.csv', id: 'id' }, mapping: { userName: '{{ mail | lower }}' } }),
    );
    expect(err.message).toBe(
      './people.csv:1: mapping.userName refers to column "mail", which is not in the header; columns are: id, email, title',
    );
  });

  it('missing id value', async () => {
    const err = await failure('id,email,title\n1,a@example.com,Dev\n  ,b@example.com,Ops\n');
    expect(err.message).toBe('./people.csv:3:1: user id is empty (column "id")');
  });

  it('bad encoding', async () => {
    const bytes = Buffer.concat([
      Buffer.from('id,email,title\n1,a@example.com,Dev\n2,b@example.com,M'),
      Buffer.from([0xfc]), // "ü" in latin1, invalid on its own in UTF-8
      Buffer.from('ller\n'),
    ]);
    const err = await failure(bytes);
    expect(err.message).toMatch(/^\.\/people\.csv:3:3: invalid UTF-8 .*set encoding: latin1$/);
  });

  it('a UTF-8 BOM when latin1 is configured', async () => {
    const err = await failure('\uFEFFid,email,title\n1,a@example.com,Dev\n', { encoding: 'latin1' });
    expect(err.message).toBe('./people.csv:1:1: file starts with a UTF-8 byte order mark but encoding is latin1; set encoding: utf8');
  });

  it('duplicate column names', async () => {
    const err = await failure('id,email,email\n1,a@example.com,b@example.com\n');
    expect(err.message).toBe('./people.csv:1:3: duplicate column name "email" (also column 2)');
  });

  it('empty file', async () => {
    const err = await failure('');
    expect(err.message).toBe('./people.csv: file is empty; refusing to read an empty export, which would look like everyone left');
  });

  it('header-only file', async () => {
    const err = await failure('id,email,title\n\n');
    expect(err.message).toBe(
      './people.csv: no data rows (only a header); refusing to read an empty export, which would look like everyone left',
    );
  });

  it('missing file', async () => {
    const err = await rejection(readAll(h.dir, base()));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/^\.\/people\.csv: cannot read file: file not found \(resolved to .*people\.csv\)$/);
  });

  it('a directory instead of a file', async () => {
    const err = await rejection(readAll(h.dir, base({ path: '.' })));
    expect(err.message).toMatch(/^\.: cannot read file: is a directory, not a file/);
  });
});
