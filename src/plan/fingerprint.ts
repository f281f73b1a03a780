import { createHash } from 'node:crypto';
import { canonicalJson, normalizeValue } from '../core/attributes.js';
import type { GroupInput, UserInput } from '../core/model.js';

/**
 * Fingerprints are hashes of the *normalised* desired payload, so two payloads that compare equal
 * (reordered emails, '' vs unset) always hash equal. State stores them after a successful write;
 * they are advisory (a delta-reading target may skip reads with them) — comparison decides changes.
 */
function hash(value: unknown): string {
  return createHash('sha1').update(canonicalJson(normalizeValue(value))).digest('hex');
}

export function fingerprintUser(desired: UserInput): string {
  return hash(desired);
}

export function fingerprintGroup(desired: GroupInput): string {
  return hash(desired);
}
