import { randomUUID } from 'node:crypto';
import type { Logger } from '@durably/contracts';
import type { Envelope } from './envelope.js';
import type { Publisher } from './publisher.js';
import type { Topology } from './topology.js';

/**
 * A delivery whose handler runs past half of RabbitMQ's `consumer_timeout` would lose its channel
 * (the server closes a channel whose oldest unacked delivery is older than the timeout, and gives
 * every delivery of that channel to other consumers while the handlers still run). So it is handed
 * over: a copy goes into a lease queue of its own, `<prefix>.held.<id>`, whose `x-message-ttl` is
 * the visibility timeout and whose dead-letter target is the work queue, and the original is acked.
 *
 * While the handler runs, the holder renews the lease every third of the timeout (a new lease queue
 * with a fresh copy, then the old one deleted); when it settles, the lease queue is deleted. If the
 * holder dies, nobody renews: the copy expires and goes back to the work queue within the visibility
 * timeout, with its delivery count raised, as a visibility timeout would have it. A queue that has
 * given its message back deletes itself (`x-expires`).
 */
export class Lease {
  private name?: string;
  private timer?: NodeJS.Timeout;
  private renewing?: Promise<void>;
  private ended = false;

  constructor(
    private readonly topology: Topology,
    private readonly publisher: Publisher,
    private readonly queue: string,
    /** The copy: the delivery's id and body, and its deliveries so far (this one included). */
    private readonly envelope: Envelope,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  /** Puts the copy in a lease queue; resolves once the server has confirmed it. */
  async take(): Promise<void> {
    this.name = await this.place();
    const every = Math.max(50, Math.floor(this.ttlMs / 3));
    this.timer = setInterval(() => void this.renew(), every);
    this.timer.unref();
  }

  private async place(): Promise<string> {
    const name = this.topology.names.heldQueue(randomUUID());
    await this.topology.declareHeld(name, this.queue, this.ttlMs);
    await this.publisher.toQueueNamed(name, this.envelope);
    return name;
  }

  private async renew(): Promise<void> {
    if (this.ended || this.renewing) return;
    this.renewing = (async () => {
      try {
        const next = await this.place();
        const old = this.name;
        if (this.ended) {
          await this.topology.deleteQueue(next);
          return;
        }
        this.name = next;
        if (old) await this.topology.deleteQueue(old);
      } catch (err) {
        // Retried on the next tick; the current copy stays valid until its TTL.
        this.logger.warn('could not renew the lease of a long-running delivery; retrying', { queue: this.queue, error: (err as Error).message });
      }
    })().finally(() => (this.renewing = undefined));
    await this.renewing;
  }

  /** The handler settled: the copy is not needed any more. */
  async release(): Promise<void> {
    this.ended = true;
    clearInterval(this.timer);
    await this.renewing;
    const name = this.name;
    this.name = undefined;
    // If this fails the copy comes back once, after the TTL: a duplicate, never a loss.
    if (name) await this.topology.deleteQueue(name).catch((err) => this.logger.warn('could not delete a lease queue; its copy will be delivered again', { queue: name, error: (err as Error).message }));
  }

  /** The process "dies" (close()): stop renewing; the copy comes back after its TTL. */
  abandon(): void {
    this.ended = true;
    clearInterval(this.timer);
  }
}
