import {
  makeEvent,
  type DurablyEvent,
  type ParentClosePolicy,
  parseDuration,
  type Duration,
  CancelledError,
  ChildDepthExceededError,
  InvalidArgumentError,
  NonDeterminismError,
  deserialize,
  serialize,
  type Serialized,
  checkPayload,
  DEFAULT_LIMITS,
  type AttributePatch,
  mergeAttributes,
  sameAttributePatch,
} from '@durably/contracts';
import type { StepDefinition, WorkflowDefinition } from './definitions.js';
import { currentScope, runInScope, type WorkflowRuntime } from './scope.js';
import { resolveRetryPolicy } from './retry.js';
import { AttributesCommand, ChildCommand, ConditionCommand, HookCommand, PatchCommand, SignalCommand, SleepCommand, StepCommand, ValueCommand, type Command } from './commands.js';
import type { SignalHandler } from './batch.js';
import { randomUUID } from 'node:crypto';
import { newHookToken } from './hook-token.js';
import type { CreatedHook } from './scope.js';
import { fencedAppend } from './fenced-append.js';
import { describeIdentity } from './call-identity.js';
import { UpdateHandling } from './updates.js';
import type { CancelScope } from './cancel-scope.js';

/**
 * The durable calls workflow code makes (the WorkflowRuntime side of an execution): each becomes a
 * Command at its position; children and continuations are created here, idempotently.
 */
export abstract class DurableCalls extends UpdateHandling implements WorkflowRuntime {
  protected startFunction(args: unknown[]): void {
    const promise = runInScope({ kind: 'workflow', execution: this }, () => {
      try {
        return Promise.resolve(this.def.fn(...args));
      } catch (err) {
        return Promise.reject(err);
      }
    });
    promise.then(
      (value) => (this.outcome ??= { ok: true, value }),
      (error) => (this.outcome ??= { ok: false, error }),
    );
  }
  // ---- Durable calls made by workflow code (WorkflowRuntime) ----

  /** Registers the call at the next position (`make` builds it for that id), unless the run failed or was cancelled. */
  protected newCommand<C extends Command>(make: (id: string) => C): C {
    const id = String(++this.counter);
    const cmd = make(id);
    const scope = currentScope();
    cmd.shielded = scope?.kind === 'workflow' && scope.shielded === true;
    cmd.scope = scope?.kind === 'workflow' ? scope.cancelScope : undefined;
    const logged = this.logged.get(id);
    if (logged !== undefined && logged !== `${cmd.kind}:${cmd.name}`) {
      this.fail(new NonDeterminismError(id, describeIdentity(logged), cmd.describe()));
    }
    if (this.fatal) cmd.reject(this.fatal);
    else if (this.cancelReason && !cmd.shielded) cmd.reject(new CancelledError(this.cancelReason.reason));
    else if (cmd.scope?.cancellation) cmd.reject(cmd.scope.cancellation);
    else this.commands.set(id, cmd);
    return cmd;
  }

  callStep(def: StepDefinition, args: unknown[]): Promise<unknown> {
    const cmd = this.newCommand((id) => new StepCommand(id, def, args, resolveRetryPolicy(def.retry, this.def.stepRetry, `step("${def.name}")`)));
    return cmd.promise;
  }

  sleep(duration: Duration | Date): Promise<void> {
    const cmd = this.newCommand((id) => new SleepCommand(id, 'sleep'));
    if (duration instanceof Date) {
      const t = duration.getTime();
      if (Number.isNaN(t)) {
        this.commands.delete(cmd.id);
        cmd.reject(new InvalidArgumentError('sleep(date): the Date is invalid.'));
      }
      cmd.until = t;
    } else {
      try {
        cmd.durationMs = parseDuration(duration, 'sleep()');
      } catch (err) {
        this.commands.delete(cmd.id);
        cmd.reject(err);
      }
    }
    return cmd.promise as Promise<void>;
  }

  recordValue<T>(kind: 'now' | 'random' | 'uuid', produce: () => T): T {
    const cmd = this.newCommand((id) => new ValueCommand(id, kind));
    this.commands.delete(cmd.id);
    if (this.fatal) throw this.fatal;
    const logged = this.loggedData.get(cmd.id);
    if (logged?.type === 'value_recorded') return deserialize<T>(logged.data.value);
    const value = produce();
    this.push({ type: 'value_recorded', correlationId: cmd.id, data: { kind, value: serialize(value) } });
    return value;
  }

