import type { Channel, ConsumeMessage } from 'amqplib';
import { deadLetterReason, type Delivery, type Logger, type MessageHandler } from '@durably/contracts';
import type { Link } from './connection.js';
import { decodeBody, deliveryCountOf, envelopeOf, type Envelope } from './envelope.js';
import { Lease } from './lease.js';
import type { QueueType } from './options.js';
import type { Publisher } from './publisher.js';
import type { Topology } from './topology.js';

export interface ConsumerSettings {
  concurrency: number;
  visibilityTimeoutMs: number;
  maxDeliveries: number;
  retryBackoffMs: (deliveryCount: number) => number;
  queueType: QueueType;
  /** The server's consumer_timeout; 0 when off. */
  consumerTimeoutMs: number;
}

interface Entry {
  msg: ConsumeMessage;
  /** When it was delivered: RabbitMQ's consumer timeout counts from then. */
  deliveredAt: number;
  /** The channel it came on: acks go only to that channel, and lapse with it. */
  generation: number;
  envelope: Envelope;
  deliveryCount: number;
  lease?: Lease;
  handover?: NodeJS.Timeout;
  /** A hand-over in progress: settling waits for it, so that the message is acked once, by one path. */
  handingOver?: Promise<void>;
  settling?: boolean;
  acked?: boolean;
}

/**
 * One subscription: a channel of its own with a per-consumer prefetch equal to the concurrency, so
 * the server hands it at most that many unacked messages, and each starts its handler at once.
 * Manual acks; a handler that resolves acks its message. One that throws has a copy published (with
 * its delivery count, after the backoff, through the delay ladder) or dead-lettered, and only then
 * is the original acked: a crash in between delivers it twice, never zero times.
 *
 * A message's delivery count is the deliveries recorded in it plus the server's returns of this copy
 * (`x-delivery-count`, quorum queues). Classic queues do not count returns, only flag them
 * (`redelivered`): a redelivered message there is copied with its count raised and acked, and the
 * copy is what gets handled. Either way a message past `maxDeliveries` (its consumers kept dying) and
 * one whose body is not UTF-8 go to the dead-letter queue without reaching the handler.
 *
 * When the channel or the connection drops, the server gives every unacked message of this consumer
 * to other consumers; handlers still running here finish, but neither ack nor retry (the server has
 * the message back). The consumer opens a new channel and subscribes again as soon as it can.
 */
export class Consumer {
  private channel?: Channel;
  private tag?: string;
  private generation = 0;
  private active = true;
  private abandoned = false;
  /** Deliveries whose handler runs (or that are being settled), with the promise of their end. */
  private readonly running = new Map<ConsumeMessage, { entry: Entry; done: Promise<void> }>();
  /**
   * Delivered but waiting for a free slot. Only while a hand-over lowers the prefetch: deliveries
   * made under the old prefetch wait here for the handlers before them.
   */
  private readonly waiting: Array<{ msg: ConsumeMessage; deliveredAt: number; timer?: NodeJS.Timeout }> = [];
  private readonly releasing = new Set<Promise<void>>();
  private held = 0;
  private subscribing: Promise<void> = Promise.resolve();
  private lastChannelError?: Error;
  /** Subscribed once: from then on a lost channel is reopened (before, the caller of consume() gets the error). */
  private started = false;
  private reopening = false;

  constructor(
    private readonly link: Link,
    private readonly topology: Topology,
    private readonly publisher: Publisher,
    readonly queue: string,
    private readonly handler: MessageHandler,
    private readonly settings: ConsumerSettings,
    private readonly logger: Logger,
  ) {}

  /** Declares the queue and subscribes; fails with a BrokerError when that cannot be done now. */
  async start(): Promise<void> {
    try {
      await this.topology.ensureQueue(this.queue);
      await this.open();
    } catch (err) {
      const channel = this.channel;
      this.channel = undefined;
      if (channel) await channel.close().catch(() => undefined);
      if (!this.started) this.active = false;
      throw err;
    }
    this.started = true;
  }

