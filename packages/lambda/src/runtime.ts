import { createHash } from 'node:crypto';
import { ChildContextError, StepError, type DurableContext } from '@aws/durable-execution-sdk-js';
import {
  ChildWorkflowFailedError,
  parseDuration,
  runtimeKit,
  StepFailedError,
  validateArgs,
  type Duration,
  type Logger,
  type ParentClosePolicy,
  type StepDefinition,
  type WorkflowDefinition,
} from '@durably/core';
import { carriedError, durablyError, errorData, recordedSerdes, type Recorded } from './codec.js';
import { ServerlessUnsupportedError } from './errors.js';
import { createHookOperations } from './hook-operations.js';
import { sdkLogger } from './logger.js';
import { NEVER } from './never.js';
import type { OperationIndex } from './operation-index.js';
import { retryStrategy, toSeconds } from './retry.js';

export interface RuntimeSetup {
  ctx: DurableContext;
  index: OperationIndex;
  runId: string;
  definition: WorkflowDefinition;
  /** Prefix of this runtime's operation names: '' for the workflow, 'child:<name>#<n>/' for a child. */
  path: string;
  /** The SDK id of the context this runtime's operations sit under; undefined for the root. */
  contextId: string | undefined;
  /** The time `context().now()` starts from: the execution's start, or the parent's clock. */
  clock: number;
  /** Seeds `random()` and `uuid()`: the same in every replay of this execution. */
  seed: string;
}

/** A child context that no earlier invocation recorded: nothing sits under it yet. */
const NEW_CONTEXT = '(new context)';
const noop = () => undefined;

/**
 * The WorkflowRuntime of a Durably workflow running as a Lambda durable function: every durable
 * call becomes an operation on the SDK's DurableContext, in the order the workflow makes it (the
 * SDK numbers operations by call order, as Durably's replay numbers commands, so the same code
 * meets the same operations on every replay).
 *
 * Durably asks some things synchronously (`hook.token`, `patched()`, `context().now()`), where the
 * SDK answers with promises. Those come from the operations earlier invocations recorded (the
 * OperationIndex, read before the workflow runs) and from values recorded with step results.
 */
export class LambdaRuntime implements runtimeKit.WorkflowRuntime {
  readonly logger: Logger;
  /** Operations issued in this runtime's context so far. */
  issued = 0;
  private valueCount = 0;
  private childCount = 0;
  private clockMs: number;
  private readonly patches = new Map<string, boolean>();
  /**
   * Set when a hook was created whose token AWS has not assigned yet: the rest of this invocation
   * must not act on the placeholder token, so every later call waits forever and the SDK ends the
   * invocation at its next wait (the hook's one-second "ready" wait); the replay knows the token.
   */
  blocked = false;
  readonly hooks;

  constructor(readonly setup: RuntimeSetup) {
    this.clockMs = setup.clock;
    this.logger = sdkLogger(setup.ctx.logger, { runId: setup.runId, workflow: setup.definition.name });
    this.hooks = createHookOperations(this);
  }

  get runId(): string {
    return this.setup.runId;
  }

  get workflowName(): string {
    return this.setup.definition.name;
  }

  get ctx(): DurableContext {
    return this.setup.ctx;
  }

  get clock(): number {
    return this.clockMs;
  }

  /** Moves `now()` forward to a recorded time (never back). */
  advance(at: number | undefined): void {
    if (at !== undefined && at > this.clockMs) this.clockMs = at;
  }

  /** Runs the workflow with its arguments; in a blocked invocation it never settles. */
  async run(args: unknown[]): Promise<unknown> {
    const definition = this.setup.definition;
    try {
      const value = await runtimeKit.runWorkflowIn(this, definition, validateArgs(definition.schema, args, `workflow "${definition.name}"`));
      if (this.blocked) return NEVER;
      return value;
    } catch (error) {
      if (this.blocked) return NEVER;
      if (error instanceof runtimeKit.ContinueAsNew) {
        throw new ServerlessUnsupportedError('continueAsNew()', 'a durable execution keeps one history up to its limits. Loop in the workflow (each iteration a step), or start a new execution from a step.');
      }
      throw error;
    }
  }

