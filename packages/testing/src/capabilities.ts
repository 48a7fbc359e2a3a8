import { it, type TestContext } from 'vitest';

/**
 * What a backend under test offers, declared by the adapter's test file and read by the conformance
 * suites (the model: unstorage's driver flags). The suites assume full conformance: a feature is
 * skipped only when it is declared absent (`false`), and the skip names it. Declaring a feature
 * present that the backend lacks fails the test that needs it, with a message saying what to declare.
 *
 * Two kinds of entries:
 * - Features (booleans, default `true`): an optional part of a contract. Declared `false`, the tests
 *   that need it are skipped with the note "capability <name> declared absent".
 * - Behaviours (default as listed): how the backend meets a guarantee. They choose which of two
 *   correct expectations a test holds the backend to; nothing is skipped.
 */
export interface Capabilities {
  /** Feature (storage). `Storage.subscribeFinished`: clients on other connections hear of runs that finish (Postgres LISTEN, Redis pub/sub). */
  subscribeFinished: boolean;
  /**
   * Feature (storage). `Storage.serverTime`: the storage's own clock, which the engine's clock follows
   * (Postgres, Redis; the embedded storages answer the machine's). DynamoDB has none.
   */
  serverTime: boolean;
  /** Feature (broker). `Broker.deadLetters` lists a queue's dead letters (poison messages, too many deliveries). */
  deadLetters: boolean;
  /** Feature (broker). `Broker.removeDeadLetter` deletes one dead letter by id. */
  removeDeadLetter: boolean;
  /**
   * Feature (engine). A worker whose process dies mid-step loses its run to another worker through the
   * step's lease (`stepLease`), with the interruption recorded and `maxRecoveryAttempts` counted.
   */
  workerLossRecovery: boolean;
  /**
   * Behaviour (broker), default `true`. The delivery count is exact. `false` for brokers that count
   * receives instead (SQS's ApproximateReceiveCount): a receive in flight when its consumer dies may
   * take the message once more without delivering it, so after a crash the count is at least, not
   * exactly, one higher.
   */
  exactDeliveryCount: boolean;
  /**
   * Behaviour (broker), default `false`. The server gives a dead client's unacked deliveries back as
   * soon as it sees the connection close (RabbitMQ), not after a visibility timeout: the test of a
   * dead consumer then checks that the message comes back, and not that it waited.
   */
  redeliversOnDisconnect: boolean;
  /**
   * Behaviour (broker), default `0`. How late a delayed message may come, beyond its delay, because
   * the broker delays in coarser steps (SQS rounds a delay up to whole seconds: 1000). Timing bounds on
   * delayed messages and on broker-delivered wake-ups are widened by it.
   */
  delayPrecisionMs: number;
}

/** The names of the boolean features, which a test can require. */
export type Feature = 'subscribeFinished' | 'serverTime' | 'deadLetters' | 'removeDeadLetter' | 'workerLossRecovery';

/** Full conformance: what a suite assumes of a backend that declares nothing. */
export const FULL_CAPABILITIES: Readonly<Capabilities> = Object.freeze({
  subscribeFinished: true,
  serverTime: true,
  deadLetters: true,
  removeDeadLetter: true,
  workerLossRecovery: true,
  exactDeliveryCount: true,
  redeliversOnDisconnect: false,
  delayPrecisionMs: 0,
});

/** Every entry a suite reads, from what was declared (the rest: full conformance). */
export function resolveCapabilities(declared: Partial<Capabilities> = {}): Readonly<Capabilities> {
  const known = Object.keys(FULL_CAPABILITIES);
  for (const key of Object.keys(declared)) {
    if (!known.includes(key)) throw new TypeError(`Unknown capability "${key}" in the suite options. Known: ${known.join(', ')}.`);
  }
  const resolved = { ...FULL_CAPABILITIES };
  for (const [key, value] of Object.entries(declared) as Array<[keyof Capabilities, Capabilities[keyof Capabilities] | undefined]>) {
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value;
  }
  if (!(resolved.delayPrecisionMs >= 0)) throw new TypeError(`capabilities.delayPrecisionMs must be a number of milliseconds >= 0; got ${String(declared.delayPrecisionMs)}.`);
  return Object.freeze(resolved);
}

type Body = (ctx: TestContext) => unknown;

/**
 * `it`, for a test that needs `features`: registered always (the test count is the same on every
 * backend), skipped at run time, with a note naming them, when one is declared absent.
 */
export function itNeeds(capabilities: Readonly<Capabilities>, features: Feature | Feature[], title: string, body: Body, timeout?: number): void {
  const needed = Array.isArray(features) ? features : [features];
  it(
    title,
    async (ctx) => {
      const absent = needed.filter((f) => !capabilities[f]);
      if (absent.length > 0) ctx.skip(`capability ${absent.join(', ')} declared absent`);
      await body(ctx);
    },
    timeout,
  );
}

/** The error a test throws when a backend lacks a feature it was not declared without. */
export function undeclaredAbsence(feature: Feature, what: string): Error {
  return new Error(`${what} is missing, but the capability "${feature}" was not declared absent: implement it, or pass capabilities: { ${feature}: false } to the suite.`);
}
