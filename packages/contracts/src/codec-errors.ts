import { DurablyError } from './errors.js';

/**
 * A stored payload is encrypted with a key this process does not have: the codec has no key of that
 * id, or no codec is configured at all. Nothing was changed; give the process the key (keep retired
 * keys for as long as stored data uses them) and read again.
 */
export class PayloadKeyMissingError extends DurablyError {
  override readonly code = 'PAYLOAD_KEY_MISSING' as const;
  constructor(
    readonly keyId: string,
    readonly knownKeyIds: readonly string[],
    readonly codec?: string,
  ) {
    super(
      `A stored payload is encrypted (${codec ?? 'unknown codec'}, key "${keyId}") and ` +
        (knownKeyIds.length ? `this process has no key "${keyId}" (it has ${knownKeyIds.map((k) => `"${k}"`).join(', ')}). ` : 'this process has no payload codec. ') +
        `Add the key to DURABLY_ENCRYPTION_KEYS ("${keyId}:<base64 of 32 bytes>,...") or to aesGcmCodec({ keys }), and keep retired keys while stored data still uses them.`,
    );
  }
}

/**
 * A stored envelope did not open: the key of its id is not the key it was made with, or the stored
 * text was altered (AES-GCM authenticates every byte). Nothing was changed.
 */
export class PayloadDecryptError extends DurablyError {
  override readonly code = 'PAYLOAD_DECRYPT_FAILED' as const;
  constructor(
    readonly keyId: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `A stored payload encrypted with key "${keyId}" cannot be decrypted: ${reason}. ` +
        `Either the key configured under "${keyId}" is not the one the payload was encrypted with (check DURABLY_ENCRYPTION_KEYS), or the stored data was altered.`,
      options,
    );
  }
}
