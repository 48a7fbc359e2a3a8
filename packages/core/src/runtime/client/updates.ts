import { randomUUID } from 'node:crypto';
import {
  type Broker,
  checkName,
  checkPayload,
  checkUpdateId,
  deserialize,
  type Duration,
  type DurablyEvent,
  FINISHED_STATUSES,
  InvalidArgumentError,
  type Limits,
  makeEvent,
  objectToError,
  parseDuration,
  RunAlreadyFinishedError,
  RunNotFoundError,
  type RunRecord,
  serialize,
  type Storage,
  TERMINAL_EVENT_TYPES,
  UpdateFailedError,
  UpdateRejectedError,
  UpdateTimeoutError,
} from '@durably/contracts';
import { getUpdateDefinition, type UpdateDefinition } from '../../engine/update-definition.js';
import { fencedAppend, wakePatch } from '../../engine/fenced-append.js';
import { publishTask } from '../tasks/publish.js';
import { brokerQueue, runTask } from '../tasks/messages.js';
import { onRunProgress } from './notify.js';

/** Options of `client.update(runId, update, payload, options)`. */
export interface UpdateCallOptions {
  /**
   * Names this update (default: a new UUID). A call with the id of an update the run already has
   * appends nothing and returns (or throws) that update's recorded answer: give one when the call
   * may be retried (after a timeout, a crash of the caller) and must not be delivered twice.
   */
  updateId?: string;
  /** How long to wait for the answer; then UpdateTimeoutError (the update stays delivered). Default: no limit. */
  timeout?: Duration;
}

/** What the update calls need of a client (Client has all of it). */
export interface UpdateHost {
  readonly storage: Storage;
  readonly broker: Broker;
  readonly clock: () => number;
  readonly limits: Limits;
  ensureReady(): Promise<void>;
  nextInChain(run: RunRecord): Promise<string | undefined>;
}

/** An update checked in the caller: its payload serialized, or the reason it was refused. */
export type PreparedUpdate = { name: string; updateId: string; explicitId: boolean; timeoutMs?: number } & ({ ok: true; payload: string } | { ok: false; reason: string });

/**
 * Checks the update in the caller: the name, the options, then the definition's `schema` and
 * `validate` on the payload (the definition passed, or the one defined under that name in this
 * process; a name with no definition here is sent unchecked, as a hook payload is), then its size.
 */
