/** The pure parts of connectors/ldap/naming.ts; the retries themselves run against slapd and Samba. */
import { describe, expect, it } from 'vitest';
import { isNumberedForm, numberedValue, samAccountName } from '../../../connectors/ldap/naming.js';

describe('numbered RDN values', () => {
  it('numbers from 2, the first candidate being the value itself', () => {
    expect([1, 2, 3].map((n) => numberedValue('Chris Lee', n))).toEqual(['Chris Lee', 'Chris Lee 2', 'Chris Lee 3']);
  });

  it('recognises a value and its numbered forms, and nothing else', () => {
    expect(isNumberedForm('Chris Lee', 'Chris Lee')).toBe(true);
    expect(isNumberedForm('chris lee 2', 'Chris Lee')).toBe(true);
    expect(isNumberedForm('Chris Lee 20', 'Chris Lee')).toBe(true);
    expect(isNumberedForm('Chris Lee 21', 'Chris Lee')).toBe(false);
    expect(isNumberedForm('Chris Lee 1', 'Chris Lee')).toBe(false);
    expect(isNumberedForm('Chris Lee 02', 'Chris Lee')).toBe(false);
    expect(isNumberedForm('Chris Leeson', 'Chris Lee')).toBe(false);
    expect(isNumberedForm('Chris Lee x', 'Chris Lee')).toBe(false);
    expect(isNumberedForm('jdoe', 'John Doe')).toBe(false);
  });
});

describe('sAMAccountName', () => {
  it('drops the characters AD refuses and keeps to the length limit', () => {
    expect(samAccountName('a"b/c\\d[e]f:g;h|i=j,k+l*m?n<o>p@q', 64)).toBe('abcdefghijklmnopq');
    expect(samAccountName('alexandria.montgomery1', 20)).toBe('alexandria.montgomer');
  });

  it('fits a number in within the limit', () => {
    expect(samAccountName('chris.lee', 20, 2)).toBe('chris.lee2');
    expect(samAccountName('alexandria.montgomery1', 20, 2)).toBe('alexandria.montgome2');
    expect(samAccountName('alexandria.montgomery1', 20, 12)).toBe('alexandria.montgom12');
    expect(samAccountName('alexandria.montgomery1', 20, 12)).toHaveLength(20);
  });

  it('never ends in a dot or a space (Windows logon names cannot)', () => {
    expect(samAccountName('abcdefghijklmnopqrs.tuv', 20)).toBe('abcdefghijklmnopqrs');
    expect(samAccountName('abcdefghijklmnopqr.tuv', 20, 2)).toBe('abcdefghijklmnopqr2');
  });
});
