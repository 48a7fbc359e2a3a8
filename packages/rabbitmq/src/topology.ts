import type { Channel } from 'amqplib';
import { BrokerError } from '@durably/contracts';
import type { Link } from './connection.js';
import { DELAY_LEVELS, duePattern, levelPattern } from './delay.js';
import type { QueueType } from './options.js';

/**
 * Names of everything the broker declares, all under one prefix (which has no dots, so the second
 * word tells the kinds apart whatever the Durably queue names are):
 *
 *   exchanges  <p>             direct: published messages, routing key = Durably queue name
 *              <p>.dlx         direct: dead letters, routing key = Durably queue name
 *              <p>.delay.<i>   topic: level i of the delay ladder (i = 0 .. 27)
 *              <p>.delay.due   topic: delayed messages that are due, routed on the queue name
 *   queues     <p>.q.<name>    a Durably queue (bound to <p> and to <p>.delay.due)
 *              <p>.dlq.<name>  its dead letters (bound to <p>.dlx)
 *              <p>.delay.<i>   level i: x-message-ttl 2^i ms, dead-letters to the level below
 *              <p>.held.<id>   the lease of a delivery handed over before the consumer timeout
 *              <p>.lock.<name> exclusive, while one client reads the dead letters of <name>
 */
export class Names {
  constructor(readonly prefix: string) {}
  get exchange(): string {
    return this.prefix;
  }
  get deadLetterExchange(): string {
    return `${this.prefix}.dlx`;
  }
  get dueExchange(): string {
    return `${this.prefix}.delay.due`;
  }
  delayExchange(level: number): string {
    return `${this.prefix}.delay.${level}`;
  }
  delayQueue(level: number): string {
    return `${this.prefix}.delay.${level}`;
  }
  /** Where level `level` sends a message on: the level below, or the due exchange after level 0. */
  below(level: number): string {
    return level === 0 ? this.dueExchange : this.delayExchange(level - 1);
  }
  workQueue(queue: string): string {
    return `${this.prefix}.q.${queue}`;
  }
  deadLetterQueue(queue: string): string {
    return `${this.prefix}.dlq.${queue}`;
  }
  heldQueue(id: string): string {
    return `${this.prefix}.held.${id}`;
  }
  lockQueue(queue: string): string {
    return `${this.prefix}.lock.${queue}`;
  }
}

/** AMQP reply codes that retrying cannot fix: access refused, precondition failed, not allowed (no such vhost). */
const PERMANENT = new Set([403, 406, 530]);

export function isPermanent(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'number' && PERMANENT.has(e.code)) return true;
    // A refused login or vhost ends the handshake: "Handshake terminated by server: 403 (ACCESS-REFUSED)".
    if (typeof e.message === 'string' && /terminated by server: (403|530)\b/.test(e.message)) return true;
  }
  return false;
}

/**
 * Declares the topology, each piece once per connection (declarations are idempotent on the server;
 * the cache only saves round trips). `migrate()` declares the exchanges and every delay queue; a
 * publish declares what it needs too, so that a broker used without `migrate()` works. Runs on a
 * channel of its own: a failed declaration closes its channel, and must not take in-flight publishes
 * down with it.
 */
export class Topology {
  private channel?: Promise<Channel>;
  private base?: Promise<void>;
  private readonly queues = new Map<string, Promise<void>>();
  private readonly levels = new Map<number, Promise<void>>();

  constructor(
    private readonly link: Link,
    readonly names: Names,
    private readonly settings: { queueType: QueueType; deliveryLimit: number },
  ) {}

  /** After a reconnect: the server may have lost what was declared (a new node), so declare again. */
  reset(): void {
    this.base = undefined;
    this.queues.clear();
    this.levels.clear();
  }

  /** A publish to `queue` came back unroutable: its queue or bindings are gone. */
  forget(queue: string): void {
    this.queues.delete(queue);
    this.levels.clear();
  }

  ensureBase(): Promise<void> {
    return (this.base ??= this.cached(() => this.declareBase(), () => (this.base = undefined)));
  }

  ensureQueue(queue: string): Promise<void> {
    let p = this.queues.get(queue);
    if (!p) {
      p = this.cached(() => this.declareQueue(queue), () => this.queues.delete(queue));
      this.queues.set(queue, p);
    }
    return p;
  }

  async ensureLevels(levels: number[]): Promise<void> {
    await Promise.all(
      levels.map((level) => {
        let p = this.levels.get(level);
        if (!p) {
          p = this.cached(() => this.declareLevel(level), () => this.levels.delete(level));
          this.levels.set(level, p);
        }
        return p;
      }),
    );
  }

  /** A lease queue: its one message goes back to `queue` when `ttlMs` pass without the lease being renewed. */
  async declareHeld(name: string, queue: string, ttlMs: number): Promise<void> {
    await this.run(`declare ${name}`, (ch) =>
      ch.assertQueue(name, {
        durable: true,
        arguments: {
          'x-queue-type': 'classic',
          'x-message-ttl': ttlMs,
          'x-dead-letter-exchange': this.names.exchange,
          'x-dead-letter-routing-key': queue,
          // Removes the queue once its message has gone back (a holder that died never deletes it).
          'x-expires': ttlMs * 2 + 60_000,
        },
      }),
    );
  }

