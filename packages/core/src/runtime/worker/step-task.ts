import type { Client } from '../client/client.js';
import type { CheckpointStore } from '../../engine/scope.js';
import type { StepDefinition } from '../../engine/definitions.js';
import {
  AppendConflictError,
  checkPayload,
  DurablyError,
  FatalError,
  RunNotFoundError,
  makeEvent,
  TERMINAL_EVENT_TYPES,
  type DurablyEvent,
  type EventDataMap,
  type Logger,
  deserialize,
  errorToObject,
  isEnvelope,
  serialize,
} from '@durably/contracts';
import { cancelsCall, endsClaim, leaseTimerId, openClaim } from '../../engine/claims.js';
import type { AttemptOutcome } from '../../engine/step-runner.js';
import { decideRetry, totalTimeLeft } from '../../engine/retry.js';
import { StepSuspended } from '../../engine/control.js';
import type { AttemptRegistry } from './attempts.js';
import { brokerQueue, type StepTask, runTask, stepTaskAgain } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';
import { runStepAttempt } from '../../engine/step-runner.js';
import { FENCED_APPEND_ROUNDS, fencedAppend, type FencedStep } from '../../engine/fenced-append.js';
import type { CombinedInstrumentation, TraceContext } from '../../observe/instrumentation.js';
import type { StepCommand } from '../../engine/commands.js';
import { traceOf } from '../../observe/trace-context.js';
import { attemptOutcome } from './observability.js';
import { cleanUpAttempt, heartbeatsFor } from './step-facilities.js';

/** What running a dispatched step needs from its worker. */
export interface StepTaskContext {
  client: Client;
  logger: Logger;
  workerId: string;
  leaseMs: number;
  attempts: AttemptRegistry;
  /** Logs, metrics and spans of each attempt. */
  instrumentation: CombinedInstrumentation;
  /** Fired when the worker stops and hands its work back. */
  stopSignal: AbortSignal;
  handedBack(): boolean;
  /** The step's definition in this process (with a test override applied). */
  definition(name: string): StepDefinition | undefined;
  waitForPermit(def: StepDefinition): Promise<void>;
  checkpointsFor(runId: string, stepId: string): CheckpointStore & { used: boolean };
  /** Registers the task as running here (for hand-back), or unregisters it. */
  track(task: StepTask, queue: string | undefined): void;
  /**
   * Advances the run in this process, as its run task would, when this worker can (it has the run's
   * workflow and listens on its queue, and is not stopping); the attempt's outcome, offered to the
   * run (AttemptRegistry.offer), is then recorded by that execution. Resolves to false when it could
   * not be taken here (the caller records the outcome and publishes the run task instead). `tail`:
   * the log as the claim left it (Claim.tail), which a kept execution of the run may take as read.
   */
  continueRun(task: StepTask, tail: DurablyEvent[]): Promise<boolean>;
}

/**
 * Runs one attempt of a dispatched step and records its outcome in the run's log. The attempt is
 * claimed first, with `step_started` and its lease (replay/claims.ts), so a duplicate delivery finds
 * it in flight and leaves it to its owner. Every append is conditional: on a race the tail is read
 * again, and the task stops if the step is done, the run has ended, or another worker claimed it.
 *
 * `redelivered`: the broker delivers the task again. If its step is done by then, the delivery before
 * may have recorded the outcome and failed to wake the run (its next publish failed): the task sends
 * the run a recovery, which replays it and sends what it scheduled (a no-op if it was woken).
 */
