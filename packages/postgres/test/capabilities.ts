import { FULL_CAPABILITIES, type Capabilities } from '@durably/testing';

/**
 * Full conformance: LISTEN/NOTIFY tells other clients of finished runs; the broker lists and removes
 * dead letters, counts deliveries exactly and delays to the millisecond.
 * Declared once, for the conformance suites (conformance.test.ts) and the encrypted runs (encryption.test.ts).
 */
export const capabilities: Capabilities = FULL_CAPABILITIES;