  createHook(name: string, timeoutMs?: number, multiUse = false): CreatedHook {
    const cmd = this.newCommand((id) => {
      const logged = this.loggedData.get(id);
      if (logged?.type === 'hook_created' && (logged.data.multiUse === true) !== multiUse) {
        this.fail(new NonDeterminismError(id, `hook "${name}" ${logged.data.multiUse ? 'with' : 'without'} multiUse`, `hook "${name}" ${multiUse ? 'with' : 'without'} multiUse`));
      }
      // 192 bits from the CSPRNG; recorded with hook_created, so a replay hands out the same token.
      const token = logged?.type === 'hook_created' ? logged.data.token : newHookToken(multiUse);
      return new HookCommand(id, name, token, timeoutMs, multiUse);
    });
    const inbox = cmd.inbox;
    if (!inbox) return { token: cmd.token, promise: cmd.promise };
    return { token: cmd.token, promise: cmd.promise, next: () => inbox.next(), close: () => this.closeHook(cmd) };
  }

  /**
   * Closes a multi-use hook: recorded as hook_closed with the token spent in the same append, so a
   * later resumeHook fails with HookAlreadyUsedError. The payloads already delivered stay readable.
   * A replay finds hook_closed in the log and records nothing.
   */
  protected closeHook(cmd: HookCommand): void {
    if (cmd.settled) return;
    cmd.closed = true;
    this.dropTimer(`hook:${cmd.id}`);
    if (!this.loggedClosed.has(cmd.id)) {
      this.push({ type: 'hook_closed', correlationId: cmd.id, data: { name: cmd.name } });
      // A hook closed before it was recorded never had an index entry: there is nothing to spend.
      if (cmd.started) this.setHooks.push({ ...this.hookRecord(cmd), consumedAt: this.deps.clock() });
    }
    if (!cmd.started) this.commands.delete(cmd.id);
    cmd.resolve(undefined);
  }

  waitForSignal(name: string, timeoutMs?: number): Promise<unknown> & { cancel(): boolean } {
    const cmd = this.newCommand((id) => new SignalCommand(id, name, timeoutMs));
    const queued = this.signalQueues.get(name);
    if (!cmd.settled && this.signalHandlers.has(name)) {
      this.commands.delete(cmd.id);
      cmd.reject(new InvalidArgumentError(`waitForSignal("${name}"): the workflow has a handler for signal "${name}" (onSignal), which takes every signal of that name. Wait with condition() for the state the handler sets, or remove the handler (call the function onSignal returned) first.`));
    } else if (!cmd.settled && queued && queued.length > 0) {
      this.settle(cmd, { ok: true, value: queued.shift()!.value });
    }
    return Object.assign(cmd.promise, { cancel: () => this.cancelSignalWait(cmd) });
  }

  /**
   * Cancels a pending wait (it rejects with CancelledError and takes no later signal), recorded as
   * signal_wait_cancelled so a replay checks the code cancels it at the same point. False when the
   * wait had already ended (a signal, its timeout, the run's cancellation).
   */
  protected cancelSignalWait(cmd: SignalCommand): boolean {
    if (cmd.settled || this.commands.get(cmd.id) !== cmd) return false;
    this.dropTimer(`signal:${cmd.id}`);
    if (this.loggedData.get(cmd.id)?.type !== 'signal_wait_cancelled') this.push({ type: 'signal_wait_cancelled', correlationId: cmd.id, data: { name: cmd.name } });
    this.settle(cmd, { ok: false, error: new CancelledError(`waitForSignal("${cmd.name}") was cancelled by the workflow.`) });
    return true;
  }

  /**
   * Sets the handler of signal `name`: it runs for every signal of that name, first for the ones
   * buffered before it was set (in arrival order). Returns the function that removes it.
   */
  onSignal(name: string, handler: (payload: unknown) => unknown): () => void {
    for (const cmd of this.commands.values()) {
      if (cmd.kind === 'signal' && cmd.name === name && !cmd.settled) {
        throw new InvalidArgumentError(`onSignal("${name}"): a waitForSignal("${name}") is pending, and a handler would take the signals it waits for. Cancel the wait (wait.cancel()) before setting the handler, or use one of the two.`);
      }
    }
    const entry: SignalHandler = { handler, scope: currentScope() };
    this.signalHandlers.set(name, entry);
    const queued = this.signalQueues.get(name);
    while (queued && queued.length > 0 && this.signalHandlers.has(name)) this.runSignalHandler(this.signalHandlers.get(name)!, queued.shift()!.value);
    if (queued?.length === 0) this.signalQueues.delete(name);
    return () => {
      if (this.signalHandlers.get(name) === entry) this.signalHandlers.delete(name);
    };
  }

