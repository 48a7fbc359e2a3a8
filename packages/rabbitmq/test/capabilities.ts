import type { Capabilities } from '@durably/testing';

/**
 * What the RabbitMQ broker offers the engine suite: it returns a closed connection's deliveries at
 * once and cannot delete one dead letter by id. Each pair adds its storage's `subscribeFinished`
 * (Postgres pushes finished runs, memory storage does not).
 */
export const rabbit: Omit<Capabilities, 'subscribeFinished'> = {
  serverTime: true,
  deadLetters: true,
  removeDeadLetter: false,
  workerLossRecovery: true,
  exactDeliveryCount: true,
  redeliversOnDisconnect: true,
  delayPrecisionMs: 0,
};
