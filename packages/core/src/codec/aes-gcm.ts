import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError, PayloadDecryptError, PayloadKeyMissingError, formatEnvelope, parseEnvelope, type PayloadCodec } from '@durably/contracts';

/** Options of {@link aesGcmCodec}. */
export interface AesGcmCodecOptions {
  /**
   * Every key the process may need, by key id: the current one, and the retired ones that stored
   * data may still use. Each is 32 bytes, as a Buffer/Uint8Array or as base64 text
   * (`openssl rand -base64 32`). Key ids are 1-64 of `A-Z a-z 0-9 _ . -`.
   */
  keys: Record<string, Uint8Array | string>;
  /** The key id new payloads are encrypted with; must be in `keys`. Default: the only key, when there is one. */
  current?: string;
}

const NAME = 'aes256gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The built-in payload codec: AES-256-GCM from node:crypto. Each payload gets a fresh random 96-bit
 * IV; the envelope is `enc:aes256gcm:<keyId>:<base64url(iv | ciphertext | tag)>`, and the key id is
 * also authenticated (additional data), so an envelope cannot be moved to another key id. Rotation:
 * add the new key, make it `current`, keep the old ones for as long as stored data uses them.
 * Throws `ConfigError` for a key that is not 32 bytes, a malformed key id, or a `current` not in `keys`.
 *
 * @example
 * ```ts
 * import { aesGcmCodec, connect } from '@durably/core';
 *
 * const codec = aesGcmCodec({ keys: { k1: process.env.OLD_KEY!, k2: process.env.NEW_KEY! }, current: 'k2' });
 * const client = await connect({ storage: 'memory:', broker: 'memory:', codec });
 * ```
 */
export function aesGcmCodec(options: AesGcmCodecOptions): PayloadCodec {
  const keys = new Map<string, Buffer>();
  for (const [id, raw] of Object.entries(options.keys ?? {})) {
    if (!KEY_ID.test(id)) throw new ConfigError(`The encryption key id ${JSON.stringify(id)} is not valid: use 1-64 letters, digits, "_", "." or "-".`);
    keys.set(id, keyBytes(id, raw));
  }
  if (keys.size === 0) throw new ConfigError('aesGcmCodec needs at least one key: aesGcmCodec({ keys: { k1: "<base64 of 32 bytes>" } }). Make one with: openssl rand -base64 32');
  const current = options.current ?? (keys.size === 1 ? [...keys.keys()][0] : undefined);
  if (current === undefined) throw new ConfigError(`aesGcmCodec has ${keys.size} keys (${[...keys.keys()].join(', ')}): say which one encrypts new payloads with "current" (DURABLY_ENCRYPTION_KEY_ID).`);
  const currentKey = keys.get(current);
  if (!currentKey) throw new ConfigError(`The current encryption key "${current}" is not among the keys given (${[...keys.keys()].join(', ')}). Add it, or name one of those.`);
  const currentAad = Buffer.from(current, 'utf8');
  const keyIds = [...keys.keys()];

  return {
    name: NAME,
    currentKeyId: current,
    keyIds,
    encode(plain: string): string {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      cipher.setAAD(currentAad);
      const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return formatEnvelope(NAME, current, body.toString('base64url'));
    },
    decode(envelope: string): string {
      const parts = parseEnvelope(envelope);
      if (!parts) throw new PayloadDecryptError('(unknown)', 'the stored text is not an envelope');
      if (parts.codec !== NAME) throw new PayloadDecryptError(parts.keyId, `it was written by the codec "${parts.codec}", not ${NAME}`);
      const key = keys.get(parts.keyId);
      if (!key) throw new PayloadKeyMissingError(parts.keyId, keyIds, NAME);
      const body = Buffer.from(parts.body, 'base64url');
      if (body.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptError(parts.keyId, 'the envelope is truncated');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(parts.keyId, 'utf8'));
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch (err) {
        throw new PayloadDecryptError(parts.keyId, 'authentication failed', { cause: err });
      }
    },
  };
}

function keyBytes(id: string, raw: Uint8Array | string): Buffer {
  let bytes: Buffer;
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new ConfigError(`The encryption key "${id}" is not base64 text. Give 32 random bytes in base64: openssl rand -base64 32`);
    bytes = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  } else {
    bytes = Buffer.from(raw);
  }
  if (bytes.length !== 32) throw new ConfigError(`The encryption key "${id}" is ${bytes.length} bytes; AES-256 needs exactly 32 (openssl rand -base64 32 makes one).`);
  return bytes;
}