  /**
   * Calls a handler in the scope it was set in. Its rejection fails the run as the workflow
   * function's would, except a CancelledError while the run is being cancelled (the function decides).
   */
  protected runSignalHandler(entry: SignalHandler, payload: unknown): void {
    const result = runInScope(entry.scope, () => {
      try {
        return Promise.resolve(entry.handler(payload));
      } catch (err) {
        return Promise.reject(err);
      }
    });
    result.catch((error: unknown) => {
      if (error instanceof CancelledError && this.cancelReason) return;
      this.outcome ??= { ok: false, error };
    });
  }

  /**
   * Resolves true once `predicate` holds, tested after the code ran (a handler, an outcome); false
   * when `timeoutMs` passes first (a durable timer). True at once when it holds already.
   */
  condition(predicate: () => boolean, timeoutMs?: number): Promise<boolean> {
    const cmd = this.newCommand((id) => new ConditionCommand(id, predicate, timeoutMs));
    if (!cmd.settled) this.testCondition(cmd);
    return cmd.promise as Promise<boolean>;
  }

  protected readonly queryHandlers = new Map<string, (...args: any[]) => unknown>();

  setQueryHandler(name: string, handler: (...args: any[]) => unknown): void {
    this.queryHandlers.set(name, handler);
  }

  /** The names of the queries the workflow code has registered handlers for (after a feed). */
  queryNames(): string[] {
    return [...this.queryHandlers.keys()];
  }

  /** The answer of a query handler registered by the workflow code (after a feed), called with `args`. */
  answerQuery(name: string, args: unknown[] = []): { found: boolean; value?: unknown } {
    const handler = this.queryHandlers.get(name);
    return handler ? { found: true, value: handler(...args) } : { found: false };
  }

  isReplaying(): boolean {
    return this.replaying || this.deps.readOnly === true;
  }

  patched(patchId: string): boolean {
    const position = String(this.counter + 1);
    const logged = this.logged.get(position);
    if (logged !== undefined && logged !== `patch:${patchId}`) return false; // an old run: its log has another call here
    const cmd = this.newCommand((id) => new PatchCommand(id, patchId));
    this.commands.delete(cmd.id);
    if (logged === undefined) this.push({ type: 'patch_marker', correlationId: cmd.id, data: { patchId } });
    return true;
  }

  /**
   * Records `attributes` (checked by the caller) with the next append, which merges them into the run
   * record; a replay checks the code sets the same ones at the same position and records nothing.
   */
  setAttributes(attributes: AttributePatch): void {
    const logged = this.loggedData.get(String(this.counter + 1));
    // Checked before the call takes a position, so a refused call changes nothing (and replays alike).
    const next = logged?.type === 'attributes_set' ? undefined : mergeAttributes(this.attributes, attributes);
    const cmd = this.newCommand((id) => new AttributesCommand(id, 'setAttributes()'));
    this.commands.delete(cmd.id);
    if (this.fatal) throw this.fatal;
    if (logged?.type === 'attributes_set') {
      if (!sameAttributePatch(logged.data.attributes, attributes)) {
        const error = new NonDeterminismError(cmd.id, `setAttributes(${JSON.stringify(logged.data.attributes)})`, `setAttributes(${JSON.stringify(attributes)})`);
        this.fail(error);
        throw error;
      }
      this.attributes = mergeAttributes(this.attributes, attributes);
      return;
    }
    this.attributes = next!;
    this.push({ type: 'attributes_set', correlationId: cmd.id, data: { attributes } });
  }

  startChild(def: WorkflowDefinition, args: unknown[], options: { parentClosePolicy: ParentClosePolicy; queue?: string }): Promise<{ runId: string; result: Promise<unknown> }> {
    const cmd = this.newCommand((id) => new ChildCommand(id, { def, args, policy: options.parentClosePolicy, queue: options.queue }));
    return cmd.promise as Promise<{ runId: string; result: Promise<unknown> }>;
  }

  protected trackChild(position: string, runId: string, workflow: string, policy: ParentClosePolicy, scope: CancelScope | undefined): { runId: string; result: Promise<unknown> } {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.children.set(position, { runId, workflow, policy, done: false, resolve, reject, promise, scope });
    return { runId, result: promise };
  }

