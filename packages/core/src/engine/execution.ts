/**
 * The replay loop. It is one class built in seven files, read in this order to know how a run advances:
 * batch.ts (the state of an execution and the batch it appends), replay.ts (feed and apply the log),
 * scope-cancellation.ts (cancelling the run and cancellation scopes), updates.ts (update handlers and
 * their answers), calls.ts (the durable calls workflow code makes), attempts.ts (step attempts: claim,
 * run, record, take over), and this file (advance: the live loop).
 *
 * 1. `start()` calls the workflow function inside an AsyncLocalStorage scope. Every durable call it
 *    makes (step, sleep, context value) becomes a Command identified by its position: "1", "2", ...
 * 2. `feed(events)` applies the run's log in seq order. An outcome event (step completed, sleep
 *    completed, ...) settles its command, and the loop lets the workflow run on (`drain`) before the
 *    next event, so the code sees outcomes in exactly the order they were first recorded. A logged
 *    call that the code does not make, or makes differently, is a NonDeterminismError.
 * 3. `advance()` takes over where the log ends: it records the new commands, runs inline step
 *    attempts, resolves due sleeps, and appends what happened with one conditional append per batch.
 *    Nothing leaves the process (a step attempt, a broker message, a finished run) before the events
 *    that lead to it are durable, so a crash at any instant resumes from the log.
 * 4. When nothing can progress in this process (every pending call waits on a timer or on a step
 *    dispatched elsewhere), the run suspends: its status is written and the execution is dropped (or
 *    kept in the worker's small cache while it waits for dispatched steps, to skip the next replay).
 *
 * Cost: a live execution appends one batch per step completion and never re-reads its history; a
 * full replay is O(history) and happens only when a run resumes on a worker without it cached.
 */
import {
  type EventDataMap,
  type RunStatus,
  CancelledError,
  DurablyError,
  HookTimeoutError,
  SignalTimeoutError,
  WorkflowTimeoutError,
  errorToObject,
  serialize,
  checkPayload,
  DEFAULT_LIMITS,
  EventLimitExceededError,
} from '@durably/contracts';
import { type WorkflowRuntime } from './scope.js';
import { ContinueAsNew } from './control.js';
import { nextDueAt } from './due.js';
import { StepAttempts } from './attempts.js';
import { hookIndexKey } from './hook-token.js';
import type { AdvanceResult, Pending } from './deps.js';

export type { AttemptOutcome, AttemptRequest } from './step-runner.js';
export { DEFAULT_STEP_LEASE_MS, StaleExecutionError, type AdvanceResult, type ExecutionDeps, type FlushEffects } from './deps.js';

