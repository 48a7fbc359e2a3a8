import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type RecoveringChannelModel } from 'amqplib';
import { BrokerError, type Logger } from '@durably/contracts';
import type { AmqpConnection, ResolvedOptions } from './options.js';

/**
 * One AMQP connection, kept up. The broker opens two, one for publishing and one for consuming, as
 * RabbitMQ advises: the server blocks a publishing connection under a memory or disk alarm, and a
 * consumer on that connection could then not ack either.
 *
 * An owned connection is amqplib's recovering connection: after a drop it reconnects by itself with
 * exponential backoff and jitter, and `channel()` waits for it. Each drop and reconnect is logged, and
 * a reconnect emits `reconnected`, on which consumers subscribe again. A connection passed in by the
 * caller is used as it is: a recovering one is followed like an owned one; a plain one fails every
 * call once it has closed.
 */
export class Link extends EventEmitter {
  private current?: Promise<AmqpConnection>;
  private closed = false;
  private connectedOnce = false;
  /** Why the current connection can no longer be used (a plain connection closed, or the first connect gave up). */
  private failure?: Error;
  /** The live amqplib connection under a recovering one, to cut its socket if a close hangs. */
  private live?: ChannelModel;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly role: 'publisher' | 'consumer',
    private readonly logger: Logger,
  ) {
    super();
    if (options.connection) {
      this.current = Promise.resolve(options.connection);
      this.watch(options.connection);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A new channel; waits for the connection while it is being (re)established. */
  async channel(confirm: true): Promise<ConfirmChannel>;
  async channel(confirm: false): Promise<Channel>;
  async channel(confirm: boolean): Promise<Channel> {
    if (this.closed) throw new BrokerError('This RabbitMQBroker is closed.');
    if (this.failure && this.options.connection) {
      throw new BrokerError(
        `The amqplib connection passed to RabbitMQBroker is closed (${this.failure.message}). Pass a URL, or a connection made with amqplib's { recovery } option, so that the broker can reconnect.`,
        { cause: this.failure },
      );
    }
    if (this.failure) {
      // The first connection never came up; try a new one rather than fail forever.
      this.failure = undefined;
      this.current = undefined;
    }
    const current = (this.current ??= this.open());
    try {
      const model = await current;
      const channel = confirm ? await model.createConfirmChannel() : await model.createChannel();
      // A channel error also closes the channel; whoever holds the channel handles the close.
      channel.on('error', () => undefined);
      return channel;
    } catch (err) {
      throw new BrokerError(`RabbitMQ at ${this.options.address} is not reachable: ${(err as Error).message}`, { cause: err });
    }
  }

  private async open(): Promise<AmqpConnection> {
    const { reconnect } = this.options;
    const url = new URL(this.options.amqpUrl!);
    // Heartbeats let the server notice a dead machine (not only a dead process) and hand its
    // deliveries to other consumers; the server's default of 60 s is slow for that.
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '15');
    const model = await amqp.connect(url.toString(), {
      timeout: 10_000,
      clientProperties: { connection_name: `durably ${this.role} ${hostname()}:${process.pid}` },
      recovery: {
        initialDelay: reconnect.initialDelayMs,
        maxDelay: reconnect.maxDelayMs,
        // A first connection that fails five times fails the call that needed it (a wrong address
        // must not hang); once connected, the broker keeps reconnecting for as long as it lives.
        initialMaxRetries: 5,
        waitForConnect: false,
      },
    });
    // amqplib defers the first attempt to the next turn of the event loop: no event is missed.
    this.watch(model);
    if (this.closed) await model.close().catch(() => undefined);
    return model;
  }

  private watch(model: AmqpConnection): void {
    const role = this.role;
    model.on('error', (err: Error) => this.logger.debug('RabbitMQ connection error', { role, error: err.message }));
    model.on('blocked', (reason: string) => this.logger.warn('RabbitMQ blocked the connection (memory or disk alarm): publishes wait until it lifts', { role, reason }));
    model.on('unblocked', () => this.logger.info('RabbitMQ unblocked the connection', { role }));
    if (isRecovering(model)) {
      model.on('connect', (live: ChannelModel) => {
        this.live = live;
        if (this.closed) return;
        if (this.connectedOnce) {
          this.logger.warn('reconnected to RabbitMQ', { role, address: this.options.address });
          this.emit('reconnected');
        }
        this.connectedOnce = true;
      });
      model.on('disconnect', (err: Error) => {
        if (!this.closed) this.logger.warn('lost the connection to RabbitMQ; reconnecting', { role, address: this.options.address, error: err.message });
      });
      model.on('reconnect-scheduled', (info: { attempt: number; delay: number; error: Error }) => {
        if (!this.closed) this.logger.info('reconnecting to RabbitMQ', { role, attempt: info.attempt, delayMs: info.delay, error: info.error.message });
      });
      model.on('reconnect-failed', (err: Error) => {
        this.failure = err;
        if (!this.closed) this.logger.error('could not connect to RabbitMQ', { role, address: this.options.address, error: err.message });
      });
    } else {
      (model as ChannelModel).on('close', (err?: Error) => {
        if (this.closed) return;
        this.failure = err ?? new Error('connection closed');
        this.logger.error('the amqplib connection passed to RabbitMQBroker closed; it cannot be reconnected', { role, error: this.failure.message });
      });
    }
  }

  /**
   * Closes an owned connection at once: the server returns its unacked deliveries to their queues.
   * A server that does not answer the close within 2 s (a stuck node) gets its socket cut.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    if (!current || this.options.connection) return;
    const closing = current.then((m) => m.close()).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([closing.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2000)))]);
    clearTimeout(timer);
    if (!closed) (this.live?.connection as { stream?: { destroy(err?: Error): void } } | undefined)?.stream?.destroy(new Error('closed by RabbitMQBroker.close()'));
  }
}

function isRecovering(model: AmqpConnection): model is RecoveringChannelModel {
  return typeof (model as { waitForConnect?: unknown }).waitForConnect === 'function';
}