  private async open(): Promise<void> {
    const channel = await this.link.channel(false);
    const generation = ++this.generation;
    this.channel = channel;
    channel.on('error', (err: Error) => (this.lastChannelError = err));
    channel.on('close', () => this.onChannelClosed(generation));
    await this.subscribe(channel);
  }

  /** (Re)subscribes with the prefetch the slots allow: concurrency minus handed-over handlers still running. */
  private subscribe(channel: Channel): Promise<void> {
    this.subscribing = this.subscribing.catch(() => undefined).then(async () => {
      if (!this.active || channel !== this.channel) return;
      if (this.tag) {
        const tag = this.tag;
        this.tag = undefined;
        await channel.cancel(tag);
      }
      const prefetch = this.settings.concurrency - this.held;
      if (prefetch <= 0) return; // every slot is a handed-over handler: take nothing until one settles
      await channel.prefetch(prefetch, false);
      const { consumerTag } = await channel.consume(this.topology.names.workQueue(this.queue), (msg) => this.onMessage(channel, msg), { noAck: false });
      this.tag = consumerTag;
    });
    return this.subscribing;
  }

  private onMessage(channel: Channel, msg: ConsumeMessage | null): void {
    if (channel !== this.channel || this.abandoned) return;
    if (msg === null) {
      // The server cancelled the subscription (its queue was deleted, say): declare it, subscribe again.
      this.tag = undefined;
      if (this.active) {
        this.logger.warn('RabbitMQ cancelled a consumer; subscribing again', { queue: this.queue });
        this.topology.forget(this.queue);
        void this.resubscribe(channel);
      }
      return;
    }
    if (!this.active) {
      this.release(msg, channel);
      return;
    }
    const deliveredAt = Date.now();
    if (this.running.size < this.settings.concurrency) {
      this.begin(msg, deliveredAt);
      return;
    }
    const wait: (typeof this.waiting)[number] = { msg, deliveredAt };
    if (this.settings.consumerTimeoutMs > 0) {
      // Waiting counts towards the consumer timeout too: past half of it, let another consumer have it.
      wait.timer = setTimeout(() => {
        const i = this.waiting.indexOf(wait);
        if (i >= 0 && this.channel === channel) {
          this.waiting.splice(i, 1);
          this.release(msg, channel);
        }
      }, this.settings.consumerTimeoutMs / 2);
      wait.timer.unref();
    }
    this.waiting.push(wait);
  }

  private begin(msg: ConsumeMessage, deliveredAt: number): void {
    const entry: Entry = { msg, deliveredAt, generation: this.generation, envelope: envelopeOf(msg), deliveryCount: deliveryCountOf(msg) };
    const done = this.handle(entry)
      .catch((err) => this.logger.error('settling a delivery failed', { queue: this.queue, error: (err as Error).message }))
      .finally(() => {
        clearTimeout(entry.handover);
        this.running.delete(msg);
        if (entry.lease) {
          this.held--;
          if (this.channel && this.active) void this.subscribe(this.channel).catch(() => undefined);
        }
        this.pump();
      });
    this.running.set(msg, { entry, done });
  }

  private pump(): void {
    while (this.active && this.waiting.length > 0 && this.running.size < this.settings.concurrency) {
      const wait = this.waiting.shift()!;
      clearTimeout(wait.timer);
      this.begin(wait.msg, wait.deliveredAt);
    }
  }

