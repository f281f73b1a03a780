import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeDNValue, escapeFilterValue, formatDN, isUnder, normalizeDN, parentDN, parseDN } from '../../../connectors/ldap/escape.js';

describe('RFC 4514 DN escaping and parsing', () => {
  it('escapes the special characters, leading # and spaces, trailing spaces', () => {
    expect(escapeDNValue('a,b+c"d<e>f;g=h')).toBe('a\\,b\\+c\\"d\\<e\\>f\\;g\\=h');
    expect(escapeDNValue('back\\slash')).toBe('back\\5Cslash');
    expect(escapeDNValue('#x')).toBe('\\#x');
    expect(escapeDNValue(' lead')).toBe('\\ lead');
    expect(escapeDNValue('trail ')).toBe('trail\\ ');
    expect(escapeDNValue('mid dle #')).toBe('mid dle #');
    expect(escapeDNValue('Zoë')).toBe('Zoë');
  });

  it('parses hex pairs, escaped characters, multi-valued RDNs and spaces around separators', () => {
    expect(parseDN('cn=J\\C3\\B6rg\\2C Jr.+uid=j , ou=x\\ ,dc=org')).toEqual([
      [
        { type: 'cn', value: 'Jörg, Jr.' },
        { type: 'uid', value: 'j' },
      ],
      [{ type: 'ou', value: 'x ' }],
      [{ type: 'dc', value: 'org' }],
    ]);
    expect(parseDN('')).toEqual([]);
    expect(() => parseDN('cn=a,')).toThrow(/ends with a separator/);
    expect(() => parseDN('nonsense')).toThrow(/missing "="/);
  });

  it('round-trips any value through escape and parse', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const dn = `cn=${escapeDNValue(a)},ou=${escapeDNValue(b)},dc=example`;
        const parsed = parseDN(dn);
        expect(parsed[0]![0]!.value).toBe(a);
        expect(parsed[1]![0]!.value).toBe(b);
        expect(formatDN(parsed)).toBe(dn);
      }),
    );
  });

  it('normalises case, escaping and spacing the way a server compares DNs', () => {
    expect(normalizeDN('UID=Ann , OU=People,DC=Example')).toBe(normalizeDN('uid=ann,ou=people,dc=example'));
    expect(normalizeDN('cn=a\\2Cb,dc=x')).toBe(normalizeDN('cn=a\\,b,dc=x'));
    expect(normalizeDN('cn=a+sn=b,dc=x')).toBe(normalizeDN('sn=B+cn=A,dc=x'));
    expect(normalizeDN('cn=a,dc=x')).not.toBe(normalizeDN('cn=b,dc=x'));
  });

  it('finds parents and ancestry RDN by RDN (an escaped comma is not a separator)', () => {
    expect(parentDN('uid=a\\,b,ou=People,dc=x')).toBe('ou=People,dc=x');
    expect(isUnder('uid=a,ou=disabled,dc=x', 'OU=Disabled,DC=x')).toBe(true);
    expect(isUnder('cn=x\\,ou=disabled,dc=x', 'ou=disabled,dc=x')).toBe(false);
    expect(isUnder('dc=x', 'ou=disabled,dc=x')).toBe(false);
  });
});

describe('RFC 4515 filter value escaping', () => {
  it('escapes * ( ) \\ and NUL', () => {
    expect(escapeFilterValue('a*b(c)d\\e\0')).toBe('a\\2ab\\28c\\29d\\5ce\\00');
  });
});
