import { FULL_CAPABILITIES, type Capabilities } from '@durably/testing';

/**
 * Full conformance: Redis pub/sub tells other clients of finished runs (a cluster broadcasts it to
 * every node); the broker lists and removes dead letters, counts deliveries exactly and delays to the
 * millisecond. Declared once, for the conformance suites (conformance.test.ts,
 * cluster-conformance.test.ts) and the encrypted runs (encryption.test.ts).
 */
export const capabilities: Capabilities = FULL_CAPABILITIES;
