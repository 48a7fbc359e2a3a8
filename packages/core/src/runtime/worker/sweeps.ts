import { FINISHED_STATUSES } from '@durably/contracts';
import { openClaim } from '../../engine/claims.js';
import type { CombinedInstrumentation } from '../../observe/instrumentation.js';
import type { Client } from '../client/client.js';
import { brokerQueue, runTask } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';

/** How long a sweep's claim on an overdue timer holds before another sweep may wake its run again. */
const OVERDUE_TIMER_CLAIM_MS = 10_000;

/** What the sweeps need of their worker. */
export interface SweepContext {
  client: Client;
  instrumentation: CombinedInstrumentation;
  staleAfterMs: number;
  /** How long past due a timer is left to its wake-up before the sweep wakes the run (timerSweepGrace). */
  timerGraceMs: number;
  queues: string[];
  /** True when this worker has the workflow. */
  canRun(workflow: string): boolean;
  /** True while the run is being advanced here. */
  isActive(runId: string): boolean;
}

/** Publishes wake-ups for timers overdue by more than a grace period (their message was lost or late). */
export async function sweepTimers(ctx: SweepContext): Promise<void> {
  const { client, instrumentation } = ctx;
  const now = client.clock();
  const graceMs = ctx.timerGraceMs;
  // The claim keeps other sweeps from waking the run again while this wake-up is handled. It is not
  // tied to the broker's visibility timeout: a wake-up can be swallowed by a consumer that is dying
  // (SQS answers a long poll whose client is gone, and that message stays invisible for the whole
  // visibility timeout), so a timer still overdue is woken again after 12 s, duplicates being harmless.
  const timers = await client.storage.claimDueTimers(now - graceMs, { limit: 100, leaseMs: OVERDUE_TIMER_CLAIM_MS + graceMs });
  for (const timer of timers) {
    const run = await client.storage.getRun(timer.runId);
    // Left behind by a run that ended, or the lease of an attempt that already ended (a renewal that
    // raced its outcome): delete it (an empty append that only clears the timer). A lapsed lease of
    // an attempt in flight wakes the run, whose worker takes the attempt over.
    const stray =
      run !== undefined &&
      (FINISHED_STATUSES.has(run.status) || (timer.timerId.startsWith('lease:') && !openClaim(await client.storage.readEvents(run.runId), timer.timerId.slice('lease:'.length))));
    if (stray) {
      await client.storage.append({ runId: run.runId, expectedSeq: run.lastSeq, events: [], clearTimers: [timer.timerId] }).catch(() => undefined);
      continue;
    }
    // The claim took the timer from every worker's sweep: wake the run on its own queue even when
    // this worker does not listen on it, or the run would wait for the claim to run out.
    if (!run) continue;
    instrumentation.recovery({ kind: 'overdue_timer', runId: timer.runId, detail: { timerId: timer.timerId, lateMs: now - timer.fireAt } });
    await publishTask(client.broker, brokerQueue(run.queue), runTask(timer.runId, 'timer'), 0, client.clock);
  }
}

/**
 * Finds runs left pending or running by a dead process and republishes them: only runs this worker
 * can run (its queues, its workflows), so a run that waits for a worker with its workflow is not
 * sent round between workers that do not have it. It pages on past the runs it skips, and resumes
 * at most 100 per sweep.
 */
export async function sweepStuckRuns(ctx: SweepContext): Promise<void> {
  const { client, instrumentation } = ctx;
  const now = client.clock();
  let cursor: string | undefined;
  let resumed = 0;
  for (let pages = 0; pages < 10 && resumed < 100; pages++) {
    const page = await client.storage.listRuns({ status: ['pending', 'running'], updatedBefore: now - ctx.staleAfterMs, limit: 100, cursor });
    for (const run of page.runs) {
      if (run.startAt !== undefined && run.startAt > now) continue;
      if (!ctx.queues.includes(run.queue) || !ctx.canRun(run.workflow) || ctx.isActive(run.runId) || resumed >= 100) continue;
      resumed++;
      // Touch first so that other workers' sweeps leave it alone for another stale period.
      await client.storage.touchRun(run.runId, now);
      instrumentation.recovery({ kind: 'stale_run', runId: run.runId, detail: { workflow: run.workflow, status: run.status, idleMs: now - run.updatedAt } });
      await publishTask(client.broker, brokerQueue(run.queue), runTask(run.runId, 'recover'), 0, client.clock);
    }
    if (!page.nextCursor) return;
    cursor = page.nextCursor;
  }
}
