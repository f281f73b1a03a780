import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileTemplate, TemplateError, templateFields } from '../../src/core/template.js';

const render = (source: string, fields: Record<string, unknown>) => compileTemplate(source)(fields);

function errorOf(source: string): TemplateError {
  try {
    compileTemplate(source);
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(source)} to fail`);
}

describe('compileTemplate: rendering', () => {
  it('substitutes fields inside literal text', () => {
    expect(render('Hello {{ name }}!', { name: 'Ada' })).toBe('Hello Ada!');
    expect(render('{{a}}-{{b}}', { a: 'x', b: 'y' })).toBe('x-y');
  });

  it('returns the single placeholder value untouched, and undefined when it is empty or missing', () => {
    expect(render('{{ v }}', { v: ' padded ' })).toBe(' padded ');
    expect(render('{{v}}', { v: '' })).toBeUndefined();
    expect(render('{{v}}', {})).toBeUndefined();
    expect(render('{{v}}', { v: null })).toBeUndefined();
  });

  it('renders missing fields as empty in longer templates and trims the result', () => {
    expect(render('{{first}} {{last}}', { first: 'Ada' })).toBe('Ada');
    expect(render('{{first}} {{last}}', { last: 'Lovelace' })).toBe('Lovelace');
    expect(render('{{first}} {{last}}', {})).toBeUndefined();
    expect(render('  ', {})).toBeUndefined();
    expect(render(' Staff ', {})).toBe('Staff');
  });

  it('looks up dotted names in nested objects, then as a literal key', () => {
    expect(render('{{name.givenName}}', { name: { givenName: 'Grace' } })).toBe('Grace');
    expect(render('{{name.givenName}}', { 'name.givenName': 'Flat' })).toBe('Flat');
    expect(render('{{a.b.c}}', { a: { b: 'not an object' } })).toBeUndefined();
  });

  it('accepts quoted field names for columns with spaces', () => {
    expect(render('{{ "First Name" | upper }}', { 'First Name': 'zoë' })).toBe('ZOË');
  });

  it('stringifies numbers, booleans and multi-valued attributes', () => {
    expect(render('{{n}}', { n: 42 })).toBe('42');
    expect(render('{{b}}', { b: false })).toBe('false');
    expect(
      render('{{emails}}', { emails: [{ value: 'a@example.com' }, { value: 'b@example.com', primary: true }] }),
    ).toBe('b@example.com');
    expect(render('{{m}}', { m: { value: 'E1' } })).toBe('E1');
    expect(render('{{o}}', { o: { x: 1 } })).toBeUndefined();
  });

  it('applies filters left to right', () => {
    expect(render('{{ e | lower }}', { e: 'Ada@Example.COM' })).toBe('ada@example.com');
    expect(render('{{ e | upper }}', { e: 'abc' })).toBe('ABC');
    expect(render('[{{ e | trim }}]', { e: '  x  ' })).toBe('[x]');
    expect(render('{{ e | first | lower }}', { e: 'Zoë' })).toBe('z');
    expect(render('{{ e | first }}', { e: '𝔸bc' })).toBe('𝔸');
    expect(render('{{ e | ascii | lower }}', { e: 'Zoë Ångström' })).toBe('zoe angstrom');
    expect(render('{{ e | ascii }}', { e: 'Müller-Straße Øre Łódź' })).toBe('Muller-Strasse Ore Lodz');
    expect(render('{{ e | replace " " "." | lower }}', { e: 'Mary Ann Smith' })).toBe('mary.ann.smith');
    expect(render("{{ e | replace 'a' '$&' }}", { e: 'banana' })).toBe('b$&n$&n$&');
    expect(render('{{ e | default "n/a" }}', {})).toBe('n/a');
    expect(render('{{ e | default "n/a" }}', { e: '' })).toBe('n/a');
    expect(render('{{ e | default "n/a" }}', { e: 'set' })).toBe('set');
    expect(render('{{ e | lower | default "none" }}', {})).toBe('none');
  });

  it('handles escaped quotes and "}}" inside string arguments', () => {
    expect(render('{{ e | replace "\\"" "}}" }}', { e: 'say "hi"' })).toBe('say }}hi}}');
  });

  it('builds usernames from names', () => {
    const t = compileTemplate('{{ first_name | first | ascii | lower }}{{ last_name | ascii | lower | replace " " "" }}');
    expect(t({ first_name: 'José', last_name: 'Núñez de Balboa' })).toBe('jnunezdebalboa');
  });

  it('is a pure function of its input (property)', () => {
    const t = compileTemplate('{{ a | trim | lower }}:{{ b | default "-" }}');
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (a, b) => {
        const out = t({ a, b });
        const expected = `${a.trim().toLowerCase()}:${b === undefined || b === '' ? '-' : b}`.trim();
        expect(out).toBe(expected === '' ? undefined : expected);
      }),
    );
  });
});

describe('compileTemplate: errors', () => {
  it('reports an unclosed placeholder at its opening', () => {
    const err = errorOf('Hi {{ name | lower');
    expect(err.position).toBe(3);
    expect(err.message).toBe('unclosed "{{" at character 4 of template "Hi {{ name | lower"');
  });

  it('reports unknown filters by name and position, listing the known ones', () => {
    const err = errorOf('{{ email | lowr }}');
    expect(err.position).toBe(11);
    expect(err.message).toContain('unknown filter "lowr" (known filters: lower, upper, trim, first, ascii, default, replace)');
  });

  it('reports wrong argument counts', () => {
    expect(errorOf('{{ x | replace "a" }}').message).toContain('filter "replace" takes "from" "to", got 1 argument');
    expect(errorOf('{{ x | lower "a" }}').message).toContain('filter "lower" takes no arguments, got 1 argument');
    expect(errorOf('{{ x | default }}').message).toContain('filter "default" takes "value", got 0 arguments');
  });

  it('reports other syntax problems', () => {
    expect(errorOf('{{ }}').reason).toBe('missing field name');
    expect(errorOf('{{ a b }}').reason).toBe('unexpected "b"; expected "|" or "}}"');
    expect(errorOf('{{ a | default "x }}').reason).toBe('unclosed " string');
    expect(errorOf('{{ a | default x }}').reason).toBe('unexpected "x"; filter arguments must be quoted strings');
    expect(errorOf('{{ a | }}').reason).toBe('missing filter name after "|"');
    expect(errorOf('{{ a | replace "" "x" }}').reason).toBe('filter "replace" needs a non-empty text to find');
    expect(errorOf('{{ a! }}').reason).toBe('unexpected "!"; expected "|" or "}}"');
    expect(errorOf('{{ !a }}').reason).toBe('unexpected "!" in field name');
  });

  it('is an Error subclass', () => {
    expect(errorOf('{{')).toBeInstanceOf(Error);
  });
});

describe('templateFields', () => {
  it('lists each referenced field once, in order', () => {
    expect(templateFields('{{ b }} {{a|lower}} {{ b }} {{ "x y" }} {{name.givenName}}')).toEqual([
      'b',
      'a',
      'x y',
      'name.givenName',
    ]);
    expect(templateFields('no placeholders')).toEqual([]);
  });
});

describe('performance', () => {
  it('renders 1M times well under a second', () => {
    const t = compileTemplate('{{ first | lower }}.{{ last | lower }}@example.com');
    const fields = { first: 'Ada', last: 'Lovelace' };
    const start = performance.now();
    let n = 0;
    for (let i = 0; i < 1_000_000; i++) n += t(fields)!.length;
    expect(n).toBe(24_000_000);
    expect(performance.now() - start).toBeLessThan(1500);
  });
});
