import { PoisonMessageError, type Logger } from '@durably/contracts';
import type { Client } from '../client/client.js';
import { brokerQueue, queueOfBrokerQueue, runTask, type RunTask } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';
import { LocalTimers, type LocalTimer } from './local-timers.js';

/** How soon a failed local wake-up or recovery is tried again. */
const RETRY_MS = 500;

/** What running runs here, without the broker, needs of the worker. */
export interface LocalRunsHost {
  client: Client;
  logger: Logger;
  concurrency(): number;
  running(): boolean;
  /** How far ahead this worker holds wake-ups itself (localTimerWindow); 0: it holds none. */
  windowMs(): number;
  /** Advances the run as a delivered task would. */
  processRun(task: RunTask): Promise<void>;
  /** Counts work in hand (the worker is busy while it is). */
  handling(delta: 1 | -1): void;
}

/**
 * Runs advanced in this worker without a broker round trip: local timers that fell due (at most
 * `concurrency` at once; a burst waits here in due order) and runs that waited for a worker with
 * their workflow (runHere). Either way the truth stays in storage: if this process dies, the timer
 * sweep or the recovery sweep of any worker wakes the run.
 *
 * Wake-ups due within the window (localTimerWindow) are held here: those this worker writes, and
 * those the broker brings. A wake-up due later goes to the broker, sent to arrive one window before
 * it is due; the worker that receives it holds it and fires it on time. So a wake-up is as late as
 * this process's timers are, not as the broker's delays (RabbitMQ's TTL ladder lags by up to a
 * second under a burst of a thousand, SQS by its poll), as long as the broker is less than a window
 * late.
 */
export class LocalRuns {
  readonly timers: LocalTimers;
  /** Local timers that fell due, waiting for a free slot (earliest first). */
  private readonly due: LocalTimer[] = [];
  private wakes = 0;

  constructor(private readonly host: LocalRunsHost) {
    this.timers = new LocalTimers(() => host.client.clock(), (due) => this.fire(due));
  }

  private fire(due: LocalTimer[]): void {
    this.due.push(...due);
    this.pump();
  }

  private pump(): void {
    const { client, logger } = this.host;
    while (this.due.length > 0 && this.wakes < this.host.concurrency()) {
      const t = this.due.shift()!;
      if (!this.host.running()) {
        // Stopping: the broker takes it (stop() also hands over what is still queued here).
        void publishTask(client.broker, brokerQueue(t.queue), runTask(t.runId, t.reason ?? 'timer'), 0, client.clock).catch(() => undefined);
        continue;
      }
      this.wakes++;
      this.host.handling(1);
      void this.host
        .processRun(runTask(t.runId, t.reason ?? 'timer'))
        .catch((err) => {
          // The run is gone (removed by retention): nothing to wake.
          if (err instanceof PoisonMessageError) return logger.debug('local wake-up for a run that is gone dropped', { runId: t.runId });
          // Storage away (a restart, say): try again here shortly. The timer in storage stays, so
          // the sweep of any worker wakes the run even if this process dies meanwhile.
          logger.debug('local wake-up failed; retrying shortly', { runId: t.runId, error: String(err) });
          if (this.host.running()) this.timers.add({ ...t, fireAt: client.clock() + RETRY_MS });
        })
        .finally(() => {
          this.wakes--;
          this.host.handling(-1);
          this.pump();
        });
    }
  }

  /** A run's wake-up at `fireAt`: held here when it is due within the window, else sent to the broker to arrive a window early. */
  async schedule(t: LocalTimer): Promise<void> {
    const { client } = this.host;
    const now = client.clock();
    const windowMs = this.host.windowMs();
    if (this.host.running() && t.fireAt - now <= windowMs) return this.timers.add(t);
    await publishTask(client.broker, brokerQueue(t.queue), runTask(t.runId, 'timer'), t.fireAt - now, client.clock, undefined, windowMs);
  }

  /**
   * A wake-up the broker delivered before it is due (sent ahead, or capped by the broker's longest
   * delay): held here if it is due within the window; else published again for the rest of the
   * time, to arrive a window early. Other early tasks wait out their time on the broker.
   */
  async early(task: RunTask, deliveredOn: string): Promise<void> {
    const { client } = this.host;
    const fireAt = task.notBefore ?? client.clock();
    if (task.reason === 'timer') return this.schedule({ runId: task.runId, queue: queueOfBrokerQueue(deliveredOn), fireAt });
    await publishTask(client.broker, deliveredOn, { ...task, notBefore: undefined }, fireAt - client.clock(), client.clock);
  }

  /** Stopping: the wake-ups held here go to the broker, each due when it was, so another worker fires them on time. */
  async handOver(): Promise<void> {
    const { client } = this.host;
    const now = client.clock();
    const held = [...this.due.splice(0), ...this.timers.drain()];
    await Promise.allSettled(held.map((t) => publishTask(client.broker, brokerQueue(t.queue), runTask(t.runId, t.reason ?? 'timer'), Math.max(0, t.fireAt - now), client.clock)));
  }

  /**
   * Advances the run here again shortly, as a recovery (its scheduled steps are sent again): for a run
   * whose advance failed after other tasks for it had been acked on that advance's word. Retried here
   * while it fails; if this process dies first, the broker's redelivery or the sweeps wake the run.
   */
  retryAfterFailure(runId: string, queue: string | undefined, err: unknown): void {
    const { client, logger } = this.host;
    logger.warn('advancing a run failed after other tasks for it came; trying it again here shortly', { runId, error: String(err) });
    const retry = (q: string) => this.host.running() && this.timers.add({ runId, queue: q, fireAt: client.clock() + RETRY_MS, reason: 'recover' });
    if (queue !== undefined) return void retry(queue);
    // Failed before the run was read: its queue is in its record.
    void client.storage.getRun(runId).then((run) => run && retry(run.queue), () => undefined);
  }

  /** Advances runs in this worker, a few at a time, as delivered tasks would be; one that fails goes to the broker. */
  async runHere(runIds: string[]): Promise<void> {
    const { client, logger } = this.host;
    let next = 0;
    const lane = async () => {
      while (next < runIds.length && this.host.running()) {
        const task = runTask(runIds[next++], 'start');
        this.host.handling(1);
        try {
          await this.host.processRun(task);
        } catch (err) {
          logger.debug('starting a waiting run here failed; it goes to the broker', { runId: task.runId, error: String(err) });
          const run = await client.storage.getRun(task.runId).catch(() => undefined);
          if (run) await publishTask(client.broker, brokerQueue(run.queue), task, 0, client.clock).catch(() => undefined);
        } finally {
          this.host.handling(-1);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, this.host.concurrency()) }, lane));
  }
}
