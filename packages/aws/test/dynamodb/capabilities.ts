import type { Capabilities } from '@durably/testing';

/**
 * DynamoDB has no change feed a client can listen on: clients poll for finished runs; it has no clock
 * to offer either (workers run on their NTP-synced machine clocks). SQS cannot delete
 * one message of a queue by id, counts receives (not deliveries), and delays in whole seconds.
 * Declared once, for the conformance suites (conformance.test.ts) and the encrypted runs (encryption.test.ts).
 */
export const capabilities: Capabilities = {
  subscribeFinished: false,
  serverTime: false,
  deadLetters: true,
  removeDeadLetter: false,
  workerLossRecovery: true,
  exactDeliveryCount: false,
  redeliversOnDisconnect: false,
  delayPrecisionMs: 1000,
};
