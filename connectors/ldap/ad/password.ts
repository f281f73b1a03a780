import { randomInt } from 'node:crypto';

/**
 * AD only accepts a password as a write to `unicodePwd` whose value is the password wrapped in
 * double quotes and encoded UTF-16LE (MS-ADTS 3.1.1.3.1.5.2), and only over an encrypted
 * connection (ldaps or StartTLS); callers must enforce the latter.
 */
export function unicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const DIGIT = '23456789';
// No quote, backslash or whitespace: the password may pass through shells, YAML or CSV on its way
// to the person who needs it.
const SYMBOL = '!#$%&()*+,-./:;<=>?@[]^_{|}~';
const ALL = UPPER + LOWER + DIGIT + SYMBOL;

function pick(chars: string): string {
  return chars[randomInt(chars.length)]!;
}

/**
 * A crypto-random initial password that satisfies AD's default complexity rule (characters from at
 * least three of upper, lower, digit, symbol — we always include all four) so the server never
 * rejects it with a constraint violation.
 */
export function randomPassword(length = 24): string {
  if (!Number.isInteger(length) || length < 8) throw new Error(`password length must be an integer ≥ 8, got ${length}`);
  const chars = [pick(UPPER), pick(LOWER), pick(DIGIT), pick(SYMBOL)];
  while (chars.length < length) chars.push(pick(ALL));
  // Fisher–Yates with a CSPRNG, so the guaranteed classes are not always in the first positions.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
