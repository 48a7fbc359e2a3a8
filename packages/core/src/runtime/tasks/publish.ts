import type { Broker } from '@durably/contracts';
import { encodeTask, type TaskMessage } from './messages.js';

/**
 * Publishes a task, delayed by `delayMs`. A delay beyond the broker's native maximum (SQS: 15 min)
 * is sent at the maximum with `notBefore` set; the worker that receives it early publishes it again
 * for the rest of the time, so sleeps of days work on every broker.
 */
export async function publishTask(broker: Broker, queue: string, task: TaskMessage, delayMs: number, clock: () => number = Date.now, dedupKey?: string): Promise<void> {
  const delay = Math.max(0, Math.round(delayMs));
  const now = clock();
  const message: TaskMessage = delay > 0 ? { ...task, sentAt: now, notBefore: now + delay } : { ...task, sentAt: now };
  await broker.publish(queue, encodeTask(message), {
    delayMs: delay > 0 ? Math.min(delay, broker.maxDelayMs) : undefined,
    dedupKey,
  });
}
