import { PoisonMessageError, type Logger } from '@durably/contracts';
import type { Client } from '../client/client.js';
import { brokerQueue, runTask, type RunTask } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';
import { LocalTimers, type LocalTimer } from './local-timers.js';

/** What running runs here, without the broker, needs of the worker. */
export interface LocalRunsHost {
  client: Client;
  logger: Logger;
  concurrency(): number;
  running(): boolean;
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
        void publishTask(client.broker, brokerQueue(t.queue), runTask(t.runId, 'timer'), 0, client.clock).catch(() => undefined);
        continue;
      }
      this.wakes++;
      this.host.handling(1);
      void this.host
        .processRun(runTask(t.runId, 'timer'))
        .catch((err) => {
          // The run is gone (removed by retention): nothing to wake.
          if (err instanceof PoisonMessageError) return logger.debug('local wake-up for a run that is gone dropped', { runId: t.runId });
          // Storage away (a restart, say): try again here shortly. The timer in storage stays, so
          // the sweep of any worker wakes the run even if this process dies meanwhile.
          logger.debug('local wake-up failed; retrying shortly', { runId: t.runId, error: String(err) });
          if (this.host.running()) this.timers.add({ ...t, fireAt: client.clock() + 500 });
        })
        .finally(() => {
          this.wakes--;
          this.host.handling(-1);
          this.pump();
        });
    }
  }

  /** The wake-ups held here (stopping: they go to the broker). */
  drain(): LocalTimer[] {
    return [...this.due.splice(0), ...this.timers.drain()];
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