  callStep(def: StepDefinition, args: unknown[]): Promise<unknown> {
    if (this.blocked) return NEVER;
    if (def.rateLimit) {
      throw new ServerlessUnsupportedError(`step("${def.name}") with rateLimit`, 'Lambda has no rate limiter shared by executions. Remove rateLimit, or call the rate-limited service through a queue.');
    }
    const policy = runtimeKit.resolveRetryPolicy(def.retry, this.setup.definition.stepRetry, `step("${def.name}")`);
    if (policy.totalTimeoutMs !== undefined) {
      throw new ServerlessUnsupportedError(`step("${def.name}") with totalTimeout`, "The SDK's retry strategy is not told when the step's first attempt started. Bound the attempts with retries, or each one with timeout.");
    }
    const stepId = `${this.setup.path}${++this.issued}`;
    const operation = this.ctx.step(
      def.name,
      async (stepCtx): Promise<Recorded<unknown>> => {
        const outcome = await runtimeKit.runStepBody(
          { runId: this.runId, stepId, def, args, attempt: stepCtx.attempt, policy },
          { logger: sdkLogger(stepCtx.logger), heartbeat: noop },
        );
        if (outcome.ok) return { value: outcome.value, at: Date.now() };
        const error = outcome.error as Error;
        throw new StepError(error?.message ?? String(error), undefined, errorData(error, stepCtx.attempt));
      },
      { retryStrategy: retryStrategy(policy), serdes: recordedSerdes() },
    );
    return operation.then(
      (recorded) => {
        this.advance(recorded.at);
        return recorded.value;
      },
      (error: unknown) => {
        const { error: cause, attempt } = carriedError(error);
        throw new StepFailedError(def.name, attempt ?? 1, cause);
      },
    );
  }

  sleep(duration: Duration | Date): Promise<void> {
    if (this.blocked) return NEVER;
    // Measured from the recorded clock, so a replay computes the same wait.
    const ms = duration instanceof Date ? duration.getTime() - this.clockMs : parseDuration(duration, 'sleep()');
    if (ms <= 0) return Promise.resolve();
    const seconds = toSeconds(ms);
    const wakeAt = this.clockMs + seconds * 1000;
    this.issued++;
    return this.ctx.wait('sleep', { seconds }).then(() => this.advance(wakeAt));
  }

