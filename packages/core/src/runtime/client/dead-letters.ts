import { BrokerError, type DeadLetter } from '@durably/contracts';
import type { Client } from './client.js';
import { brokerQueue, decodeTask, type TaskMessage } from '../tasks/messages.js';

/** A dead letter with the Durably queue it belongs to and the task it carried (when decodable). */
export interface DeadTask extends DeadLetter {
  /** The Durably queue name ("default"), not the broker's ("durably.default"). */
  durablyQueue: string;
  task?: TaskMessage;
}

/** Dead-lettered tasks of the given Durably queues, oldest first per queue. */
export async function listDeadLetters(client: Client, queues: string[], limit = 100): Promise<DeadTask[]> {
  await client.ensureReady();
  const all: DeadTask[] = [];
  for (const queue of queues) {
    for (const letter of await client.broker.deadLetters(brokerQueue(queue), limit)) {
      let task: TaskMessage | undefined;
      try {
        task = decodeTask(letter.body);
      } catch {
        task = undefined;
      }
      all.push({ ...letter, durablyQueue: queue, task });
    }
  }
  return all;
}

/**
 * Puts a dead-lettered task back on its queue: publishes its body again, then removes the dead
 * letter (a crash between the two leaves a duplicate task, which the engine ignores, never a loss).
 * Returns false when no dead letter has that id.
 */
export async function retryDeadLetter(client: Client, queue: string, id: string): Promise<boolean> {
  await client.ensureReady();
  const broker = client.broker;
  if (!broker.removeDeadLetter) {
    throw new BrokerError(`This broker (${broker.constructor?.name ?? 'custom'}) cannot remove dead letters, so they cannot be retried without leaving them listed.`);
  }
  const name = brokerQueue(queue);
  const letter = (await broker.deadLetters(name, 10_000)).find((d) => d.id === id);
  if (!letter) return false;
  await broker.publish(name, letter.body);
  await broker.removeDeadLetter(name, id);
  return true;
}
