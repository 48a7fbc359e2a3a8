import { ConfigError, type PayloadCodec } from '@durably/contracts';
import { aesGcmCodec } from './aes-gcm.js';

/** The variable that lists the encryption keys: `k1:<base64>,k2:<base64>`. */
export const KEYS_VARIABLE = 'DURABLY_ENCRYPTION_KEYS';
/** The variable that names the key new payloads are encrypted with (needed with more than one key). */
export const KEY_ID_VARIABLE = 'DURABLY_ENCRYPTION_KEY_ID';

/**
 * The AES-256-GCM codec the environment configures, or undefined when `DURABLY_ENCRYPTION_KEYS` is
 * not set. Throws `ConfigError` naming the variable for a malformed list, a bad key or an unknown
 * `DURABLY_ENCRYPTION_KEY_ID`.
 *
 * @example
 * ```ts
 * import { codecFromEnv } from '@durably/core';
 *
 * // DURABLY_ENCRYPTION_KEYS="k1:<base64>,k2:<base64>" DURABLY_ENCRYPTION_KEY_ID=k2
 * const codec = codecFromEnv(process.env);
 * ```
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadCodec | undefined {
  const list = env[KEYS_VARIABLE]?.trim();
  const current = env[KEY_ID_VARIABLE]?.trim() || undefined;
  if (!list) {
    if (current) throw new ConfigError(`${KEY_ID_VARIABLE} is "${current}" but ${KEYS_VARIABLE} is not set: give the keys as ${KEYS_VARIABLE}="${current}:<base64 of 32 bytes>".`);
    return undefined;
  }
  const keys: Record<string, string> = {};
  for (const entry of list.split(',')) {
    const item = entry.trim();
    const colon = item.indexOf(':');
    if (colon <= 0 || colon === item.length - 1) {
      throw new ConfigError(`${KEYS_VARIABLE} has the entry "${redact(item)}", which is not <keyId>:<base64 key>. Write ${KEYS_VARIABLE}="k1:<base64>,k2:<base64>" (openssl rand -base64 32 makes a key).`);
    }
    const id = item.slice(0, colon);
    if (id in keys) throw new ConfigError(`${KEYS_VARIABLE} lists the key id "${id}" twice; each key id names one key.`);
    keys[id] = item.slice(colon + 1);
  }
  try {
    return aesGcmCodec({ keys, current });
  } catch (err) {
    if (err instanceof ConfigError) err.message = `${err.message} (from ${KEYS_VARIABLE}${current ? ` and ${KEY_ID_VARIABLE}` : ''})`;
    throw err;
  }
}

/** An entry of the key list as a message may show it: the key id only, never key material. */
function redact(item: string): string {
  const colon = item.indexOf(':');
  return colon < 0 ? '***' : `${item.slice(0, colon)}:***`;
}
