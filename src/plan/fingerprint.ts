import { createHash } from 'node:crypto';
import { normalizeValue } from '../core/attributes.js';
import type { GroupInput, UserInput } from '../core/model.js';

/**
 * Fingerprints are hashes of the *normalised* desired payload, so two payloads that compare equal
 * (reordered emails, '' vs unset) always hash equal. State stores them after a successful write;
 * they are advisory (a delta-reading target may skip reads with them) — comparison decides changes.
 */
function hash(value: unknown): string {
  // normalizeValue already rebuilds every object with sorted keys (and sorts arrays), so the
  // native JSON.stringify gives canonicalJson's bytes at a fraction of its cost — the same hashes
  // as before, which keeps fingerprints stored by earlier versions valid. (They would differ only
  // for integer-like keys, which JSON.stringify moves first; no model attribute has one.)
  return createHash('sha1').update(JSON.stringify(normalizeValue(value)) ?? 'null').digest('hex');
}

export function fingerprintUser(desired: UserInput): string {
  return hash(desired);
}

export function fingerprintGroup(desired: GroupInput): string {
  return hash(desired);
}
