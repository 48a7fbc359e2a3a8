import {
  BrokerError,
  jsonLogger,
  defaultRetryBackoffMs,
  InvalidArgumentError,
  type Broker,
  type ConsumeOptions,
  type DeadLetter,
  type Logger,
  type MessageHandler,
  type PublishOptions,
  type Subscription,
} from '@durably/contracts';
import { Link } from './connection.js';
import { Consumer } from './consumer.js';
import { readDeadLetters } from './dead-letters.js';
import { DELAY_LEVELS, MAX_DELAY_MS } from './delay.js';
import { newEnvelope } from './envelope.js';
import { resolveOptions, type RabbitMQBrokerOptions, type ResolvedOptions } from './options.js';
import { Publisher } from './publisher.js';
import { dropTopology, Names, Topology } from './topology.js';

/**
 * A RabbitMQ broker: durable queues (quorum by default), persistent messages, publisher confirms,
 * manual acks with a prefetch equal to the consumer's concurrency, delays through a ladder of TTL
 * queues (no plugin, no head-of-line blocking; see delay.ts), poison messages and messages over
 * their delivery limit in a dead-letter queue per queue. Reconnects by itself. The topology is in
 * topology.ts, and docs/backends/rabbitmq.md describes it all.
 */
export class RabbitMQBroker implements Broker {
  /** 2^28 - 1 ms (about 3.1 days), the ladder's longest delay; the engine carries longer ones over. */
  readonly maxDelayMs = MAX_DELAY_MS;
  private readonly options: ResolvedOptions;
  private readonly logger: Logger;
  private readonly publishLink: Link;
  private readonly consumeLink: Link;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly consumers = new Set<Consumer>();
  /** Queues this client published to or consumed, for dropTopology(). */
  private readonly used = new Set<string>();
  private closed = false;

  constructor(options: RabbitMQBrokerOptions) {
    this.options = resolveOptions(options);
    this.logger = (this.options.logger ?? jsonLogger()).child({ component: 'rabbitmq-broker', prefix: this.options.prefix });
    this.publishLink = new Link(this.options, 'publisher', this.logger);
    // A caller's connection carries both; owned ones are two (see connection.ts).
    this.consumeLink = this.options.connection ? this.publishLink : new Link(this.options, 'consumer', this.logger);
    this.topology = new Topology(this.publishLink, new Names(this.options.prefix), this.options);
    this.publisher = new Publisher(this.publishLink, this.topology, this.options.publishTimeoutMs, this.logger);
    // A new connection may be to a node that lost its definitions: declare everything again on use.
    this.publishLink.on('reconnected', () => this.topology.reset());
  }

  /** `amqp://user:pass@host:5672/vhost?prefix=durably&queueType=quorum` (see RabbitMQBrokerOptions). */
  static fromUrl(url: string): RabbitMQBroker {
    return new RabbitMQBroker({ url });
  }

  static async create(options: RabbitMQBrokerOptions): Promise<RabbitMQBroker> {
    const broker = new RabbitMQBroker(options);
    await broker.migrate();
    return broker;
  }

  get prefix(): string {
    return this.options.prefix;
  }

  /** The queues this client has published to or consumed (what dropTopology() deletes). */
  get usedQueues(): ReadonlySet<string> {
    return this.used;
  }

  /**
   * Declares the exchanges and the 28 delay queues (work queues are declared by their first publish
   * or consumer). Declaring the delay queues ahead matters on quorum queues: RabbitMQ 3.10 writes a
   * new quorum queue's registration lazily, and a node killed within seconds of declaring one may not
   * bring it back; see docs/backends/rabbitmq.md.
   */
  async migrate(): Promise<void> {
    this.assertOpen();
    await this.topology.ensureBase();
    await this.topology.ensureLevels(Array.from({ length: DELAY_LEVELS }, (_, level) => level));
  }

  /**
   * Resolves once RabbitMQ has confirmed the message (persistent, in a durable queue or delay queue).
   * `dedupKey` is ignored: RabbitMQ has no de-duplication without a plugin (the contract allows it).
   */
  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    this.used.add(queue);
    const delayMs = Math.min(this.maxDelayMs, Math.max(0, Math.ceil(options.delayMs ?? 0)));
    await this.publisher.toQueue(queue, newEnvelope(body), delayMs);
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions): Promise<Subscription> {
    this.assertOpen();
    const concurrency = Math.max(1, Math.floor(options.concurrency));
    const maxDeliveries = options.maxDeliveries ?? 10;
    if (!Number.isInteger(maxDeliveries) || maxDeliveries < 1) throw new InvalidArgumentError(`consume(): maxDeliveries must be a whole number >= 1, got ${maxDeliveries}.`);
    this.used.add(queue);
    const consumer = new Consumer(
      this.consumeLink,
      this.topology,
      this.publisher,
      queue,
      handler,
      {
        concurrency,
        visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000,
        maxDeliveries,
        retryBackoffMs: this.options.retryBackoffMs ?? defaultRetryBackoffMs,
        queueType: this.options.queueType,
        consumerTimeoutMs: this.options.consumerTimeoutMs,
      },
      this.logger,
    );
    await consumer.start();
    this.consumers.add(consumer);
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    this.assertOpen();
    return readDeadLetters(this.consumeLink, this.topology, queue, limit, this.options.deliveryLimit);
  }

  /**
   * Closes the connections at once. Deliveries being handled are abandoned, as by a process that
   * died: no ack, no nack; the server gives them to other consumers as soon as the connection is gone
   * (sooner than a visibility timeout would), and handed-over ones when their lease expires.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.consumers) c.abandon();
    this.consumers.clear();
    if (this.options.connection) {
      await Promise.all([this.publisher.close(), this.topology.close()]);
    }
    await Promise.all([this.publishLink.close(), this.consumeLink.close()]);
  }

  /**
   * Deletes everything this broker's prefix declared: the delay ladder, the exchanges, and the queues
   * this client used plus `queues` (AMQP cannot list queues). Their messages are lost. For tests and
   * for removing an installation.
   */
  async dropTopology(queues: Iterable<string> = []): Promise<void> {
    this.assertOpen();
    await dropTopology(this.topology, new Set([...this.used, ...queues]));
  }

  private assertOpen(): void {
    if (this.closed) throw new BrokerError('This RabbitMQBroker is closed.');
  }
}