export async function prepareUpdate(host: UpdateHost, update: UpdateDefinition<any, any> | string, payload: unknown, options: UpdateCallOptions = {}): Promise<PreparedUpdate> {
  const name = typeof update === 'string' ? update : update?.name;
  checkName('Update', name);
  const def = typeof update === 'string' ? getUpdateDefinition(update) : update;
  const explicitId = options.updateId !== undefined;
  const updateId = explicitId ? checkUpdateId(options.updateId, `update("${name}")`) : randomUUID();
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, `update("${name}", { timeout })`);
  const base = { name, updateId, explicitId, timeoutMs };
  let value = payload;
  if (def?.schema) {
    const parsed = def.schema.safeParse(payload);
    if (!parsed.success) return { ...base, ok: false, reason: `the payload does not match its schema: ${describeIssues(parsed.error)}` };
    value = parsed.data;
  }
  if (def?.validate) {
    try {
      await def.validate(value);
    } catch (err) {
      return { ...base, ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }
  await host.ensureReady(); // the limits of a config file apply
  return { ...base, ok: true, payload: checkPayload(serialize(value, `the payload of update "${name}"`), `The payload of update "${name}"`, host.limits) };
}

/**
 * Delivers a prepared update and waits for its answer. The request is one `update_requested`
 * appended by the fenced append (a rejected one: one `update_rejected`, and UpdateRejectedError),
 * after which the run is woken as by a signal. A run that continued as new passes it on to the run
 * that continues it. With an explicit updateId the log is searched first: an update already there
 * is not appended again, and its recorded answer is returned.
 */
export async function deliverUpdate<R>(host: UpdateHost, runId: string, update: PreparedUpdate): Promise<R> {
  await host.ensureReady();
  const { name, updateId } = update;
  type Found = { kind: 'delivered'; seq: number; queue: string; fresh: boolean } | { kind: 'finished'; run: RunRecord };
  for (let target = runId; ; ) {
    const outcome = await fencedAppend<Found>(host.storage, async () => {
      const run = await host.storage.getRun(target);
      if (!run) throw new RunNotFoundError(target);
      if (update.explicitId) {
        const found = (await host.storage.readEvents(target)).find((e) => (e.type === 'update_requested' || e.type === 'update_rejected') && e.data.updateId === updateId);
        if (found?.type === 'update_rejected') throw new UpdateRejectedError(target, name, found.data.reason);
        if (found) return { done: { kind: 'delivered', seq: found.seq, queue: run.queue, fresh: false } };
      }
      if (FINISHED_STATUSES.has(run.status)) return { done: { kind: 'finished', run } };
      const event = update.ok
        ? makeEvent(target, run.lastSeq + 1, 'update_requested', { updateId, name, payload: update.payload }, undefined, host.clock())
        : makeEvent(target, run.lastSeq + 1, 'update_rejected', { updateId, name, reason: update.reason }, undefined, host.clock());
      // A refusal never wakes the run; a request does (wakePatch).
      return { append: { runId: target, expectedSeq: run.lastSeq, events: [event as DurablyEvent], run: update.ok ? wakePatch(run) : undefined }, value: { kind: 'delivered', seq: run.lastSeq + 1, queue: run.queue, fresh: true } };
    });
    if (outcome.kind === 'finished') {
      const next = await host.nextInChain(outcome.run);
      if (!next) throw new RunAlreadyFinishedError(target, outcome.run.status, 'update');
      target = next;
      continue;
    }
    if (!update.ok) throw new UpdateRejectedError(target, name, update.reason);
    if (outcome.fresh) await publishTask(host.broker, brokerQueue(outcome.queue), runTask(target, 'update'), 0, host.clock);
    return awaitAnswer<R>(host, target, update, outcome.seq);
  }
}

/**
 * Reads the run's log after the request (only the new events each time, with a backoff from 10 ms
 * to 500 ms, and at once when a worker in this process stopped advancing the run) until the
 * update's answer is there. Every run that ends answers its unanswered updates
 * in its final append; a run ended from outside (a parent's terminate) has none, and its end fails
 * the update here.
 */
async function awaitAnswer<R>(host: UpdateHost, runId: string, update: PreparedUpdate, requestSeq: number): Promise<R> {
  const deadline = update.timeoutMs === undefined ? Infinity : Date.now() + update.timeoutMs;
  let from = requestSeq + 1;
  // A worker in this process tells when it stopped advancing the run (set while the log is read, so no notice is lost).
  let wake: (() => void) | undefined;
  let noticed = false;
  const unsubscribe = onRunProgress(host.storage, runId, () => {
    noticed = true;
    wake?.();
  });
  try {
    for (let delay = 10; ; delay = Math.min(delay * 2, 500)) {
      noticed = false;
      const answer = await readAnswer<R>(host, runId, update, from);
      if (answer.found) return answer.value;
      from = answer.from;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new UpdateTimeoutError(runId, update.name, update.updateId, update.timeoutMs!);
      if (noticed) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(delay, remaining));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
  }
}

/** The update's answer in the run's log from seq `from` on (throws a failure), or where to read next time. */
async function readAnswer<R>(host: UpdateHost, runId: string, update: PreparedUpdate, from: number): Promise<{ found: true; value: R } | { found: false; from: number }> {
  const events = await host.storage.readEvents(runId, from);
  for (const ev of events) {
    if ((ev.type === 'update_completed' || ev.type === 'update_failed') && ev.data.updateId === update.updateId) {
      if (ev.type === 'update_completed') return { found: true, value: deserialize<R>(ev.data.result) };
      throw new UpdateFailedError(runId, update.name, objectToError(ev.data.error));
    }
    if (TERMINAL_EVENT_TYPES.has(ev.type)) throw new UpdateFailedError(runId, update.name, new Error(`the run ended (${ev.type}) before it answered the update`));
  }
  return { found: false, from: events.length > 0 ? events.at(-1)!.seq + 1 : from };
}

/** Checks that update-with-start was given what it needs: the key that finds the run to update. */
export function checkUpdateWithStart(options: { idempotencyKey?: string; update?: unknown }): void {
  if (options.idempotencyKey === undefined) {
    throw new InvalidArgumentError('updateWithStart(): give an idempotencyKey: it finds the run to update, or names the one to start when none has it.');
  }
  if (options.update === undefined) throw new InvalidArgumentError('updateWithStart(): give the update to send ({ update, payload }).');
}

function describeIssues(error: unknown): string {
  const issues = (error as { issues?: Array<{ path?: unknown[]; message?: string }> })?.issues;
  if (Array.isArray(issues)) return issues.map((i) => `${(i.path ?? []).join('.') || '(root)'}: ${i.message}`).join('; ');
  return error instanceof Error ? error.message : String(error);
}