/** setTimeout's longest delay; a later due time is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Execution extends StepAttempts implements WorkflowRuntime {
  // ---- Live execution ----

  /**
   * Runs the workflow forward from the end of the log until it finishes or can only wait.
   * Throws StaleExecutionError when another writer appended to the run meanwhile.
   * `redispatch`: send the dispatched steps again (a recovery). `checkDispatched`: also look whether
   * the leases of dispatched steps' attempts lapsed (the run was woken by a timer, which may be one).
   */
  async advance(options: { redispatch?: boolean; checkDispatched?: boolean } = {}): Promise<AdvanceResult> {
    if (options.redispatch) for (const cmd of this.commands.values()) if (cmd.kind === 'step' && cmd.scheduled && !cmd.settled) this.toDispatch.push(cmd);
    if (!this.finished && (await this.resolveClaims(options.checkDispatched === true)) === 'owned') return 'owned';
    if (this.status === 'pending') {
      this.push({ type: 'run_started', data: { workerId: this.deps.workerId } });
      // maxDuration holds while the run is suspended too: a timer wakes it at its deadline.
      if (this.def.maxDurationMs !== undefined) this.addTimer('deadline', this.run.createdAt + this.def.maxDurationMs);
    }
    for (;;) {
      await this.quiesce();
      this.checkEventCount();
      this.checkDeadline();
      if (this.finished) {
        await this.finish();
        return 'finished';
      }
      // Nothing is recorded for it: its lease lapses and the attempt is taken over after the task comes back.
      if (this.abandonedAttempt !== undefined) throw this.abandonedAttempt;
      if (this.completed.length > 0) {
        // Outcomes of attempts, recorded one by one in completion order with the code moving on between
        // them, exactly as a replay will apply them. (More may arrive meanwhile: the loop comes back.)
        for (const { cmd, outcome, attempt } of this.completed.splice(0)) {
          this.recordAttempt(cmd, outcome, attempt);
          await this.quiesce();
        }
        continue;
      }
      if (await this.createChildren()) continue;
      if (this.scan()) continue; // something resolved synchronously: let the code move on first
      const { ready, waiting } = this.readyAttempts();
      if (ready.length === 0 && !waiting && !this.attemptsRunning) {
        await this.flush(this.waitingOnDispatched ? 'running' : 'suspended');
        return 'suspended';
      }
      // An attempt's start is durable before its body runs, so that another worker finding the run
      // leaves the attempt to this one. It shares the append with whatever else is pending (the
      // previous step's outcome): one append per step in steady state.
      for (const cmd of ready) this.claim(cmd);
      if (ready.length > 0 || this.mustFlushNow()) await this.flush('running');
      for (const cmd of ready) this.startAttempt(cmd);
      await this.waitForProgress();
    }
  }

  /**
   * When something of this run falls due next (a started sleep, a hook, signal or condition
   * timeout, a step hook's timeout, the maxDuration deadline), or undefined. Read on a suspended
   * execution: no retry waits in this process then.
   */
  get dueAt(): number | undefined {
    return nextDueAt(this.commands.values(), {
      deadline: this.def.maxDurationMs === undefined ? undefined : this.run.createdAt + this.def.maxDurationMs,
      waitsInline: () => false,
    });
  }

  protected checkDeadline(): void {
    const max = this.def.maxDurationMs;
    if (max === undefined || this.fatal || this.outcome) return;
    if (this.deps.clock() >= this.run.createdAt + max) {
      this.fail(new WorkflowTimeoutError(`Run ${this.runId} exceeded its maxDuration of ${max} ms.`));
    }
  }

  protected warnedEvents = false;

  /** The soft limit warns once; the hard limit fails the run, dropping what was not yet recorded. */
  protected checkEventCount(): void {
    const limits = this.deps.limits ?? DEFAULT_LIMITS;
    const count = this.seq + this.outbox.length;
    if (count >= limits.maxEvents && !this.fatal) {
      this.fail(new EventLimitExceededError(this.runId, limits.maxEvents));
    } else if (count >= limits.warnEvents && !this.warnedEvents) {
      this.warnedEvents = true;
      this.logger.warn('run has many events; consider continueAsNew', { events: count, warnEvents: limits.warnEvents, maxEvents: limits.maxEvents });
    }
  }

  /**
   * Records new calls and resolves due sleeps and timeouts. Returns true when a command was settled;
   * it stops at the first, so the code moves on after each outcome exactly as a replay applies them.
   */
  protected scan(): boolean {
    const now = this.deps.clock();
    let settled = false;
    for (const cmd of [...this.commands.values()]) {
      if (settled) break;
      if (cmd.settled) continue;
      if (cmd.kind === 'sleep') {
        if (!cmd.started) {
          cmd.started = true;
          cmd.wakeAt = cmd.until ?? now + (cmd.durationMs ?? 0);
          this.push({ type: 'sleep_started', correlationId: cmd.id, data: { wakeAt: cmd.wakeAt } });
          if (cmd.wakeAt > now) {
            const timer = { runId: this.runId, timerId: `sleep:${cmd.id}`, fireAt: cmd.wakeAt };
            this.setTimers.push(timer);
            this.newTimers.push(timer);
            this.liveTimers.add(timer.timerId);
          }
        }
        if (cmd.wakeAt! <= now) {
          this.push({ type: 'sleep_completed', correlationId: cmd.id, data: {} });
          this.dropTimer(`sleep:${cmd.id}`);
          this.settle(cmd, { ok: true, value: undefined });
          settled = true;
        }
      } else if (cmd.kind === 'hook') {
        if (!cmd.started) {
          cmd.started = true;
          cmd.hookCreatedAt = now;
          cmd.timeoutAt = cmd.timeoutMs === undefined ? undefined : now + cmd.timeoutMs;
          const data: EventDataMap['hook_created'] = { name: cmd.name, token: cmd.token };
          if (cmd.timeoutAt !== undefined) data.expiresAt = cmd.timeoutAt;
          if (cmd.inbox) data.multiUse = true;
          this.push({ type: 'hook_created', correlationId: cmd.id, data });
          this.setHooks.push(this.hookRecord(cmd));
          if (cmd.timeoutAt !== undefined) this.addTimer(`hook:${cmd.id}`, cmd.timeoutAt);
        }
        if (cmd.timeoutAt !== undefined && cmd.timeoutAt <= now) {
          this.push({ type: 'hook_timed_out', correlationId: cmd.id, data: {} });
          this.setHooks.push({ ...this.hookRecord(cmd), consumedAt: now });
          this.dropTimer(`hook:${cmd.id}`);
          this.settle(cmd, { ok: false, error: new HookTimeoutError(cmd.inbox ? `Multi-use hook "${cmd.name}" timed out.` : `Hook "${cmd.name}" timed out before it was resumed.`) });
          settled = true;
        }
      } else if (cmd.kind === 'signal') {
        if (!cmd.started && cmd.timeoutMs !== undefined) {
          cmd.started = true;
          cmd.timeoutAt = now + cmd.timeoutMs;
          this.push({ type: 'signal_waiting', correlationId: cmd.id, data: { name: cmd.name, timeoutAt: cmd.timeoutAt } });
          this.addTimer(`signal:${cmd.id}`, cmd.timeoutAt);
        }
        if (cmd.timeoutAt !== undefined && cmd.timeoutAt <= now) {
          this.push({ type: 'signal_timed_out', correlationId: cmd.id, data: { name: cmd.name } });
          this.dropTimer(`signal:${cmd.id}`);
          this.settle(cmd, { ok: false, error: new SignalTimeoutError(`No signal "${cmd.name}" arrived before the timeout.`) });
          settled = true;
        }
      } else if (cmd.kind === 'condition' && cmd.timeoutMs !== undefined) {
        if (!cmd.started) {
          cmd.started = true;
          cmd.timeoutAt = now + cmd.timeoutMs;
          this.push({ type: 'condition_waiting', correlationId: cmd.id, data: { timeoutAt: cmd.timeoutAt } });
          this.addTimer(`condition:${cmd.id}`, cmd.timeoutAt);
        }
        if (cmd.timeoutAt! <= now) {
          this.push({ type: 'condition_timed_out', correlationId: cmd.id, data: {} });
          this.dropTimer(`condition:${cmd.id}`);
          this.settle(cmd, { ok: true, value: false });
          settled = true;
        }
      } else if (cmd.kind === 'step' && cmd.waitingHook?.timeoutAt !== undefined && cmd.waitingHook.timeoutAt <= now) {
        const { name, token, timeoutAt } = cmd.waitingHook;
        const cid = `${cmd.id}/${name}`;
        this.push({ type: 'hook_timed_out', correlationId: cid, data: {} });
        this.setHooks.push({ token: hookIndexKey(token), runId: this.runId, correlationId: cid, name, createdAt: now, expiresAt: timeoutAt, consumedAt: now });
        this.dropTimer(`hook:${cid}`);
        cmd.waitingHook = undefined;
        cmd.hookOutcomes.set(name, { ok: false, error: new HookTimeoutError(`Step hook "${name}" timed out before it was resumed.`) });
        settled = true;
      } else if (cmd.kind === 'step' && !cmd.inflight && !this.deps.runsInline(cmd.def)) {
        if (!cmd.scheduled) {
          cmd.scheduled = true;
          this.push({
            type: 'step_scheduled',
            correlationId: cmd.id,
            data: { name: cmd.name, args: serialize(cmd.args, `the arguments of step "${cmd.name}"`), queue: cmd.def.queue ?? this.run.queue },
          });
          this.toDispatch.push(cmd);
        }
      }
    }
    return settled;
  }

  /** Events that must be durable before anything leaves the process. run_started alone can wait. */
  protected mustFlushNow(): boolean {
    return this.toDispatch.length > 0 || this.newTimers.length > 0 || this.startRuns.length > 0 || this.outbox.some((p) => p.type !== 'run_started');
  }

  /**
   * Waits for something to do while attempts run or a short retry waits: an attempt's outcome, the
   * run's earliest due time (a sleep, a hook or signal timeout, a retry, the maxDuration deadline),
   * which fires while inline steps run just as it would in a suspended run, or a poke.
   */
  protected async waitForProgress(): Promise<void> {
    if (this.completed.length > 0 || this.poked) {
      this.poked = false;
      return;
    }
    const due = nextDueAt(this.commands.values(), {
      deadline: this.def.maxDurationMs === undefined ? undefined : this.run.createdAt + this.def.maxDurationMs,
      waitsInline: (cmd) => this.deps.runsInline(cmd.def) && cmd.retryAt! - this.deps.clock() <= this.deps.inlineRetryMaxMs,
    });
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (due !== undefined) timer = setTimeout(resolve, Math.min(Math.max(0, due - this.deps.clock()), MAX_TIMER_MS));
    });
    clearTimeout(timer);
    this.wake = undefined;
    this.poked = false;
  }

  /**
   * Tells a waiting loop to look again: the worker received a task for this run (a timer's wake-up,
   * whose due time a virtual clock may have reached before the wall clock did).
   */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  protected async finish(): Promise<void> {
    const now = this.deps.clock();
    let patch: { status: RunStatus; result?: string; error?: ReturnType<typeof errorToObject> };
    let event: Pending;
    const outcome = this.fatal ? { ok: false as const, error: this.fatal } : this.outcome!;
    this.failure = outcome.ok ? undefined : outcome.error;
    if (this.cancelReason && !this.fatal) {
      event = { type: 'run_cancelled', data: { reason: this.cancelReason.reason } };
      patch = { status: 'cancelled', error: errorToObject(new CancelledError(this.cancelReason.reason)) };
    } else if (!outcome.ok && outcome.error instanceof ContinueAsNew) {
      let nextRunId: string;
      try {
        nextRunId = await this.createContinuation(outcome.error.args, now);
      } catch (err) {
        if (!(err instanceof DurablyError) || err.code !== 'SERIALIZATION') throw err;
        this.fatal = err;
        return this.finish();
      }
      event = { type: 'run_continued', data: { nextRunId } };
      patch = { status: 'continued' };
      this.startRuns.push({ runId: nextRunId, queue: this.run.queue });
    } else if (outcome.ok) {
      let result: string | undefined;
      try {
        result = checkPayload(serialize(outcome.value, `the result of workflow "${this.workflowName}"`), `The result of workflow "${this.workflowName}"`, this.deps.limits ?? DEFAULT_LIMITS);
      } catch (err) {
        this.fatal = err as Error;
        return this.finish();
      }
      event = { type: 'run_completed', data: { result } };
      patch = { status: 'completed', result };
    } else {
      const error = errorToObject(outcome.error);
      event = { type: 'run_failed', data: { error } };
      patch = { status: 'failed', error };
    }
    if (this.fatal instanceof EventLimitExceededError) {
      // Over the limit: record only the failure.
      this.outbox = [];
      this.toDispatch = [];
    }
    // Updates delivered and not answered get a failure, so no caller waits for an answer that cannot come.
    this.failUnansweredUpdates(patch.status);
    this.outbox.push(event);
    for (const child of this.children.values()) {
      if (!child.done && child.policy !== 'abandon' && patch.status !== 'continued') this.closeChildren.push({ runId: child.runId, policy: child.policy });
    }
    if (this.parentLink && patch.status !== 'continued') {
      const error = patch.status === 'cancelled' ? errorToObject(new CancelledError(this.cancelReason?.reason)) : patch.error;
      this.notifyParent = {
        parentRunId: this.parentLink.runId,
        correlationId: this.parentLink.correlationId,
        event: patch.status === 'completed' ? { type: 'child_completed', data: { childRunId: this.runId, result: patch.result! } } : { type: 'child_failed', data: { childRunId: this.runId, error: error! } },
      };
    }
    // A finished run keeps no timers (e.g. a sleep that lost a Promise.race).
    for (const timerId of [...this.liveTimers]) this.dropTimer(timerId);
    this.newTimers = [];
    this.toDispatch = [];
    this.releaseSlots = this.def.concurrency !== undefined;
    await this.flush(patch.status, { ...patch, finishedAt: now });
    // Attempts that lost a race to the end of the run: nothing of theirs can be recorded now.
    const ended = new CancelledError('the run has finished');
    for (const cmd of this.commands.values()) {
      if (cmd.kind !== 'step' || !cmd.inflight) continue;
      cmd.abort?.abort(ended);
      this.deps.attempts?.release(this.runId, cmd.id);
    }
    this.fail(ended);
  }
}
