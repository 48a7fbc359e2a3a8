import { randomBytes } from 'node:crypto';

/**
 * A new hook token: 192 bits from the CSPRNG, base64url, after the letter `h`. The letter keeps a token
 * from beginning with `-`, which a command line (`durably hooks resume <token>`) would read as an option.
 */
export function newHookToken(): string {
  return `h${randomBytes(24).toString('base64url')}`;
}