  private async handle(entry: Entry): Promise<void> {
    const { msg, envelope } = entry;
    if (this.settings.queueType === 'classic' && msg.fields.redelivered) {
      // Classic queues do not count redeliveries: count this one in a copy, which is handled instead.
      await this.replace(entry, { ...envelope, deliveries: envelope.deliveries + 1 });
      return;
    }
    const body = decodeBody(msg.content);
    if (body === undefined) return this.deadLetter(entry, 'undecodable: the message body is not UTF-8 text');
    if (entry.deliveryCount > this.settings.maxDeliveries) {
      return this.deadLetter(
        entry,
        `delivered ${entry.deliveryCount} times (maxDeliveries ${this.settings.maxDeliveries}) without being settled: its consumers died or were closed while handling it`,
      );
    }
    if (this.settings.consumerTimeoutMs > 0) {
      const due = entry.deliveredAt + this.settings.consumerTimeoutMs / 2 - Date.now();
      entry.handover = setTimeout(() => this.handOver(entry), Math.max(0, due));
      entry.handover.unref();
    }
    const delivery: Delivery = { id: envelope.id, queue: this.queue, body, deliveryCount: entry.deliveryCount };
    let failed = false;
    let failure: unknown;
    try {
      await this.handler(delivery);
    } catch (err) {
      failed = true;
      failure = err;
    }
    entry.settling = true;
    clearTimeout(entry.handover);
    await entry.handingOver;
    if (this.abandoned) return;
    if (!failed) {
      if (entry.lease) await entry.lease.release();
      else this.ack(entry);
      return;
    }
    const reason = deadLetterReason(failure, entry.deliveryCount, this.settings.maxDeliveries);
    if (reason !== undefined) return this.deadLetter(entry, reason);
    const copy = { ...envelope, deliveries: entry.deliveryCount };
    await this.replace(entry, copy, this.settings.retryBackoffMs(entry.deliveryCount));
  }

  /** Publishes `copy` to the work queue (after `delayMs`), then settles the original. */
  private async replace(entry: Entry, copy: Envelope, delayMs = 0): Promise<void> {
    if (!this.holdsMessage(entry)) return;
    try {
      await this.publisher.toQueue(this.queue, copy, delayMs);
    } catch (err) {
      this.giveBack(entry, err);
      return;
    }
    await this.settle(entry);
  }

  private async deadLetter(entry: Entry, reason: string): Promise<void> {
    if (!this.holdsMessage(entry)) return;
    try {
      await this.publisher.toDeadLetters(this.queue, { ...entry.envelope, deliveries: entry.deliveryCount }, reason);
    } catch (err) {
      this.giveBack(entry, err);
      return;
    }
    await this.settle(entry);
  }

  /** Whether this consumer can still settle the message (else the server has given it back already). */
  private holdsMessage(entry: Entry): boolean {
    return !this.abandoned && (entry.lease !== undefined || entry.generation === this.generation);
  }

  private async settle(entry: Entry): Promise<void> {
    if (entry.lease) await entry.lease.release();
    else this.ack(entry);
  }

  private ack(entry: Entry): void {
    if (entry.acked || entry.generation !== this.generation || !this.channel) return; // that channel is gone: so is the delivery
    entry.acked = true;
    try {
      this.channel.ack(entry.msg);
    } catch {
      // Closed meanwhile: the server gives the message to another consumer.
    }
  }

  /** The copy could not be published: hand the original back to the queue rather than keep a slot. */
  private giveBack(entry: Entry, err: unknown): void {
    this.logger.warn('could not republish a failed delivery; returning it to the queue', { queue: this.queue, error: (err as Error).message });
    if (entry.lease) return; // its copy comes back after the lease TTL
    if (entry.generation !== this.generation || !this.channel) return;
    try {
      this.channel.nack(entry.msg, false, true);
    } catch {
      // Closed meanwhile: returned by the server anyway.
    }
  }

  /** A delivery not handled here: publish it again as it was (count unchanged), then ack it. */
  private release(msg: ConsumeMessage, channel: Channel): void {
    const envelope = envelopeOf(msg);
    const before = this.settings.queueType === 'classic' && msg.fields.redelivered ? envelope.deliveries + 1 : deliveryCountOf(msg) - 1;
    const done = (async () => {
      try {
        await this.publisher.toQueue(this.queue, { ...envelope, deliveries: before });
        channel.ack(msg);
      } catch {
        // Left unacked: closing the channel gives it back.
      }
    })().finally(() => this.releasing.delete(done));
    this.releasing.add(done);
  }

