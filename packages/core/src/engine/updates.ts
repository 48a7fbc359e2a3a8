import {
  type DurablyEvent,
  DurablyError,
  InvalidArgumentError,
  CancelledError,
  checkPayload,
  DEFAULT_LIMITS,
  deserialize,
  errorToObject,
  serialize,
  type RunStatus,
  type Serialized,
} from '@durably/contracts';
import { currentScope, runInScope, type Scope } from './scope.js';
import { ScopedReplay } from './scope-cancellation.js';

/** An update handler set by `update.handle(fn)` and the scope it was set in (its durable calls run there). */
interface UpdateHandler {
  handler: (payload: unknown) => unknown;
  scope: Scope | undefined;
}

/** A delivered update (update_requested) the run has not answered yet. */
interface PendingUpdate {
  updateId: string;
  name: string;
  payload: Serialized;
  /** Its handler is running (false: buffered, waiting for a handler of its name). */
  handling: boolean;
}

/**
 * Updates in a run's execution: an `update_requested` event goes to the handler of its name, else
 * waits in arrival order until one is set; the handler may call steps, sleep and wait like the
 * workflow function, and its return value (or its error) is recorded as `update_completed` (or
 * `update_failed`), once: a replay runs the handler again at the same point of the log (its steps
 * get the same positions) and writes nothing for an update whose answer the log already holds.
 * A handler that throws fails the update, not the run. `update_rejected` (written by the caller when
 * the validator refused the payload) is not the run's business: it is ignored.
 */
export abstract class UpdateHandling extends ScopedReplay {
  /** Update handlers by update name. */
  protected readonly updateHandlers = new Map<string, UpdateHandler>();

  /** Delivered and unanswered updates, in arrival order. */
  protected readonly pendingUpdates = new Map<string, PendingUpdate>();

  /** Ids of the updates answered in the log (read ahead by index()) or by this execution. */
  protected readonly answeredUpdates = new Set<string>();

  protected override index(ev: DurablyEvent): void {
    if (ev.seq > this.seq && (ev.type === 'update_completed' || ev.type === 'update_failed')) this.answeredUpdates.add(ev.data.updateId);
    super.index(ev);
  }

  /** Applies an update event (Replay.apply); true when a handler ran (the code may move on). */
  protected applyUpdate(ev: DurablyEvent): boolean {
    if (ev.type === 'update_requested') {
      if (this.pendingUpdates.has(ev.data.updateId)) return false; // the caller appends it once; a copy is not a second update
      const pending: PendingUpdate = { updateId: ev.data.updateId, name: ev.data.name, payload: ev.data.payload, handling: false };
      this.pendingUpdates.set(pending.updateId, pending);
      const handler = this.updateHandlers.get(pending.name);
      if (!handler) return false;
      this.runUpdateHandler(handler, pending);
      return true;
    }
    if (ev.type === 'update_completed' || ev.type === 'update_failed') this.pendingUpdates.delete(ev.data.updateId);
    return false;
  }

  /**
   * Sets the handler of update `name`; buffered updates of that name are handed to it first, in
   * arrival order. Returns the function that removes it (later updates are buffered again).
   */
  setUpdateHandler(name: string, handler: (payload: unknown) => unknown): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError(`${name}.handle(handler): the handler must be a function, got ${typeof handler}.`);
    const entry: UpdateHandler = { handler, scope: currentScope() };
    this.updateHandlers.set(name, entry);
    for (const pending of [...this.pendingUpdates.values()]) {
      if (this.updateHandlers.get(name) !== entry) break; // the handler replaced or removed itself
      if (pending.name === name && !pending.handling) this.runUpdateHandler(entry, pending);
    }
    return () => {
      if (this.updateHandlers.get(name) === entry) this.updateHandlers.delete(name);
    };
  }

  /** Runs the handler on the update's payload, in the handler's scope, and records its answer when it settles. */
  protected runUpdateHandler(entry: UpdateHandler, pending: PendingUpdate): void {
    pending.handling = true;
    const payload = deserialize(pending.payload);
    const result = runInScope(entry.scope, () => {
      try {
        return Promise.resolve(entry.handler(payload));
      } catch (err) {
        return Promise.reject(err);
      }
    });
    result.then(
      (value) => this.answerUpdate(pending, { ok: true, value }),
      (error: unknown) => this.answerUpdate(pending, { ok: false, error }),
    );
  }

  /** Queues the update's answer for the next append, unless the log (or this execution) has it already. */
  protected answerUpdate(pending: PendingUpdate, outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    // A run that failed answers its pending updates with its end (failUnansweredUpdates).
    if (this.fatal) return;
    this.pendingUpdates.delete(pending.updateId);
    if (this.answeredUpdates.has(pending.updateId)) return;
    this.answeredUpdates.add(pending.updateId);
    const { updateId, name } = pending;
    if (outcome.ok) {
      let result: Serialized;
      try {
        result = checkPayload(serialize(outcome.value, `the result of update "${name}"`), `The result of update "${name}"`, this.deps.limits ?? DEFAULT_LIMITS);
      } catch (err) {
        this.push({ type: 'update_failed', data: { updateId, name, error: errorToObject(err) } });
        return;
      }
      this.push({ type: 'update_completed', data: { updateId, name, result } });
    } else {
      this.push({ type: 'update_failed', data: { updateId, name, error: errorToObject(outcome.error) } });
    }
  }

  /**
   * The run ends (`status`) with updates delivered and not answered (no handler was set, or its
   * handler still ran): each is answered with a failure in the final append, so no caller waits
   * for an answer that cannot come. Continuations do not carry them: the caller sent them to this run.
   */
  protected failUnansweredUpdates(status: RunStatus): void {
    for (const pending of this.pendingUpdates.values()) {
      if (this.answeredUpdates.has(pending.updateId)) continue;
      this.answeredUpdates.add(pending.updateId);
      const what = pending.handling ? 'while its handler was still running' : `before the workflow set a handler for it (${pending.name}.handle(...))`;
      const keepAlive = 'Keep the run alive until its updates are answered, for example with condition() on the state the handler sets';
      const error =
        status === 'cancelled'
          ? new CancelledError(`the run was cancelled ${what}`)
          : status === 'failed'
            ? new DurablyError(`the run failed ${what}`)
            : status === 'continued'
              ? new DurablyError(`the run continued as new ${what}. ${keepAlive}, or send it again to the run that continues this one.`)
              : new DurablyError(`the run completed ${what}. ${keepAlive}.`);
      this.push({ type: 'update_failed', data: { updateId: pending.updateId, name: pending.name, error: errorToObject(error) } });
    }
    this.pendingUpdates.clear();
  }
}
