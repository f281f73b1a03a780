import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guidFilterValue, guidToBytes, guidToString } from '../../../connectors/ldap/ad/guid.js';
import { UAC, isDisabled, withDisabled } from '../../../connectors/ldap/ad/uac.js';
import { dateToFileTime, fileTimeToDate, isExpired } from '../../../connectors/ldap/ad/filetime.js';
import { randomPassword, unicodePwd } from '../../../connectors/ldap/ad/password.js';
import { parseRangedName } from '../../../connectors/ldap/ad/ranged.js';

describe('objectGUID', () => {
  // The .NET documentation's own example of Guid.ToByteArray: the first three fields are little-endian.
  const bytes = Buffer.from('33221100554477668899aabbccddeeff', 'hex');
  const text = '00112233-4455-6677-8899-aabbccddeeff';

  it('converts the Windows byte layout to the canonical string and back', () => {
    expect(guidToString(bytes)).toBe(text);
    expect(guidToBytes(text).equals(bytes)).toBe(true);
    expect(guidToBytes(text.toUpperCase()).equals(bytes)).toBe(true);
  });

  it('escapes every byte for a filter', () => {
    expect(guidFilterValue(text)).toBe('\\33\\22\\11\\00\\55\\44\\77\\66\\88\\99\\aa\\bb\\cc\\dd\\ee\\ff');
  });

  it('round-trips any 16 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const s = guidToString(b);
        expect(s).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(guidToBytes(s).equals(Buffer.from(b))).toBe(true);
      }),
    );
  });

  it('rejects malformed input', () => {
    expect(() => guidToString(new Uint8Array(15))).toThrow(/16 bytes/);
    for (const bad of ['', '{00112233-4455-6677-8899-aabbccddeeff}', '00112233445566778899aabbccddeeff', '0011223-4455-6677-8899-aabbccddeeffa', 'g0112233-4455-6677-8899-aabbccddeeff']) {
      expect(() => guidToBytes(bad), bad).toThrow(/not a GUID/);
    }
  });
});

describe('userAccountControl', () => {
  it('reads the disabled bit', () => {
    expect(isDisabled(0x202)).toBe(true);
    expect(isDisabled(0x200)).toBe(false);
    expect(isDisabled(546)).toBe(true); // what Samba gives a user created without a password
  });

  it('flips ACCOUNTDISABLE alone', () => {
    const uac = UAC.NORMAL_ACCOUNT | UAC.DONT_EXPIRE_PASSWORD | UAC.PASSWD_NOTREQD;
    expect(withDisabled(uac, true)).toBe(uac | 0x2);
    expect(withDisabled(withDisabled(uac, true), false)).toBe(uac);
    expect(withDisabled(uac, false)).toBe(uac);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (v, d) => {
        const r = withDisabled(v, d);
        expect(r >= 0).toBe(true);
        expect(isDisabled(r)).toBe(d);
        expect((r | 2) >>> 0).toBe((v | 2) >>> 0);
      }),
    );
  });

  it('rejects values that are not a 32-bit unsigned integer', () => {
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) expect(() => withDisabled(bad, true)).toThrow();
  });
});

describe('FILETIME', () => {
  it('converts known instants', () => {
    expect(dateToFileTime(new Date('1970-01-01T00:00:00Z'))).toBe('116444736000000000');
    expect(dateToFileTime(new Date('2000-01-01T00:00:00Z'))).toBe('125911584000000000');
    expect(fileTimeToDate('125911584000000000')?.toISOString()).toBe('2000-01-01T00:00:00.000Z');
    // Sub-millisecond ticks are dropped, not rounded into the next millisecond.
    expect(fileTimeToDate('125911584000009999')?.toISOString()).toBe('2000-01-01T00:00:00.000Z');
  });

  it('treats 0, 2^63-1 and absence as never', () => {
    expect(fileTimeToDate(undefined)).toBeUndefined();
    expect(fileTimeToDate('0')).toBeUndefined();
    expect(fileTimeToDate('9223372036854775807')).toBeUndefined();
    expect(isExpired('0', new Date())).toBe(false);
    expect(isExpired('9223372036854775807', new Date())).toBe(false);
    expect(isExpired(undefined, new Date())).toBe(false);
  });

  it('round-trips whole milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: -11644473599999, max: 910692730085000 }), (ms) => {
        expect(fileTimeToDate(dateToFileTime(new Date(ms)))?.getTime()).toBe(ms);
      }),
    );
  });

  it('is expired from the instant on', () => {
    const at = new Date('2030-06-01T12:00:00Z');
    const ft = dateToFileTime(at);
    expect(isExpired(ft, new Date(at.getTime() - 1))).toBe(false);
    expect(isExpired(ft, at)).toBe(true);
    expect(isExpired(ft, new Date(at.getTime() + 1))).toBe(true);
  });

  it('rejects garbage', () => {
    expect(() => fileTimeToDate('soon')).toThrow(/FILETIME/);
    expect(() => fileTimeToDate('-5')).toThrow(/range/);
    expect(() => dateToFileTime(new Date('x'))).toThrow(/invalid/);
    expect(() => dateToFileTime(new Date('1600-01-01T00:00:00Z'))).toThrow(/range/);
    expect(() => dateToFileTime(new Date(8.64e15))).toThrow(/range/); // year 275760, beyond 2^63-1 ticks
  });
});

describe('passwords', () => {
  it('encodes unicodePwd as quoted UTF-16LE', () => {
    expect(unicodePwd('a').toString('hex')).toBe('220061002200');
    expect(unicodePwd('Zoë€').equals(Buffer.from('"Zoë€"', 'utf16le'))).toBe(true);
  });

  it('generates random passwords with all four character classes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = randomPassword();
      expect(p).toHaveLength(24);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[^A-Za-z0-9]/);
      expect(p).not.toMatch(/[\s"'\\`]/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
    expect(randomPassword(8)).toHaveLength(8);
    expect(() => randomPassword(3)).toThrow();
  });
});

describe('ranged attribute names', () => {
  it('parses AD range options', () => {
    expect(parseRangedName('member;range=0-1499')).toEqual({ attribute: 'member', low: 0, high: 1499 });
    expect(parseRangedName('member;range=1500-*')).toEqual({ attribute: 'member', low: 1500, high: '*' });
    expect(parseRangedName('Member;Range=3000-4499')).toEqual({ attribute: 'Member', low: 3000, high: 4499 });
    expect(parseRangedName('member')).toBeUndefined();
    expect(parseRangedName('member;range=10-5')).toBeUndefined();
    expect(parseRangedName('member;range=a-b')).toBeUndefined();
  });
});
