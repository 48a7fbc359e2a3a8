import { randomUUID } from 'node:crypto';
import type { ConfirmChannel } from 'amqplib';
import { BrokerError, type Logger } from '@durably/contracts';
import type { Link } from './connection.js';
import { delayRoute } from './delay.js';
import { HEADER, publishOptions, type Envelope } from './envelope.js';
import { isPermanent, type Topology } from './topology.js';

/** The server confirmed the message but routed it nowhere: a queue or binding is missing. */
class Unroutable extends Error {}

interface Outgoing {
  exchange: string;
  routingKey: string;
  envelope: Envelope;
  headers?: Record<string, unknown>;
  /** Declares what the message needs before it is sent (cached: free after the first time). */
  prepare(): Promise<void>;
  /** Forgets those declarations after the message came back unroutable. */
  forget?(): void;
  what: string;
}

/**
 * Every message the broker sends goes through one confirm channel, published with `mandatory` and
 * resolved by its own confirm. Concurrent publishes are in flight together, and RabbitMQ confirms them
 * in batches (`multiple`), so they share confirm windows instead of waiting one by one. A publish is
 * retried, on a new channel and across reconnects, until it is confirmed and routed, or until
 * `publishTimeoutMs` has passed: then its caller gets a BrokerError. It is never dropped silently
 * (a retry after a lost confirm may deliver it twice, which at-least-once allows).
 */
export class Publisher {
  private channel?: Promise<ConfirmChannel>;
  private readonly returned = new Set<string>();
  private drained?: Promise<void>;

  constructor(
    private readonly link: Link,
    private readonly topology: Topology,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** To the work queue `queue`, now or after `delayMs` (through the delay ladder). */
  toQueue(queue: string, envelope: Envelope, delayMs = 0): Promise<void> {
    const names = this.topology.names;
    if (delayMs <= 0) {
      return this.send({
        exchange: names.exchange,
        routingKey: queue,
        envelope,
        prepare: () => this.topology.ensureQueue(queue),
        forget: () => this.topology.forget(queue),
        what: `publish to "${queue}"`,
      });
    }
    const route = delayRoute(delayMs, queue);
    return this.send({
      exchange: names.delayExchange(route.entryLevel),
      routingKey: route.routingKey,
      envelope,
      prepare: async () => {
        await this.topology.ensureQueue(queue);
        await this.topology.ensureLevels(route.waitLevels);
      },
      forget: () => this.topology.forget(queue),
      what: `publish to "${queue}" with a delay of ${delayMs} ms`,
    });
  }

  /** To the dead-letter queue of `queue`, with the reason and the deliveries it had. */
  toDeadLetters(queue: string, envelope: Envelope, reason: string): Promise<void> {
    return this.send({
      exchange: this.topology.names.deadLetterExchange,
      routingKey: queue,
      envelope,
      headers: { [HEADER.reason]: reason, [HEADER.deadAt]: Date.now() },
      prepare: () => this.topology.ensureQueue(queue),
      forget: () => this.topology.forget(queue),
      what: `dead-letter a message of "${queue}"`,
    });
  }

  /** Straight into the queue `name` (a lease queue), through the default exchange. */
  toQueueNamed(name: string, envelope: Envelope): Promise<void> {
    return this.send({ exchange: '', routingKey: name, envelope, prepare: async () => undefined, what: `publish to the queue ${name}` });
  }

  private async send(out: Outgoing): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.link.isClosed) throw new BrokerError(`Could not ${out.what}: this RabbitMQBroker is closed.`);
      try {
        await beforeDeadline(out.prepare(), deadline);
        await beforeDeadline(this.once(out), deadline);
        return;
      } catch (err) {
        if (err instanceof Unroutable) out.forget?.();
        if (isPermanent(err) || this.link.isClosed) throw asBrokerError(err, `Could not ${out.what}`);
        if (Date.now() >= deadline || err instanceof DeadlinePassed) {
          throw new BrokerError(`Could not ${out.what}: not confirmed within ${this.timeoutMs} ms (last error: ${(err as Error).message}).`, { cause: err });
        }
        if (attempt === 0) this.logger.debug('publish not confirmed; retrying', { what: out.what, error: (err as Error).message });
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      }
    }
  }

  private async once(out: Outgoing): Promise<void> {
    const channel = await this.confirmChannel();
    if (this.drained) await this.drained;
    const publishId = randomUUID();
    await new Promise<void>((resolve, reject) => {
      let written: boolean;
      try {
        written = channel.publish(out.exchange, out.routingKey, out.envelope.content, publishOptions(out.envelope, publishId, out.headers), (err) => {
          // RabbitMQ sends basic.return before the confirm of a mandatory message it could not route.
          const returned = this.returned.delete(publishId);
          if (err) reject(err instanceof Error ? err : new Error(`not confirmed: ${String(err)}`));
          else if (returned) reject(new Unroutable(`RabbitMQ could not route it (exchange "${out.exchange}", routing key "${out.routingKey}")`));
          else resolve();
        });
      } catch (err) {
        reject(err); // the channel closed under us
        return;
      }
      if (!written && !this.drained) {
        // The socket's buffer is full: later publishes wait for it to drain.
        this.drained = new Promise<void>((done) => {
          const clear = () => {
            this.drained = undefined;
            channel.off('drain', clear);
            channel.off('close', clear);
            done();
          };
          channel.on('drain', clear);
          channel.on('close', clear);
        });
      }
    });
  }

  private confirmChannel(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    const pending = this.link.channel(true);
    this.channel = pending;
    const drop = () => {
      if (this.channel === pending) this.channel = undefined;
    };
    pending.then((ch) => {
      ch.on('close', drop);
      ch.on('return', (msg) => {
        const id = msg.properties.headers?.[HEADER.publish];
        if (id !== undefined) this.returned.add(String(id));
      });
    }, drop);
    return pending;
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.then((ch) => ch.close()).catch(() => undefined);
  }
}

class DeadlinePassed extends Error {}

function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlinePassed('timed out waiting for RabbitMQ')), Math.max(0, deadline - Date.now()));
    }),
  ]).finally(() => clearTimeout(timer));
}

function asBrokerError(err: unknown, what: string): BrokerError {
  if (err instanceof BrokerError) return err;
  return new BrokerError(`${what}: ${(err as Error).message}`, { cause: err });
}
