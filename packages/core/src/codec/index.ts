export { aesGcmCodec, type AesGcmCodecOptions } from './aes-gcm.js';
export { EncryptedStorage, encryptStorage, ENCRYPTED_ERROR_NAME } from './encrypt-storage.js';
export { codecFromEnv, KEYS_VARIABLE, KEY_ID_VARIABLE } from './env.js';
export { EVENT_PAYLOADS, type PayloadCoder } from './payload-fields.js';
