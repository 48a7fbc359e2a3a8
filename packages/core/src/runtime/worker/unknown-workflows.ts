import type { Client } from '../client/client.js';
import { AppendConflictError, RunNotFoundError, makeEvent, type DurablyEvent, type Logger, type RunRecord } from '@durably/contracts';
import { brokerQueue, type RunTask } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';

/** Times a task for an unknown workflow is passed on before it is left to wait (then 0.5 s, 1 s, 2 s apart). */
const MAX_HOPS = 3;

/**
 * Runs of a workflow that this worker does not have. Such a run is not a poison message: a worker
 * that has its workflow may be deploying right now. So the worker logs one error per workflow,
 * marks the run as waiting (`run_waiting`, which `handle.waitingFor()` reports), passes the task on a
 * few times (another worker on the queue may have the workflow), and then leaves it. The run stays
 * pending, with nothing dead-lettered and no message going round between workers that cannot run
 * it: the recovery sweep of a worker republishes only runs whose workflow it has, and a worker that
 * starts looks for the waiting runs of its workflows (`findWaitingRuns`) and runs them itself.
 */
export class UnknownWorkflows {
  private readonly reported = new Set<string>();

  constructor(
    private readonly client: Client,
    private readonly logger: Logger,
    private readonly workerId: string,
    private readonly registered: () => string[],
  ) {}

  async handle(run: RunRecord, log: DurablyEvent[], task: RunTask): Promise<void> {
    const registered = this.registered();
    if (!this.reported.has(run.workflow)) {
      this.reported.add(run.workflow);
      this.logger.error(`workflow "${run.workflow}" is not registered in this worker; its runs wait for a worker that has it`, {
        workflow: run.workflow,
        queue: run.queue,
        registered,
        runId: run.runId,
        fix: `start a worker with createWorker({ workflows: [...] }) including "${run.workflow}", listening on queue "${run.queue}"`,
      });
    }
    const last = log.at(-1);
    if (last && last.type !== 'run_waiting') {
      const event = makeEvent(run.runId, last.seq + 1, 'run_waiting', { reason: 'workflow_not_registered', workflow: run.workflow, queue: run.queue, workerId: this.workerId, registered: registered.slice(0, 50) }, undefined, this.client.clock()) as DurablyEvent;
      try {
        await this.client.storage.append({ runId: run.runId, expectedSeq: last.seq, events: [event] });
      } catch (err) {
        // Another writer got there first (a worker that has the workflow, say): nothing to mark.
        if (!(err instanceof AppendConflictError) && !(err instanceof RunNotFoundError)) throw err;
        return;
      }
    }
    const hops = task.hops ?? 0;
    if (hops < MAX_HOPS) {
      await publishTask(this.client.broker, brokerQueue(run.queue), { ...task, hops: hops + 1, notBefore: undefined }, 500 * 2 ** hops, this.client.clock);
    }
  }

  /**
   * The runs of `workflows` that wait for a worker that has them (pending, their log ending with
   * `run_waiting`), on this worker's queues. Looked for when the worker starts, which then runs them
   * itself: a task published for them could go to a worker on the same queue that does not have the
   * workflow either. Bounded to a few thousand pending runs; the recovery sweep takes care of any beyond.
   */
  async findWaitingRuns(workflows: Set<string>, queues: string[]): Promise<string[]> {
    const storage = this.client.storage;
    const now = this.client.clock();
    let cursor: string | undefined;
    const found: string[] = [];
    for (let page = 0; page < 20; page++) {
      const { runs, nextCursor } = await storage.listRuns({ status: 'pending', limit: 200, cursor });
      for (const run of runs) {
        if (!workflows.has(run.workflow) || !queues.includes(run.queue) || (run.startAt !== undefined && run.startAt > now)) continue;
        const [last] = await storage.readEvents(run.runId, run.lastSeq, 1);
        if (last?.type === 'run_waiting') found.push(run.runId);
      }
      if (!nextCursor) break;
      cursor = nextCursor;
    }
    if (found.length > 0) this.logger.info('starting runs that waited for a worker with their workflow', { runs: found.length });
    return found;
  }
}
