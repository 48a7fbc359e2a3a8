import type { Broker } from '@durably/contracts';
import { encodeTask, type TaskMessage } from './messages.js';

/**
 * Publishes a task, due in `delayMs`. A delayed task carries its due time (`notBefore`), so it may
 * reach a worker before it is due, and does in two cases:
 * - a delay beyond the broker's native maximum (SQS: 15 min) is sent at the maximum; the worker
 *   that receives it early publishes it again for the rest of the time, so sleeps of days work on
 *   every broker;
 * - `earlyMs` asks the broker to deliver it that much before it is due (a wake-up sent ahead, for
 *   the worker to hold and fire on time itself, whatever the broker's delay precision).
 */
export async function publishTask(broker: Broker, queue: string, task: TaskMessage, delayMs: number, clock: () => number = Date.now, dedupKey?: string, earlyMs = 0): Promise<void> {
  const delay = Math.max(0, Math.round(delayMs));
  const now = clock();
  const message: TaskMessage = delay > 0 ? { ...task, sentAt: now, notBefore: now + delay } : { ...task, sentAt: now };
  const brokerDelay = Math.min(Math.max(0, delay - Math.max(0, earlyMs)), broker.maxDelayMs);
  await broker.publish(queue, encodeTask(message), {
    delayMs: brokerDelay > 0 ? brokerDelay : undefined,
    dedupKey,
  });
}