  recordValue<T>(kind: 'now' | 'random' | 'uuid', _produce: () => T): T {
    if (kind === 'now') return this.clockMs as T;
    // Derived from the execution and the call's position: the same on every replay, with no checkpoint.
    const bytes = createHash('sha256').update(`${this.setup.seed}:${++this.valueCount}`).digest();
    if (kind === 'random') return (bytes.readUIntBE(0, 6) / 2 ** 48) as T;
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const hex = bytes.subarray(0, 16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as T;
  }

  createHook(name: string, timeoutMs?: number, multiUse = false): { token: string; promise: Promise<unknown> } {
    if (multiUse) {
      throw new ServerlessUnsupportedError(`${name}.create({ multiUse: true })`, 'an AWS callback completes once. Create a new hook for each payload (in a loop), or run the workflow on a Durably worker.');
    }
    return this.hooks.create(name, timeoutMs);
  }

  waitForSignal(): never {
    throw new ServerlessUnsupportedError('waitForSignal()', 'a durable execution receives data only through callbacks. Use a hook (defineHook(...).create()): its token is the callback id a sender completes.');
  }

  onSignal(): never {
    throw new ServerlessUnsupportedError('onSignal()', 'a durable execution receives data only through callbacks. Use a hook (defineHook(...).create()): its token is the callback id a sender completes.');
  }

  setUpdateHandler(): never {
    throw new ServerlessUnsupportedError('update.handle()', 'a durable execution receives data only through callbacks. Use a hook (defineHook(...).create()): its token is the callback id a sender completes.');
  }

  condition(): never {
    throw new ServerlessUnsupportedError('condition()', 'a durable execution re-evaluates nothing between its checkpoints. Wait on a hook, a step or a sleep instead.');
  }

  openScope(): never {
    throw new ServerlessUnsupportedError('cancellable() / withTimeout()', 'a durable execution records no cancellation of part of its code. Bound a step with its timeout option, or race a sleep with Promise.race.');
  }

  cancelScope(): never {
    return this.openScope();
  }

  cancelRequested(): never {
    throw new ServerlessUnsupportedError('cancelRequested()', 'a stopped durable execution runs no more of its code. Keep cleanup in steps that a later execution can run.');
  }

  /**
   * True in executions that reach this point with this code, false in executions recorded by older
   * code. A new execution records a marker step `patch:<id>`; an execution that had recorded more
   * operations here than this runtime has issued so far was written without the patch.
   */
  patched(patchId: string): boolean {
    const known = this.patches.get(patchId);
    if (known !== undefined) return known;
    if (this.blocked) return true;
    const name = `${this.setup.path}patch:${patchId}`;
    const recordedHere = this.setup.contextId === NEW_CONTEXT ? 0 : this.setup.index.countUnder(this.setup.contextId);
    const result = this.setup.index.named(name) !== undefined || this.issued >= recordedHere;
    if (result) {
      this.issued++;
      const at = this.clockMs;
      this.ctx.step(name, async () => ({ value: true, at }), { serdes: recordedSerdes<boolean>() }).then(noop, noop);
    }
    this.patches.set(patchId, result);
    return result;
  }

  /** Queries are answered by a client replaying Durably's log, which serverless mode does not keep: a no-op. */
  setQueryHandler(): void {}

  /**
   * Search attributes index Durably's run records, which serverless mode does not keep (the execution
   * lives in AWS's durable execution history): setAttributes (checked by the caller) keeps nothing, so
   * the same workflow code runs on a worker, where its runs are listed by them, and on Lambda.
   */
  setAttributes(): void {}

  /**
   * Replaying while this invocation has issued fewer operations in its context than earlier
   * invocations recorded there: the code is re-running what they ran.
   */
  isReplaying(): boolean {
    const recordedHere = this.setup.contextId === NEW_CONTEXT ? 0 : this.setup.index.countUnder(this.setup.contextId);
    return this.issued < recordedHere;
  }

  /**
   * A child workflow runs in a child context of this execution (runInChildContext): its steps and
   * sleeps are checkpointed under it, it has its own run id, and it ends with the parent.
   */
  startChild(def: WorkflowDefinition, args: unknown[], options: { parentClosePolicy: ParentClosePolicy }): Promise<{ runId: string; result: Promise<unknown> }> {
    if (options.parentClosePolicy === 'abandon') {
      throw new ServerlessUnsupportedError('startChild() with parentClosePolicy "abandon"', 'a child workflow runs inside its parent\'s execution and cannot outlive it. Deploy the child as its own durable function and start it from a step.');
    }
    if (this.blocked) return NEVER;
    const name = `${this.setup.path}child:${def.name}#${++this.childCount}`;
    const runId = `${this.runId}/${name}`;
    const { index, seed } = this.setup;
    const clock = this.clockMs;
    this.issued++;
    const operation = this.ctx.runInChildContext(
      name,
      async (childCtx): Promise<Recorded<unknown>> => {
        const child = new LambdaRuntime({ ctx: childCtx, index, runId, definition: def, path: `${name}/`, contextId: index.named(name)?.id ?? NEW_CONTEXT, clock, seed: `${seed}/${name}` });
        try {
          const value = await child.run(args);
          return { value, at: child.clock };
        } catch (error) {
          throw new ChildContextError((error as Error)?.message ?? String(error), undefined, errorData(error));
        }
      },
      { serdes: recordedSerdes() },
    );
    const result = operation.then(
      (recorded) => {
        this.advance(recorded.at);
        return recorded.value;
      },
      (error: unknown) => {
        throw new ChildWorkflowFailedError(runId, def.name, durablyError(error));
      },
    );
    result.catch(noop); // awaited through the handle, or not at all
    return Promise.resolve({ runId, result });
  }
}
