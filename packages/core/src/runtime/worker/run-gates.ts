import { deserialize, type DurablyEvent } from '@durably/contracts';
import type { WorkflowDefinition } from '../../engine/definitions.js';
import type { Execution } from '../../engine/execution.js';
import type { Client } from '../client/client.js';
import { brokerQueue, runTask } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';

/** What a run passes before and while it advances here: its concurrency slot, and a cancel recorded meanwhile. */

/**
 * A run of a workflow with a concurrency limit starts only with a slot; without one it stays pending
 * and looks again shortly (the run, not the worker, holds the slot until it ends).
 */
export async function acquireConcurrency(client: Client, runId: string, def: WorkflowDefinition, first: DurablyEvent | undefined): Promise<boolean> {
  const { limit, key } = def.concurrency!;
  const args = first?.type === 'run_created' ? deserialize<unknown[]>(first.data.args) : [];
  let group: string;
  try {
    group = key ? String(key(...args)) : '*';
  } catch (err) {
    group = `invalid:${(err as Error).message}`;
  }
  if (await client.storage.acquireSlot(`${def.name}:${group}`, runId, limit)) return true;
  const now = client.clock();
  await client.storage.touchRun(runId, now); // waiting is not being stuck
  const run = await client.storage.getRun(runId);
  await publishTask(client.broker, brokerQueue(run!.queue), runTask(runId, 'start'), 100 + Math.random() * 200, client.clock, `slot:${runId}`);
  return false;
}

/** While steps run, a cancel recorded by a client aborts their signals at once. */
export async function watchForCancel(client: Client, execution: Execution): Promise<void> {
  const run = await client.storage.getRun(execution.runId);
  if (!run || run.lastSeq <= execution.seq) return;
  const tail = await client.storage.readEvents(execution.runId, execution.seq + 1);
  const cancel = tail.find((e) => e.type === 'cancel_requested');
  if (cancel) execution.abortInflight((cancel.data as { reason?: string }).reason);
}
