/**
 * A payload codec turns the payloads a run stores (arguments, results, errors, hook and signal
 * payloads, hook tokens in events, recorded values, checkpoints, schedule arguments) into an
 * envelope before they reach storage, and back when they are read: encryption at rest. The
 * structural fields (ids, names, seq, statuses, times, queues, tags, idempotency keys) stay in clear
 * so indexes, listings and the dashboard's filters work.
 *
 * An envelope is text of the form `enc:<codec>:<keyId>:<body>` (see {@link formatEnvelope}): a
 * serialized value never starts with `enc:` (devalue text starts with `[` or `-`), so a reader tells
 * an envelope from a value written before the codec was turned on, and a reader without the key can
 * say which key it lacks. `aesGcmCodec` from `@durably/core` is the built-in codec.
 *
 * Both methods may return a promise (a codec that calls a key service); the built-in codec is
 * synchronous. They are called once per payload on the hot path, so keep them cheap.
 */
export interface PayloadCodec {
  /** Short name written in every envelope (`aes256gcm`): letters, digits and `-`. */
  readonly name: string;
  /** The key id new envelopes are written with. */
  readonly currentKeyId: string;
  /** The key ids this codec can decode. */
  readonly keyIds: readonly string[];
  /** Wraps one payload (the serialized text storage would have held) into an envelope. */
  encode(plain: string): string | Promise<string>;
  /**
   * Opens an envelope made by `encode` (with this or an earlier current key). Throws
   * `PayloadKeyMissingError` when the envelope's key is not among `keyIds`, and
   * `PayloadDecryptError` when the key is wrong or the envelope was altered.
   */
  decode(envelope: string): string | Promise<string>;
}

/** What every envelope starts with. */
export const ENVELOPE_PREFIX = 'enc:';

const PART = /^[A-Za-z0-9_.-]{1,64}$/;

/** The parts of an envelope: the codec that made it, the key id, and the codec's body. */
export interface EnvelopeParts {
  /** The codec's `name`. */
  codec: string;
  /** The key it was made with. */
  keyId: string;
  /** The codec's own text (for aes256gcm: base64url of IV, ciphertext and tag). */
  body: string;
}

/**
 * Builds an envelope. `codec` and `keyId` must be 1-64 letters, digits, `_`, `.` or `-`; throws
 * `TypeError` otherwise (a codec's construction checks its key ids first, with a clearer message).
 */
export function formatEnvelope(codec: string, keyId: string, body: string): string {
  if (!PART.test(codec) || !PART.test(keyId)) throw new TypeError(`An envelope's codec and key id must be 1-64 of A-Z a-z 0-9 _ . -; got ${JSON.stringify(codec)} and ${JSON.stringify(keyId)}.`);
  return `${ENVELOPE_PREFIX}${codec}:${keyId}:${body}`;
}

/** Whether stored text is an envelope (and not a value stored in clear). */
export function isEnvelope(text: string): boolean {
  return text.startsWith(ENVELOPE_PREFIX);
}

/** The parts of an envelope, or undefined when `text` is not one. */
export function parseEnvelope(text: string): EnvelopeParts | undefined {
  if (!isEnvelope(text)) return undefined;
  const second = text.indexOf(':', ENVELOPE_PREFIX.length);
  const third = second < 0 ? -1 : text.indexOf(':', second + 1);
  if (third < 0) return undefined;
  const codec = text.slice(ENVELOPE_PREFIX.length, second);
  const keyId = text.slice(second + 1, third);
  if (!PART.test(codec) || !PART.test(keyId)) return undefined;
  return { codec, keyId, body: text.slice(third + 1) };
}
