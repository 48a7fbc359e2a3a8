import { runInScope, type CheckpointStore, type StepContext } from './scope.js';
import { StepHeartbeatTimeoutError, StepTimeoutError, type Logger } from '@durably/contracts';
import { HEARTBEAT_DETAILS_INTERVAL_MS, type HeartbeatDetails } from './heartbeats.js';
import { validateArgs } from './definitions.js';
import type { Outcome, StepHookOutcomes } from './control.js';
import type { StepDefinition } from './definitions.js';
import type { RetryPolicy } from './retry.js';

/** How one attempt of a step body ended. */
export type AttemptOutcome = Outcome;

export interface AttemptRequest {
  runId: string;
  stepId: string;
  def: StepDefinition;
  args: unknown[];
  attempt: number;
  policy: RetryPolicy;
  /** Fired when the run is cancelled while the attempt runs. */
  signal?: AbortSignal;
  /** Outcomes of the step's hooks so far (stepHook). */
  hookOutcomes?: StepHookOutcomes;
  /** seq of the attempt's `step_started`. */
  claimSeq?: number;
  /** An attempt of this step started before this one (a retry, or a takeover after a lost worker): it may have left heartbeat details. */
  resumed?: boolean;
  /** When the step's first attempt started (its totalTimeout counts from there). */
  firstStartedAt?: number;
  /** What is left of the step's `totalTimeout` (ms) when the attempt starts: the attempt is cut there. */
  totalLeftMs?: number;
}

/**
 * Runs one attempt of a step body in its own scope (so steps it calls run as plain functions),
 * with the per-attempt timeout and an AbortSignal the body can pass to fetch and friends. Resolves
 * with the body's outcome; rejects only when the engine could not prepare the attempt (its heartbeat
 * details could not be read), and then the body did not run.
 * A timed-out body cannot be killed (JavaScript has no preemption): its signal fires and its
 * late result is ignored. `extra` holds fields the runtime adds to the step's context (its client).
 */
export async function runStepAttempt(
  request: AttemptRequest,
  options: { logger: Logger; heartbeat: () => void; signal?: AbortSignal; checkpoints?: CheckpointStore; heartbeats?: HeartbeatDetails; hookOutcomes?: StepHookOutcomes; extra?: object },
): Promise<AttemptOutcome> {
  const controller = new AbortController();
  // Aborted by the worker stopping or by the run being cancelled, whichever comes first.
  const outer = [options.signal, request.signal].filter((s): s is AbortSignal => s !== undefined);
  const onOuterAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  for (const s of outer) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', onOuterAbort, { once: true });
  }
  let touchedAt = Number.NEGATIVE_INFINITY;
  const context: StepContext = {
    kind: 'step',
    runId: request.runId,
    stepId: request.stepId,
    stepName: request.def.name,
    attempt: request.attempt,
    idempotencyKey: `${request.runId}:${request.stepId}`,
    logger: options.logger.child({ runId: request.runId, step: request.def.name, stepId: request.stepId, attempt: request.attempt }),
    heartbeat: (details?: unknown) => {
      armWatchdog();
      if (details !== undefined) options.heartbeats?.record(details);
      // The worker's touch of the run (its updatedAt): at most once per interval, however chatty the step.
      const now = Date.now();
      if (now - touchedAt >= HEARTBEAT_DETAILS_INTERVAL_MS) {
        touchedAt = now;
        options.heartbeat();
      }
    },
    signal: controller.signal,
    checkpoints: options.checkpoints,
    hookOutcomes: options.hookOutcomes,
    suspension: {},
    // What the runtime adds to the step context (its client, for streams).
    ...options.extra,
  };
  let timer: NodeJS.Timeout | undefined;
  // heartbeatTimeout: a watchdog that each heartbeat re-arms; when it fires the attempt is taken for hung.
  let watchdog: NodeJS.Timeout | undefined;
  let hung: ((error: Error) => void) | undefined;
  const heartbeatMs = request.policy.heartbeatTimeoutMs;
  function armWatchdog(): void {
    if (heartbeatMs === undefined || !hung) return;
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      const error = new StepHeartbeatTimeoutError(
        `Step "${request.def.name}" attempt ${request.attempt} sent no heartbeat for ${heartbeatMs} ms (its heartbeatTimeout): taken for hung. Call stepContext().heartbeat() more often than that, or raise heartbeatTimeout.`,
      );
      controller.abort(error);
      hung!(error);
    }, heartbeatMs);
  }
  // Read before the body's try: a storage failure here is the engine's, not the step's, so it rejects
  // (the attempt is abandoned and its lease lapses) instead of being recorded as a failed attempt.
  if (options.heartbeats && (request.resumed || request.attempt > 1)) {
    try {
      (context as { heartbeatDetails?: unknown }).heartbeatDetails = await options.heartbeats.load();
    } catch (err) {
      for (const s of outer) s.removeEventListener('abort', onOuterAbort);
      throw err;
    }
  }
  try {
    if (request.totalLeftMs !== undefined && request.totalLeftMs <= 0) {
      // Started late (a retry or a takeover past the deadline): the body does not run at all.
      return { ok: false, error: new StepTimeoutError(`Step "${request.def.name}" attempt ${request.attempt} was not run: the step's totalTimeout (${request.policy.totalTimeoutMs} ms since its first attempt started) has passed.`) };
    }
    // Checked before every attempt; a failure is an ArgumentValidationError, which is never retried.
    const args = validateArgs(request.def.schema, request.args, `step "${request.def.name}"`);
    const limits: Promise<never>[] = [];
    if (heartbeatMs !== undefined) {
      limits.push(new Promise<never>((_, reject) => (hung = reject)));
      armWatchdog();
    }
    const total = request.totalLeftMs;
    const timeoutMs = total !== undefined && (request.policy.timeoutMs === undefined || total < request.policy.timeoutMs) ? Math.max(0, total) : request.policy.timeoutMs;
    if (timeoutMs !== undefined) {
      const message =
        timeoutMs === request.policy.timeoutMs
          ? `Step "${request.def.name}" attempt ${request.attempt} timed out after ${timeoutMs} ms.`
          : `Step "${request.def.name}" attempt ${request.attempt} was stopped at the step's totalTimeout (${request.policy.totalTimeoutMs} ms since its first attempt started).`;
      limits.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new StepTimeoutError(message);
            controller.abort(error);
            reject(error);
          }, timeoutMs);
        }),
      );
    }
    const body = runInScope({ kind: 'step', context }, async () => request.def.fn(...args));
    const value = limits.length === 0 ? await body : await Promise.race([body, ...limits]);
    if (context.suspension?.current) return { ok: false, error: context.suspension.current };
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: context.suspension?.current ?? error };
  } finally {
    if (timer) clearTimeout(timer);
    clearTimeout(watchdog);
    hung = undefined;
    for (const s of outer) s.removeEventListener('abort', onOuterAbort);
    // Written before the outcome is, so the attempt that follows reads the latest details.
    await options.heartbeats?.flush();
  }
}
