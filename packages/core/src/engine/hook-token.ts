import { createHash, randomBytes } from 'node:crypto';

/**
 * A new hook token: 192 bits from the CSPRNG, base64url, after a letter that says the hook's kind:
 * `h` single use, `m` multi-use (`create({ multiUse: true })`). The letter also keeps a token from
 * beginning with `-`, which a command line (`durably hooks resume <token>`) would read as an option.
 * The kind cannot be changed by editing the letter: the index is keyed by the hash of the whole token.
 */
export function newHookToken(multiUse = false): string {
  return `${multiUse ? 'm' : 'h'}${randomBytes(24).toString('base64url')}`;
}

/** True for the token of a multi-use hook (made by `newHookToken(true)`). */
export function isMultiUseToken(token: string): boolean {
  return token.length === 33 && token.startsWith('m');
}

/**
 * The key of a token in the storage's hook index: `k` and the SHA-256 of the token, base64url. The
 * index never holds the token itself, so whoever reads it cannot resume a hook.
 */
export function hookIndexKey(token: string): string {
  return `k${createHash('sha256').update(token, 'utf8').digest('base64url')}`;
}

/** True when `value` has the shape of an index key (not of a token): resumeHook never looks one up as a token. */
export function isHookIndexKey(value: string): boolean {
  return /^k[A-Za-z0-9_-]{43}$/.test(value);
}
