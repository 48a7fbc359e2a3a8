import { FINISHED_STATUSES, type RunRecord, type Storage } from '@durably/contracts';

/** What an unfinished run waits for when it cannot progress by itself (see `RunHandle.waitingFor`). */
export interface RunWaiting {
  /** No worker that received the run has its workflow: it waits, as it was, for one that has. */
  reason: 'workflow_not_registered';
  workflow: string;
  /** The queue a worker with the workflow must listen on. */
  queue: string;
  /** When the wait began (epoch ms). */
  since: number;
  /** The last worker that received the run without having its workflow, and the workflows it has. */
  workerId: string;
  registered: string[];
}

/** Read from the run's log: a wait is its last event, `run_waiting`; anything written after it ends the wait. */
export async function waitingOf(storage: Storage, run: RunRecord): Promise<RunWaiting | undefined> {
  if (FINISHED_STATUSES.has(run.status)) return undefined;
  const [last] = await storage.readEvents(run.runId, run.lastSeq, 1);
  if (last?.type !== 'run_waiting') return undefined;
  const { reason, workflow, queue, workerId, registered } = last.data;
  return { reason, workflow, queue, since: last.at, workerId, registered };
}
