import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeValue } from '../../src/core/attributes.js';
import type { UserInput } from '../../src/core/model.js';
import { fingerprintGroup, fingerprintUser } from '../../src/plan/fingerprint.js';

/** The definition fingerprints have always had: sha1 of the JSON of the normalised payload. */
const reference = (value: unknown) => createHash('sha1').update(JSON.stringify(normalizeValue(value)) ?? 'null').digest('hex');

// Values shaped like payloads: '' / null / empty arrays and objects (all "unset"), duplicates and
// reorderings in arrays, nested objects, and keys that sort differently as text and as numbers.
const leaf = fc.oneof(fc.constantFrom('', null, undefined, true, false, 0, -1.5, 'a', 'B', 'é', '\u{1F600}'), fc.string(), fc.integer());
const key = fc.oneof(fc.constantFrom('value', 'type', 'primary', 'a', 'Z', '_', 'urn:x:y', '10', '9', '0', '1a', 'é'), fc.string({ maxLength: 4 }));
const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
}));

describe('fingerprints', () => {
  it('hash exactly the JSON of the normalised payload, for any value', () => {
    fc.assert(
      fc.property(valueArb, (v) => {
        expect(fingerprintUser(v as UserInput)).toBe(reference(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('match the reference for payloads as the planner builds them', () => {
    const user: UserInput = {
      userName: 'jdoe@example.com',
      active: true,
      externalId: 'E1',
      name: { givenName: 'J', familyName: 'Doe', formatted: '' },
      emails: [
        { value: 'b@example.com', type: 'home' },
        { value: 'a@example.com', type: 'work', primary: true },
      ],
      title: '',
      enterprise: { department: 'Sales', manager: { value: 'E0' } },
    };
    expect(fingerprintUser(user)).toBe(reference(user));
    expect(fingerprintGroup({ displayName: 'Sales', externalId: 'd1' })).toBe(reference({ displayName: 'Sales', externalId: 'd1' }));
    expect(fingerprintUser({} as UserInput)).toBe(reference({}));
  });
});