  /**
   * Half the consumer timeout has passed and the handler still runs: move the message to a lease
   * (see lease.ts) and ack the original before the server closes the channel. The handler keeps its
   * slot: the subscription's prefetch goes down by one until it settles.
   */
  private handOver(entry: Entry): void {
    if (this.abandoned || entry.lease || entry.handingOver || entry.settling || entry.generation !== this.generation) return;
    entry.handingOver = (async () => {
      const lease = new Lease(this.topology, this.publisher, this.queue, { ...entry.envelope, deliveries: entry.deliveryCount }, this.settings.visibilityTimeoutMs, this.logger);
      try {
        await lease.take();
      } catch (err) {
        this.logger.warn('could not hand over a long-running delivery before the consumer timeout', { queue: this.queue, error: (err as Error).message });
        return;
      }
      if (this.abandoned) {
        lease.abandon();
        return;
      }
      this.ack(entry);
      entry.lease = lease;
      this.held++;
      this.logger.info('a handler runs past half the consumer timeout: its message moved to a lease queue', { queue: this.queue, id: entry.envelope.id });
      if (this.channel && this.active) void this.subscribe(this.channel).catch(() => undefined);
    })();
  }

  private onChannelClosed(generation: number): void {
    if (generation !== this.generation) return;
    this.channel = undefined;
    this.tag = undefined;
    // Waiting deliveries lapse with the channel: the server has them back.
    for (const wait of this.waiting.splice(0)) clearTimeout(wait.timer);
    if (this.abandoned || !this.active || !this.started || this.link.isClosed) return;
    const reason = this.lastChannelError?.message;
    this.lastChannelError = undefined;
    if (reason && /acknowledgement .* timed out/.test(reason)) {
      this.logger.error("RabbitMQ closed a consumer channel on its consumer_timeout: set consumerTimeoutMs to the server's consumer_timeout", { queue: this.queue, error: reason });
    } else {
      this.logger.warn('lost a consumer channel; subscribing again', { queue: this.queue, error: reason ?? 'connection closed' });
    }
    void this.reopen();
  }

  /** A new channel and subscription, with backoff, until it works or the consumer stops. */
  private async reopen(): Promise<void> {
    if (this.reopening) return;
    this.reopening = true;
    try {
      for (let attempt = 0; this.active && !this.abandoned && !this.link.isClosed && !this.channel; attempt++) {
        try {
          await this.start();
          this.logger.info('subscribed again', { queue: this.queue });
          return;
        } catch (err) {
          if (attempt === 0) this.logger.warn('could not subscribe again yet; retrying', { queue: this.queue, error: (err as Error).message });
          await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5000)));
        }
      }
    } finally {
      this.reopening = false;
    }
  }

  /** The server cancelled the subscription, the channel lives on: declare the queue and consume again. */
  private async resubscribe(channel: Channel): Promise<void> {
    for (let attempt = 0; this.active && !this.abandoned && this.channel === channel; attempt++) {
      try {
        await this.topology.ensureQueue(this.queue);
        await this.subscribe(channel);
        return;
      } catch (err) {
        if (attempt === 0) this.logger.warn('could not subscribe again yet; retrying', { queue: this.queue, error: (err as Error).message });
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5000)));
      }
    }
  }

  /** Takes no new messages, waits for running handlers (their acks are kept), then closes the channel. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.abandoned) return; // closed: its handlers' outcomes no longer matter here
    const channel = this.channel;
    await this.subscribing.catch(() => undefined);
    if (channel && this.tag) {
      const tag = this.tag;
      this.tag = undefined;
      await channel.cancel(tag).catch(() => undefined);
    }
    for (const wait of this.waiting.splice(0)) {
      clearTimeout(wait.timer);
      if (channel) this.release(wait.msg, channel);
    }
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await Promise.allSettled([...this.releasing]);
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  /** As if the process died: no ack, no nack, no more lease renewals; the server takes the messages back. */
  abandon(): void {
    this.abandoned = true;
    this.active = false;
    for (const { entry } of this.running.values()) {
      clearTimeout(entry.handover);
      entry.lease?.abandon();
    }
    this.running.clear();
    for (const wait of this.waiting.splice(0)) clearTimeout(wait.timer);
    const channel = this.channel;
    this.channel = undefined;
    // On a connection the broker owns, closing the connection does this; on a caller's, it is needed.
    if (channel) void channel.close().catch(() => undefined);
  }
}
