import {
  CancelledError,
  DurablyError,
  FINISHED_STATUSES,
  TERMINAL_EVENT_TYPES,
  errorToObject,
  makeEvent,
  type DurablyEvent,
  type EventDataMap,
  type ParentClosePolicy,
  type RunRecord,
} from '@durably/contracts';
import type { FlushEffects } from '../../engine/execution.js';
import { fencedAppend, wakePatch } from '../../engine/fenced-append.js';
import type { Client } from '../client/client.js';
import { notifyRunFinished } from '../client/notify.js';
import { brokerQueue, runTask, type RunTask } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';

/**
 * Parents and children: what a run's end does to the other runs of its family (its parent's log, its
 * children by their parent-close policy), and its repair when a run's task is delivered again after
 * its final append.
 */

/** The parent ended first: end the child at once ("terminate") or ask it to cancel ("request_cancel"). */
export async function closeChild(client: Client, runId: string, policy: ParentClosePolicy): Promise<void> {
  const reason = 'the parent run ended';
  if (policy === 'terminate') {
    await terminateChild(client, runId, 1);
  } else if (policy === 'request_cancel') {
    const done = await client.appendExternal(runId, 'cancel_requested', { reason });
    if (done.ok) await publishTask(client.broker, brokerQueue(done.queue), runTask(runId, 'cancel'), 0, client.clock);
  }
}

/** A child started in a scope its parent cancelled: ask it to cancel, unless it was asked already or has ended. */
export async function cancelChild(client: Client, runId: string, reason: string): Promise<void> {
  await appendOnce(client, runId, undefined, { type: 'cancel_requested', data: { reason } }, (e) => e.type === 'cancel_requested', 'cancel');
}

/**
 * What follows a run's final append — telling its parent, closing its children — runs once after
 * that append; if it failed (storage away at that moment), the task is delivered again and lands
 * here. Each effect is checked against the other run's log before it is redone, so doing it twice
 * is harmless. (Starts of continuations, dispatched steps and timers have their own sweeps.)
 */
export async function repairFinished(client: Client, run: RunRecord, log: DurablyEvent[]): Promise<void> {
  const first = log[0];
  const end = log.findLast((e) => TERMINAL_EVENT_TYPES.has(e.type));
  if (first?.type !== 'run_created' || !end || end.type === 'run_continued') return;
  const parent = first.data.parent;
  if (parent) {
    const error = end.type === 'run_cancelled' ? errorToObject(new CancelledError(end.data.reason)) : run.error;
    const event =
      run.status === 'completed'
        ? { type: 'child_completed' as const, data: { childRunId: run.runId, result: run.result! } }
        : { type: 'child_failed' as const, data: { childRunId: run.runId, error: error ?? errorToObject(new DurablyError(`child run ${run.runId} ended as ${run.status}`)) } };
    await appendOnce(client, parent.runId, parent.correlationId, event, (e) => (e.type === 'child_completed' || e.type === 'child_failed') && e.correlationId === parent.correlationId, 'step');
  }
  await closeChildrenOf(client, log);
}

/**
 * Applies the parent-close policy to the children still running of a run that ended, read from its
 * log. Repeating it is harmless: finished children are skipped and a cancel request is sent once.
 */
export async function closeChildrenOf(client: Client, log: DurablyEvent[], depth = 0): Promise<void> {
  const settled = new Set(log.flatMap((e) => (e.type === 'child_completed' || e.type === 'child_failed' ? [e.data.childRunId] : [])));
  for (const e of log) {
    if (e.type !== 'child_started' || e.data.parentClosePolicy === 'abandon' || settled.has(e.data.childRunId)) continue;
    if (e.data.parentClosePolicy === 'terminate') {
      await terminateChild(client, e.data.childRunId, depth + 1);
    } else {
      await appendOnce(client, e.data.childRunId, undefined, { type: 'cancel_requested', data: { reason: 'the parent run ended' } }, (x) => x.type === 'cancel_requested', 'cancel');
    }
  }
}

/**
 * Ends a child at once (parent-close policy "terminate"). No code of the child runs, so its own
 * children are closed here, by their policies, down the tree.
 */
export async function terminateChild(client: Client, runId: string, depth: number): Promise<void> {
  const now = client.clock();
  const reason = 'the parent run ended';
  const done = await client.appendExternal(runId, 'run_cancelled', { reason }, { run: { status: 'cancelled', error: errorToObject(new CancelledError(reason)), finishedAt: now }, releaseSlots: true });
  if (done.ok) notifyRunFinished(client.storage, runId);
  if (depth < 100) await closeChildrenOf(client, await client.storage.readEvents(runId), depth);
}

/**
 * Appends `event` to another run unless its log already has one that `exists` matches (re-checked
 * after every lost race), then wakes that run. Nothing happens if the run is gone or finished.
 */
export async function appendOnce<K extends keyof EventDataMap>(client: Client, 
  runId: string,
  correlationId: string | undefined,
  event: { type: K; data: EventDataMap[K] },
  exists: (e: DurablyEvent) => boolean,
  reason: RunTask['reason'],
): Promise<void> {
  const storage = client.storage;
  const queue = await fencedAppend<string | undefined>(storage, async () => {
    const target = await storage.getRun(runId);
    if (!target || FINISHED_STATUSES.has(target.status)) return { done: undefined };
    const events = await storage.readEvents(runId);
    if (events.some(exists)) return { done: undefined };
    const lastSeq = events.at(-1)?.seq ?? target.lastSeq;
    return { append: { runId, expectedSeq: lastSeq, events: [makeEvent(runId, lastSeq + 1, event.type, event.data as never, correlationId, client.clock()) as DurablyEvent], run: wakePatch(target) }, value: target.queue };
  });
  if (queue !== undefined) await publishTask(client.broker, brokerQueue(queue), runTask(runId, reason), 0, client.clock);
}

/** A child ended: record its outcome in the parent's log (unless the parent ended) and wake the parent. */
export async function notifyParent(client: Client, notice: NonNullable<FlushEffects['notifyParent']>): Promise<void> {
  const done = await client.appendExternal(notice.parentRunId, notice.event.type, notice.event.data as never, { correlationId: notice.correlationId });
  if (done.ok) await publishTask(client.broker, brokerQueue(done.queue), runTask(notice.parentRunId, 'step'), 0, client.clock);
}
