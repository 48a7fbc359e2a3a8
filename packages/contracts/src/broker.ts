/**
 * The broker contract. An adapter implements this interface and proves it by passing
 * `brokerSuite` from `@durably/testing`.
 *
 * Delivery is at-least-once. The engine makes duplicates harmless (every outcome is recorded by a
 * conditional append), so a broker never needs exactly-once; it must never lose an accepted message.
 *
 * Message bodies are opaque strings (the engine's JSON envelope). Queue names are
 * [A-Za-z0-9_.-]{1,100}: adapters may assume it (the engine validates names before use).
 */

export interface PublishOptions {
  /** Deliver no earlier than this many ms from now. Capped at `maxDelayMs`; the engine covers longer delays. */
  delayMs?: number;
  /**
   * Best-effort de-duplication: while a message with the same key is still waiting in the queue, a
   * second publish with that key may be dropped. Brokers without the feature ignore it.
   */
  dedupKey?: string;
}

/** One message as the broker hands it to a {@link MessageHandler}. */
export interface Delivery {
  /** Broker-assigned id, stable across redeliveries of the same message. */
  readonly id: string;
  /** The queue it was published to. */
  readonly queue: string;
  /** The body as published (opaque to the broker). */
  readonly body: string;
  /** 1 on first delivery, incremented on each redelivery. */
  readonly deliveryCount: number;
}

/**
 * Called for each delivered message. Resolving acknowledges (the message is gone for good).
 * Throwing redelivers it after a backoff, until `maxDeliveries` is reached; then it is dead-lettered.
 * Throwing `PoisonMessageError` dead-letters it at once.
 */
export type MessageHandler = (delivery: Delivery) => Promise<void>;

/** How {@link Broker.consume} delivers: how many at once, how long a delivery is held, when to give up. */
export interface ConsumeOptions {
  /** Most handlers running at once for this subscription. */
  concurrency: number;
  /**
   * How long a delivered message stays invisible to other consumers without an ack. While the
   * handler runs in a live process the broker keeps extending it; when the process dies the message
   * becomes visible again after at most this long. Default 30 s.
   */
  visibilityTimeoutMs?: number;
  /** Deliveries before a failing message is dead-lettered. Default 10. */
  maxDeliveries?: number;
}

/** A running {@link Broker.consume}; stop it to stop taking messages. */
export interface Subscription {
  /** Stops taking new messages and waits for running handlers to settle (their acks are kept). */
  stop(): Promise<void>;
}

/**
 * A message the broker gave up on (it failed `maxDeliveries` times, or its handler threw
 * `PoisonMessageError`), as listed by {@link Broker.deadLetters}.
 */
export interface DeadLetter {
  /** Id to pass to `removeDeadLetter`. */
  id: string;
  /** The queue the message was published to. */
  queue: string;
  /** The message body, unchanged: publishing it again retries it. */
  body: string;
  /** Why it was dead-lettered: the last handler error's message, or the poison reason. */
  reason: string;
  /** How many times it was delivered before it was given up. */
  deliveryCount: number;
  /** When it was dead-lettered, epoch milliseconds. */
  at: number;
}

/**
 * The broker contract: at-least-once delivery of the engine's task messages, with delays and a
 * dead-letter queue. Implemented by the adapters (`memory:`, `file:`, `postgres://`, `redis://`,
 * `amqp://`, `sqs://`) and proven by `brokerSuite` from `@durably/testing`. A broker must never lose an
 * accepted message; duplicates are harmless (the engine fences every outcome with a conditional append).
 * Methods may throw `BrokerError` with the driver's error as `cause` when the backend fails.
 *
 * @example
 * ```ts
 * import { brokerFromUrl } from '@durably/core';
 *
 * const broker = await brokerFromUrl('memory:');
 * await broker.migrate();
 * const sub = await broker.consume('jobs', async (d) => console.log(d.body, d.deliveryCount), { concurrency: 4 });
 * await broker.publish('jobs', 'hello', { delayMs: 1_000 });
 * await sub.stop();
 * ```
 */
export interface Broker {
  /** Longest `delayMs` the backend honours natively (Infinity when unbounded). */
  readonly maxDelayMs: number;

  /** Creates queues, tables or streams it needs. Idempotent. */
  migrate(): Promise<void>;

  /**
   * Accepts a message durably: when the promise resolves the message survives a crash of this
   * process and (for server brokers) a restart of the server with persistence on.
   */
  publish(queue: string, body: string, options?: PublishOptions): Promise<void>;

  /**
   * Delivers messages of `queue` to `handler`, at most `concurrency` at a time, each visible to one
   * consumer at a time (across processes) until acked or its visibility timeout passes.
   * Delayed messages are delivered once due. Blocks or listens when idle; does not busy-poll.
   */
  consume(queue: string, handler: MessageHandler, options: ConsumeOptions): Promise<Subscription>;

  /** Dead-lettered messages of `queue`, oldest first. */
  deadLetters(queue: string, limit?: number): Promise<DeadLetter[]>;

  /**
   * Optional. Deletes one dead letter (by its `id` from `deadLetters`); resolves false when there is
   * none. `durably dead-letters retry` publishes the body again first, then removes it, so a crash
   * between the two leaves a duplicate (harmless) and never a loss.
   */
  removeDeadLetter?(queue: string, id: string): Promise<boolean>;

  /**
   * Closes connections at once. Deliveries still being handled are abandoned, as if the process
   * died: they are neither acked nor nacked, and come back after their visibility timeout.
   */
  close(): Promise<void>;
}
