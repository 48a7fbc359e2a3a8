import { FULL_CAPABILITIES, type Capabilities } from '@durably/testing';

/**
 * What the in-process backends offer. Neither storage pushes finished runs (clients poll); both brokers
 * list and remove dead letters, count deliveries exactly, and delay to the millisecond.
 * Declared once, for the conformance suites (conformance.test.ts) and the encrypted runs (encryption.test.ts).
 */
export const capabilities: Capabilities = { ...FULL_CAPABILITIES, subscribeFinished: false };