  /**
   * Creates the runs of new startChild calls. Creation is idempotent (keyed by this run and the call's
   * position), so a replay after a crash finds the child it created instead of making a second one.
   */
  protected async createChildren(): Promise<boolean> {
    let created = false;
    for (const cmd of [...this.commands.values()]) {
      if (cmd.kind !== 'child' || cmd.settled || cmd.started) continue;
      cmd.started = true;
      const { def, args, policy, queue: childQueue } = cmd.child;
      const now = this.deps.clock();
      const queue = childQueue ?? def.queue;
      let serialized: string;
      try {
        serialized = checkPayload(serialize(args, `the arguments of child workflow "${def.name}"`), `The arguments of child workflow "${def.name}"`, this.deps.limits ?? DEFAULT_LIMITS);
      } catch (err) {
        this.settle(cmd, { ok: false, error: err });
        created = true;
        continue;
      }
      // Both numbers come from this run's log (but for logs older than the limit), so a replay decides alike.
      const nesting = { depth: (this.nesting?.depth ?? 0) + 1, maxDepth: this.nesting?.maxDepth ?? (this.deps.limits ?? DEFAULT_LIMITS).maxChildDepth };
      if (nesting.depth > nesting.maxDepth) {
        this.settle(cmd, { ok: false, error: new ChildDepthExceededError(this.runId, def.name, nesting.depth, nesting.maxDepth) });
        created = true;
        continue;
      }
      const runId = randomUUID();
      const idempotencyKey = `child:${this.runId}:${cmd.id}`;
      const parent = { runId: this.runId, correlationId: cmd.id, parentClosePolicy: policy };
      const { run } = await this.deps.storage.createRun({
        runId,
        workflow: def.name,
        queue,
        args: serialized,
        idempotencyKey,
        parentRunId: this.runId,
        createdAt: now,
        // The child workflow's own tags, as a start() of it would give (listRuns({ tags }) finds it).
        tags: def.tags.length > 0 ? [...def.tags] : undefined,
        firstEvent: makeEvent(runId, 1, 'run_created', { workflow: def.name, args: serialized, queue, idempotencyKey, parent, nesting, ...this.trace }, undefined, now),
      });
      this.push({ type: 'child_started', correlationId: cmd.id, data: { childRunId: run.runId, workflow: def.name, parentClosePolicy: policy } });
      this.startRuns.push({ runId: run.runId, queue });
      this.settle(cmd, { ok: true, value: this.trackChild(cmd.id, run.runId, def.name, policy, cmd.scope) });
      created = true;
    }
    return created;
  }

  /**
   * Creates the run that continues this one. Its creation is idempotent (keyed by this run), so a
   * crash between it and this run's final append does not start a second continuation on replay.
   */
  protected async createContinuation(args: unknown[], now: number): Promise<string> {
    const serialized = serialize(args, `the arguments of continueAsNew in workflow "${this.workflowName}"`);
    const carriedSignals = this.unconsumedSignals();
    const runId = randomUUID();
    const idempotencyKey = `continue:${this.runId}`;
    const { run, created } = await this.deps.storage.createRun({
      runId,
      workflow: this.workflowName,
      queue: this.run.queue,
      args: serialized,
      idempotencyKey,
      createdAt: now,
      parentRunId: this.parentLink?.runId,
      // The chain is one workflow to whoever lists it by tag: the next run keeps this run's tags.
      tags: this.run.tags?.length ? [...this.run.tags] : undefined,
      // A continued child keeps its parent: the last run of the chain reports to it.
      firstEvent: makeEvent(
        runId,
        1,
        'run_created',
        {
          workflow: this.workflowName,
          args: serialized,
          queue: this.run.queue,
          idempotencyKey,
          continuedFrom: this.runId,
          ...(this.parentLink ? { parent: this.parentLink } : {}),
          ...(this.nesting ? { nesting: this.nesting } : {}),
          ...(carriedSignals.length > 0 ? { carriedSignals } : {}),
          ...this.trace,
        },
        undefined,
        now,
      ),
    });
    if (!created) await this.carryLateSignals(run.runId, carriedSignals, now);
    return run.runId;
  }

  /**
   * The continuation was created by an earlier attempt of this final append, which then lost a race
   * (a signal arrived). Signals that arrived since are not in its run_created: append them to it.
   */
  protected async carryLateSignals(nextRunId: string, carried: Array<{ name: string; payload: Serialized }>, now: number): Promise<void> {
    await fencedAppend<void>(this.deps.storage, async () => {
      const events = await this.deps.storage.readEvents(nextRunId);
      const first = events[0];
      if (first?.type !== 'run_created') return { done: undefined };
      const already = (first.data.carriedSignals?.length ?? 0) + events.filter((e) => e.type === 'signal_received' && e.data.carried).length;
      const missing = carried.slice(already);
      if (missing.length === 0) return { done: undefined };
      const lastSeq = events.at(-1)!.seq;
      const appended = missing.map((m, i) => makeEvent(nextRunId, lastSeq + 1 + i, 'signal_received', { name: m.name, payload: m.payload, carried: true }, undefined, now) as DurablyEvent);
      return { append: { runId: nextRunId, expectedSeq: lastSeq, events: appended }, value: undefined };
    });
  }
}
