import type { Client } from '../client/client.js';
import type { FlushEffects } from '../../engine/execution.js';
import type { TraceContext } from '../../observe/instrumentation.js';
import { brokerQueue, runTask } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';
import { dispatchStep } from './step-task.js';
import { cancelChild, closeChild, notifyParent } from './family.js';
import type { LocalRuns } from './local-runs.js';

/**
 * What a durable batch of a run leads to outside that run's log, done once the batch is durable:
 * the start tasks of the runs it created, the tasks of the steps it dispatched, its local timers,
 * then the close or cancel of its children and its outcome in its parent's log. A crash before or
 * during this leaves a running run whose effects are missing: the stale-run sweep recovers it, and a
 * recovery sends its scheduled steps again (each publish is de-duplicated per attempt).
 */
export async function applyFlushEffects(
  client: Client,
  effects: FlushEffects,
  run: { workflow: string; trace: TraceContext | undefined; local: LocalRuns },
): Promise<void> {
  const { broker, clock } = client;
  await Promise.all([
    ...effects.startRuns.map((r) => publishTask(broker, brokerQueue(r.queue), runTask(r.runId, 'start'), 0, clock)),
    ...effects.dispatched.map((cmd) => dispatchStep(client, { runId: effects.runId, queue: effects.queue, workflow: run.workflow, seq: effects.seq }, cmd, run.trace)),
    ...effects.timers.map((t) => run.local.schedule({ runId: t.runId, queue: effects.queue, fireAt: t.fireAt })),
  ]);
  for (const child of effects.closeChildren) await closeChild(client, child.runId, child.policy);
  for (const child of effects.cancelChildren) await cancelChild(client, child.runId, child.reason);
  if (effects.notifyParent) await notifyParent(client, effects.notifyParent);
}
