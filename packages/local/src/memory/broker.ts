import { randomUUID } from 'node:crypto';
import {
  type Broker,
  type ConsumeOptions,
  type DeadLetter,
  type Delivery,
  type MessageHandler,
  type PublishOptions,
  type Subscription,
  BrokerError,
  deadLetterReason,
  defaultRetryBackoffMs,
} from '@durably/contracts';

interface Message {
  id: string;
  queue: string;
  body: string;
  deliveryCount: number;
  dedupKey?: string;
}

interface Consumer {
  client: MemoryBroker;
  queue: string;
  handler: MessageHandler;
  concurrency: number;
  visibilityTimeoutMs: number;
  maxDeliveries: number;
  active: boolean;
  running: Set<Promise<void>>;
  /** Deliveries in hand, so that close() can abandon them as a dying process would. */
  holding: Map<string, { message: Message; abandoned: boolean }>;
}

interface QueueState {
  ready: Message[];
  consumers: Consumer[];
  next: number;
  dead: DeadLetter[];
  /** dedupKey -> id of a message still waiting (not yet delivered). */
  waiting: Map<string, string>;
}

/**
 * The shared message state of in-memory brokers. Several MemoryBroker clients on one hub behave like
 * processes sharing a broker server: a client's `close()` abandons its deliveries, which come back to
 * the other clients after the visibility timeout.
 */
export class MemoryBrokerHub {
  private readonly queues = new Map<string, QueueState>();

  constructor(readonly retryBackoffMs: (deliveryCount: number) => number = defaultRetryBackoffMs) {}

  queue(name: string): QueueState {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = { ready: [], consumers: [], next: 0, dead: [], waiting: new Map() }));
    return q;
  }

  private pendingDelays = 0;

  /** No message waiting, delayed or in a handler (tests use it to wait until the system is idle). */
  get idle(): boolean {
    if (this.pendingDelays > 0) return false;
    for (const q of this.queues.values()) {
      if (q.ready.length > 0) return false;
      for (const c of q.consumers) if (c.running.size > 0) return false;
    }
    return true;
  }

  enqueue(message: Message, delayMs: number): void {
    if (delayMs > 0) {
      this.pendingDelays++;
      setTimeout(() => {
        this.pendingDelays--;
        this.makeReady(message);
      }, delayMs).unref();
    } else {
      this.makeReady(message);
    }
  }

  private makeReady(message: Message): void {
    const q = this.queue(message.queue);
    q.ready.push(message);
    this.dispatch(message.queue);
  }

  /** Hands ready messages to consumers with free capacity, round robin. */
  dispatch(queueName: string): void {
    const q = this.queue(queueName);
    while (q.ready.length > 0) {
      const consumer = this.pickConsumer(q);
      if (!consumer) return;
      const message = q.ready.shift()!;
      if (message.dedupKey && q.waiting.get(message.dedupKey) === message.id) q.waiting.delete(message.dedupKey);
      this.deliver(consumer, message);
    }
  }

  private pickConsumer(q: QueueState): Consumer | undefined {
    const n = q.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = q.consumers[(q.next + i) % n];
      if (c.active && c.running.size < c.concurrency) {
        q.next = (q.next + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  private deliver(consumer: Consumer, message: Message): void {
    message.deliveryCount++;
    const delivery: Delivery = { id: message.id, queue: message.queue, body: message.body, deliveryCount: message.deliveryCount };
    const held = { message, abandoned: false };
    consumer.holding.set(message.id, held);
    const run = (async () => {
      try {
        await consumer.handler(delivery);
      } catch (err) {
        if (held.abandoned) return;
        const reason = deadLetterReason(err, message.deliveryCount, consumer.maxDeliveries);
        if (reason !== undefined) {
          this.queue(message.queue).dead.push({ id: message.id, queue: message.queue, body: message.body, reason, deliveryCount: message.deliveryCount, at: Date.now() });
        } else {
          this.enqueue(message, this.retryBackoffMs(message.deliveryCount));
        }
      }
    })();
    const tracked: Promise<void> = run.finally(() => {
      consumer.running.delete(tracked);
      consumer.holding.delete(message.id);
      this.dispatch(message.queue);
    });
    consumer.running.add(tracked);
  }

  /** A delivery whose client died: visible again after the visibility timeout, with its delivery count. */
  abandon(message: Message, visibilityTimeoutMs: number): void {
    setTimeout(() => this.makeReady(message), visibilityTimeoutMs).unref();
  }
}

/** In-memory broker: for tests and `memory:`. Delays are timers; nothing is polled. */
export class MemoryBroker implements Broker {
  readonly maxDelayMs = Infinity;
  readonly hub: MemoryBrokerHub;
  private closed = false;
  private readonly consumers: Consumer[] = [];

  constructor(options: { hub?: MemoryBrokerHub; retryBackoffMs?: (deliveryCount: number) => number } = {}) {
    this.hub = options.hub ?? new MemoryBrokerHub(options.retryBackoffMs);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async migrate(): Promise<void> {}

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new BrokerError('This MemoryBroker is closed.');
    const q = this.hub.queue(queue);
    if (options.dedupKey !== undefined && q.waiting.has(options.dedupKey)) return;
    const message: Message = { id: randomUUID(), queue, body, deliveryCount: 0 };
    if (options.dedupKey !== undefined) {
      message.dedupKey = options.dedupKey;
      q.waiting.set(options.dedupKey, message.id);
    }
    this.hub.enqueue(message, Math.max(0, options.delayMs ?? 0));
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions): Promise<Subscription> {
    if (this.closed) throw new BrokerError('This MemoryBroker is closed.');
    const consumer: Consumer = {
      client: this,
      queue,
      handler,
      concurrency: Math.max(1, options.concurrency),
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000,
      maxDeliveries: options.maxDeliveries ?? 10,
      active: true,
      running: new Set(),
      holding: new Map(),
    };
    this.consumers.push(consumer);
    this.hub.queue(queue).consumers.push(consumer);
    this.hub.dispatch(queue);
    return {
      stop: async () => {
        this.detach(consumer);
        await Promise.allSettled([...consumer.running]);
      },
    };
  }

  private detach(consumer: Consumer): void {
    consumer.active = false;
    const q = this.hub.queue(consumer.queue);
    q.consumers = q.consumers.filter((c) => c !== consumer);
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    return this.hub.queue(queue).dead.slice(0, limit).map((d) => ({ ...d }));
  }

  async removeDeadLetter(queue: string, id: string): Promise<boolean> {
    const dead = this.hub.queue(queue).dead;
    const i = dead.findIndex((d) => d.id === id);
    if (i < 0) return false;
    dead.splice(i, 1);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.consumers) {
      this.detach(c);
      for (const held of c.holding.values()) {
        held.abandoned = true;
        this.hub.abandon(held.message, c.visibilityTimeoutMs);
      }
      c.holding.clear();
      c.running.clear();
    }
  }
}
