/**
 * AD `userAccountControl` flags (MS-ADTS 2.2.16). The attribute is a bit set that also carries
 * policy bits an admin set on purpose (DONT_EXPIRE_PASSWORD, SMARTCARD_REQUIRED, …), so
 * deactivation must flip ACCOUNTDISABLE alone and never write a fixed value.
 */
export const UAC = {
  ACCOUNTDISABLE: 0x2,
  PASSWD_NOTREQD: 0x20,
  NORMAL_ACCOUNT: 0x200,
  DONT_EXPIRE_PASSWORD: 0x10000,
} as const;

function check(uac: number): number {
  // The attribute is a 32-bit unsigned integer; anything else is a parse error upstream.
  if (!Number.isInteger(uac) || uac < 0 || uac > 0xffffffff) {
    throw new Error(`userAccountControl must be a 32-bit unsigned integer, got ${uac}`);
  }
  return uac;
}

export function isDisabled(uac: number): boolean {
  return (check(uac) & UAC.ACCOUNTDISABLE) !== 0;
}

/** `uac` with ACCOUNTDISABLE set or cleared and every other bit unchanged. */
export function withDisabled(uac: number, disabled: boolean): number {
  const v = check(uac);
  // `>>> 0` keeps the result unsigned should bit 31 ever be set (JS bitwise ops are signed 32-bit).
  return (disabled ? v | UAC.ACCOUNTDISABLE : v & ~UAC.ACCOUNTDISABLE) >>> 0;
}