export async function runStepTask(task: StepTask, redelivered: boolean, ctx: StepTaskContext): Promise<void> {
  const storage = ctx.client.storage;
  const def = ctx.definition(task.name);
  if (!def) {
    throw new DurablyError(`Step "${task.name}" is not defined in this worker process. Import the module that defines it in every worker that listens on its queue.`);
  }
  // Opened before the claim: a task this worker cannot decrypt is redelivered, no attempt is spent.
  const args = await openArgs(ctx.client, task.args);
  const claim = await claimStep(task, ctx);
  if (claim === 'settled') {
    if (redelivered) await recoverRun(task, ctx);
    return;
  }
  if (!claim) return;
  const { attempt, claimSeq, leaseUntil } = claim;
  ctx.track(task, brokerQueue(def.queue ?? task.workflowQueue));
  let outcome: AttemptOutcome;
  // Fired when the attempt's registry finds its scope cancelled in the log. The attempt's signal fires
  // on it or on the worker stopping, whichever comes first (runStepAttempt listens to both, in the
  // order AbortSignal.any would, without the composite signal each attempt would make and keep).
  const abort = new AbortController();
  try {
    outcome = await ctx.attempts.run({ runId: task.runId, stepId: task.stepId, claimSeq }, { shielded: false, leaseUntil, abort }, async () => {
      await ctx.waitForPermit(def);
      const checkpoints = ctx.checkpointsFor(task.runId, task.stepId);
      const heartbeats = heartbeatsFor(ctx.client, task.runId, task.stepId, ctx.logger, ctx.stopSignal);
      const scope = ctx.instrumentation.stepAttempt({ runId: task.runId, stepId: task.stepId, step: task.name, attempt, maxAttempts: task.policy.maxAttempts, inline: false, trace: traceOf(task) });
      const began = Date.now();
      let result = await scope.wrap(() =>
        runStepAttempt(
          { runId: task.runId, stepId: task.stepId, def, args, attempt, policy: task.policy, resumed: claim.resumed, firstStartedAt: claim.firstStartedAt, totalLeftMs: totalTimeLeft(task.policy, claim.firstStartedAt, ctx.client.clock()), signal: abort.signal },
          { logger: ctx.logger, heartbeat: () => void storage.touchRun(task.runId, ctx.client.clock()).catch(() => undefined), signal: ctx.stopSignal, checkpoints, heartbeats, hookOutcomes: new Map(), extra: { client: ctx.client } },
        ),
      );
      scope.end({ outcome: attemptOutcome(result, attempt, task.policy, { firstStartedAt: claim.firstStartedAt, now: ctx.client.clock() }), durationMs: Date.now() - began, error: result.ok ? undefined : result.error });
      await cleanUpAttempt(result.ok, checkpoints, heartbeats);
      // The outcome the run's execution may adopt (continueHere) is the one this task would record.
      if (!result.ok && result.error instanceof StepSuspended) {
        result = { ok: false, error: new FatalError(`stepHook("${result.error.hookName}") needs the inline step mode; step "${task.name}" was dispatched (stepMode "dispatch" or its own queue).`) };
      }
      return result;
    });
  } finally {
    ctx.track(task, undefined);
  }
  try {
    if (ctx.handedBack()) return; // another worker runs it now
    if (settlesStep(task, claim, outcome, ctx.client.clock()) && (await continueHere(task, ctx, claim))) return;
    await recordOutcome(task, ctx, def, claim, outcome);
  } finally {
    ctx.attempts.release(task.runId, task.stepId);
  }
}

/**
 * A claimed attempt of a dispatched step. `tail`: the run's log from the step's step_scheduled (or
 * from its start event alone, when the claim read nothing) to its start event: what the run's kept
 * execution has not seen, so that the continuation here need not read it again.
 */
type Claim = { attempt: number; claimSeq: number; leaseUntil: number; resumed: boolean; firstStartedAt: number; tail: DurablyEvent[] };

/**
 * Claims the step's next attempt: appends its `step_started` with the lease timer. Returns 'settled'
 * when the step is done (or cancelled) and the run goes on, undefined when there is nothing else to
 * run here: the run ended, or an attempt is in flight under a lease (live: its worker runs it;
 * lapsed: the run's worker records the loss and sends the step again, see Execution.resolveClaims).
 * A claim without a lease timer was handed back: taken.
 *
 * A task marked `endsLog` skips the read in its first round: its step_started goes at once after the
 * step_scheduled. That append lands only if the log still ends there, and then the step has no
 * attempt, nothing cancelled it and the run has not ended: what the read would have shown. When it
 * conflicts, the next round reads as usual.
 */
async function claimStep(task: StepTask, ctx: StepTaskContext): Promise<Claim | 'settled' | undefined> {
  const storage = ctx.client.storage;
  const claimAt = (lastSeq: number, attempt: number, firstStartedAt: number | undefined, read: DurablyEvent[]): FencedStep<Claim> => {
    const now = ctx.client.clock();
    const leaseUntil = now + ctx.leaseMs;
    const started = makeEvent(task.runId, lastSeq + 1, 'step_started', { name: task.name, attempt, workerId: ctx.workerId, leaseUntil }, task.stepId, now) as DurablyEvent;
    return {
      append: { runId: task.runId, expectedSeq: lastSeq, events: [started], setTimers: [{ runId: task.runId, timerId: leaseTimerId(task.stepId), fireAt: leaseUntil }] },
      // An earlier start of the step (a retry, a lost worker): its heartbeat details may wait, and its totalTimeout counts from the first.
      value: { attempt, claimSeq: lastSeq + 1, leaseUntil, resumed: firstStartedAt !== undefined, firstStartedAt: firstStartedAt ?? now, tail: [...read, started] },
    };
  };
  try {
    return await fencedAppend<Claim | 'settled' | undefined>(storage, async (round) => {
      if (round === 0 && task.endsLog) return claimAt(task.scheduledSeq, 1, undefined, []);
      const tail = await storage.readEvents(task.runId, task.scheduledSeq);
      if (tail.length === 0) return { done: undefined }; // the run was deleted
      const state = stepState(tail, task.stepId);
      if (state.runEnded) return { done: undefined };
      if (state.done) return { done: 'settled' };
      const open = openClaim(tail, task.stepId);
      if (open) {
        if (open.workerId === ctx.workerId && ctx.attempts.adopt({ runId: task.runId, stepId: task.stepId, claimSeq: open.seq })) return { done: undefined }; // a duplicate, running here
        const timers = await storage.listTimers(task.runId);
        if (timers.some((t) => t.timerId === leaseTimerId(task.stepId))) return { done: undefined };
      }
      return claimAt(tail[tail.length - 1].seq, state.attempts + 1, state.firstStartedAt, tail);
    });
  } catch (err) {
    if (err instanceof RunNotFoundError) return undefined; // deleted (retention) since the task was sent
    if (!(err instanceof AppendConflictError)) throw err;
    throw new DurablyError(`Step ${task.stepId} of run ${task.runId}: could not claim an attempt after ${FENCED_APPEND_ROUNDS} rounds of concurrent appends.`, { cause: err });
  }
}