  async deleteQueue(name: string): Promise<void> {
    await this.run(`delete ${name}`, (ch) => ch.deleteQueue(name));
  }

  /** Runs `fn` on the declaring channel, opening one if needed; wraps failures in BrokerError. */
  async run<T>(what: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
    const pending = this.openChannel();
    const ch = await pending;
    try {
      return await fn(ch);
    } catch (err) {
      if (this.channel === pending) this.channel = undefined;
      if (err instanceof BrokerError) throw err;
      const hint =
        (err as { code?: number }).code === 406
          ? ' It already exists with other arguments (another queueType or deliveryLimit?): delete it, keep the options it was declared with, or use another prefix.'
          : '';
      throw new BrokerError(`RabbitMQ refused to ${what}: ${(err as Error).message}.${hint}`, { cause: err });
    }
  }

  private openChannel(): Promise<Channel> {
    if (this.channel) return this.channel;
    const pending = this.link.channel(false);
    this.channel = pending;
    const drop = () => {
      if (this.channel === pending) this.channel = undefined;
    };
    pending.then((ch) => ch.on('close', drop), drop);
    return pending;
  }

  private cached(declare: () => Promise<void>, drop: () => void): Promise<void> {
    const p = declare();
    p.catch(drop);
    return p;
  }

  private async declareBase(): Promise<void> {
    const n = this.names;
    await this.run('declare the exchanges', async (ch) => {
      await ch.assertExchange(n.exchange, 'direct', { durable: true });
      await ch.assertExchange(n.deadLetterExchange, 'direct', { durable: true });
      await ch.assertExchange(n.dueExchange, 'topic', { durable: true });
      for (let level = 0; level < DELAY_LEVELS; level++) await ch.assertExchange(n.delayExchange(level), 'topic', { durable: true });
      // A "0" at a level skips that level's queue: exchange-to-exchange, no wait.
      for (let level = 0; level < DELAY_LEVELS; level++) await ch.bindExchange(n.below(level), n.delayExchange(level), levelPattern(level, 0));
    });
  }

  private async declareQueue(queue: string): Promise<void> {
    await this.ensureBase();
    const n = this.names;
    const work = n.workQueue(queue);
    const dead = n.deadLetterQueue(queue);
    const args: Record<string, unknown> =
      this.settings.queueType === 'quorum'
        ? {
            'x-queue-type': 'quorum',
            'x-delivery-limit': this.settings.deliveryLimit,
            // At-least-once: a message over the delivery limit is kept until the dead-letter queue has it.
            'x-dead-letter-strategy': 'at-least-once',
            'x-overflow': 'reject-publish',
          }
        : { 'x-queue-type': 'classic' };
    await this.run(`declare the queue ${work}`, async (ch) => {
      // Classic, whatever the work queues are: reading dead letters puts them back in their places,
      // which classic queues guarantee.
      await ch.assertQueue(dead, { durable: true, arguments: { 'x-queue-type': 'classic' } });
      await ch.bindQueue(dead, n.deadLetterExchange, queue);
      await ch.assertQueue(work, { durable: true, arguments: { ...args, 'x-dead-letter-exchange': n.deadLetterExchange, 'x-dead-letter-routing-key': queue } });
      await ch.bindQueue(work, n.exchange, queue);
      await ch.bindQueue(work, n.dueExchange, duePattern(queue));
    });
  }

  private async declareLevel(level: number): Promise<void> {
    await this.ensureBase();
    const n = this.names;
    const name = n.delayQueue(level);
    const args: Record<string, unknown> =
      this.settings.queueType === 'quorum'
        ? { 'x-queue-type': 'quorum', 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }
        : { 'x-queue-type': 'classic' };
    await this.run(`declare the delay queue ${name}`, async (ch) => {
      await ch.assertQueue(name, { durable: true, arguments: { ...args, 'x-message-ttl': 2 ** level, 'x-dead-letter-exchange': n.below(level) } });
      await ch.bindQueue(name, n.delayExchange(level), levelPattern(level, 1));
    });
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.then((ch) => ch.close()).catch(() => undefined);
  }
}

/**
 * Deletes the topology under `names.prefix`: the delay ladder, the exchanges, and the work and
 * dead-letter queues of `queues` (AMQP cannot list queues). Their messages are lost.
 */
export async function dropTopology(topology: Topology, queues: Iterable<string>): Promise<void> {
  const n = topology.names;
  await topology.run('delete the topology', async (ch) => {
    for (const queue of queues) {
      await ch.deleteQueue(n.workQueue(queue));
      await ch.deleteQueue(n.deadLetterQueue(queue));
    }
    for (let level = 0; level < DELAY_LEVELS; level++) await ch.deleteQueue(n.delayQueue(level));
    for (let level = 0; level < DELAY_LEVELS; level++) await ch.deleteExchange(n.delayExchange(level));
    for (const exchange of [n.dueExchange, n.deadLetterExchange, n.exchange]) await ch.deleteExchange(exchange);
  });
  topology.reset();
}