/**
 * True when the outcome ends the step (a result, or a failure with no retry left): the run moves on,
 * so it is worth continuing here. A retry is recorded by the task, which publishes the next attempt.
 */
function settlesStep(task: StepTask, claim: Claim, outcome: AttemptOutcome, now: number): boolean {
  return outcome.ok || !decideRetry(outcome.error, claim.attempt, task.policy, { firstStartedAt: claim.firstStartedAt, now }).retry;
}

/**
 * Continues the run in this process with the attempt's outcome, instead of recording it alone and
 * publishing the run task: the run's execution adopts the outcome (offered in the registry) and
 * appends it together with what the code does next (the next step's step_scheduled, the run's end),
 * so a step costs one broker message and one append less. Returns true when the outcome is recorded
 * (or never will be: the run ended, the step was cancelled or taken over), false when the task must
 * record it itself: the run could not be taken here, or its execution did not adopt the outcome.
 *
 * A crash before the execution's append leaves the attempt claimed with its lease timer: the lease
 * lapses and the run takes the step over, as for a crash before recordOutcome. A crash after it
 * leaves a running run whose next task was maybe not published: the stale-run sweep resumes it.
 */
async function continueHere(task: StepTask, ctx: StepTaskContext, claim: Claim): Promise<boolean> {
  const key = { runId: task.runId, stepId: task.stepId, claimSeq: claim.claimSeq };
  ctx.attempts.offer(key);
  let taken: boolean;
  try {
    taken = await ctx.continueRun(task, claim.tail);
  } catch (err) {
    ctx.attempts.offer(key, false);
    // Still held here and renewable: no execution recorded it; the task records it and sends the run task.
    if (ctx.attempts.adopt(key)) return false;
    // Recorded, but what followed (publishing the next step's task, say) failed: a recovery goes to the
    // broker, so that a worker advances the run from its log and sends what it scheduled.
    ctx.logger.debug('continuing the run after its dispatched step failed here; a recovery of the run goes to the broker', { runId: task.runId, stepId: task.stepId, error: String(err) });
    await recoverRun(task, ctx);
    return true;
  }
  ctx.attempts.offer(key, false);
  return taken && ctx.attempts.adopt(key) === undefined;
}

/** Sends the step's run a recovery: a worker replays it and sends the steps it scheduled again. */
function recoverRun(task: StepTask, ctx: StepTaskContext): Promise<void> {
  return publishTask(ctx.client.broker, brokerQueue(task.workflowQueue), runTask(task.runId, 'recover'), 0, ctx.client.clock);
}

async function recordOutcome(task: StepTask, ctx: StepTaskContext, def: StepDefinition, claim: Claim, result: AttemptOutcome): Promise<void> {
  const { attempt, claimSeq } = claim;
  const storage = ctx.client.storage;
  let outcome = result;
  const now = ctx.client.clock();
  let type: 'step_completed' | 'step_failed' = 'step_failed';
  let data: EventDataMap['step_completed'] | EventDataMap['step_failed'] | undefined;
  let retryAt: number | undefined;
  if (outcome.ok) {
    try {
      // The limit an inline step's result meets (Execution.recordAttempt) holds for a dispatched one.
      data = { name: task.name, attempt, result: checkPayload(serialize(outcome.value, `the result of step "${task.name}"`), `The result of step "${task.name}"`, ctx.client.limits) };
      type = 'step_completed';
    } catch (err) {
      outcome = { ok: false, error: err };
    }
  }
  if (!outcome.ok) {
    const error = outcome.error;
    const decision = decideRetry(error, attempt, task.policy, { firstStartedAt: claim.firstStartedAt, now });
    retryAt = decision.retry ? now + decision.delayMs : undefined;
    data = { name: task.name, attempt, error: errorToObject(error) };
    if (retryAt !== undefined) (data as EventDataMap['step_failed']).retryAt = retryAt;
  }
  let lastSeq = claimSeq;
  const recorded = await fencedAppend(storage, async (round) => {
    if (round > 0) {
      const tail = await storage.readEvents(task.runId, lastSeq + 1);
      if (tail.length > 0) {
        lastSeq = tail[tail.length - 1].seq;
        // Done, ended, cancelled with its scope, or claimed by another worker after our lease lapsed: not ours to record.
        if (tail.some((e) => TERMINAL_EVENT_TYPES.has(e.type) || cancelsCall(e, task.stepId) || (e.correlationId === task.stepId && (e.type === 'step_started' || endsClaim(e, task.stepId))))) return { done: false };
      }
    }
    const event = makeEvent(task.runId, lastSeq + 1, type, data as never, task.stepId, now) as DurablyEvent;
    return { append: { runId: task.runId, expectedSeq: lastSeq, events: [event], run: { status: 'running' }, clearTimers: [leaseTimerId(task.stepId)] }, value: true };
  });
  if (!recorded) return;
  if (retryAt !== undefined) {
    await publishTask(ctx.client.broker, brokerQueue(def.queue ?? task.workflowQueue), stepTaskAgain(task), retryAt - now, ctx.client.clock, `${task.runId}:${task.stepId}:${attempt + 1}`);
  } else {
    await publishTask(ctx.client.broker, brokerQueue(task.workflowQueue), runTask(task.runId, 'step'), 0, ctx.client.clock);
  }
}

/** What a log tail says about one dispatched step. */
function stepState(events: DurablyEvent[], stepId: string): { attempts: number; done: boolean; runEnded: boolean; firstStartedAt?: number } {
  let attempts = 0;
  let firstStartedAt: number | undefined;
  let done = false;
  let runEnded = false;
  for (const e of events) {
    if (TERMINAL_EVENT_TYPES.has(e.type)) runEnded = true;
    if (cancelsCall(e, stepId)) done = true; // cancelled with its scope: never started again
    if (e.correlationId !== stepId) continue;
    if (e.type === 'step_completed') done = true;
    if (e.type === 'step_started') firstStartedAt ??= e.at;
    if (e.type === 'step_failed') {
      attempts = Math.max(attempts, e.data.attempt);
      if (e.data.retryAt === undefined) done = true;
    }
  }
  return { attempts, done, runEnded, firstStartedAt };
}

/**
 * Publishes the task of a step the run dispatched (its step_scheduled is durable): to the step's
 * queue, delayed until its retry time, de-duplicated per attempt, with the run's trace context.
 */
export async function dispatchStep(client: Client, run: { runId: string; queue: string; workflow: string; seq: number }, cmd: StepCommand, trace: TraceContext | undefined): Promise<void> {
  const { runId, queue: runQueue } = run;
  const stepDef = cmd.def;
  const task: StepTask = {
    v: 1,
    kind: 'step',
    runId,
    stepId: cmd.id,
    name: stepDef.name,
    args: await sealArgs(client, serialize(cmd.args, `the arguments of step "${stepDef.name}"`)),
    policy: cmd.policy,
    scheduledSeq: cmd.scheduledSeq ?? 1,
    workflowQueue: runQueue,
    workflow: run.workflow,
  };
  // Its step_scheduled is the log's last event and no attempt was made: the claim need not read (claimStep).
  if (cmd.scheduledSeq === run.seq && cmd.attempts === 0) task.endsLog = true;
  if (trace) Object.assign(task, trace);
  const delay = Math.max(0, (cmd.retryAt ?? 0) - client.clock());
  await publishTask(client.broker, brokerQueue(stepDef.queue ?? runQueue), task, delay, client.clock, `${runId}:${cmd.id}:${cmd.attempts + 1}`);
}

/** A step task's arguments as the broker carries them: encrypted with the client's codec, if it has one. */
async function sealArgs(client: Client, args: string): Promise<string> {
  return client.codec ? client.codec.encode(args) : args;
}

/**
 * A step task's arguments, decrypted when they were encrypted. Throws PayloadKeyMissingError when
 * they are and this client has no codec or not their key.
 */
async function openArgs(client: Client, args: string): Promise<unknown[]> {
  if (!isEnvelope(args)) return deserialize<unknown[]>(args);
  if (!client.codec) return deserialize<unknown[]>(args); // throws PayloadKeyMissingError, naming the key
  return deserialize<unknown[]>(await client.codec.decode(args));
}
