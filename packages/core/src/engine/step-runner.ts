import { runInScope, type CheckpointStore, type StepContext } from './scope.js';
import { StepTimeoutError, type Logger } from '@durably/contracts';
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
}

/**
 * Runs one attempt of a step body in its own scope (so steps it calls run as plain functions),
 * with the per-attempt timeout and an AbortSignal the body can pass to fetch and friends.
 * A timed-out body cannot be killed (JavaScript has no preemption): its signal fires and its
 * late result is ignored. `extra` holds fields the runtime adds to the step's context (its client).
 */
export async function runStepAttempt(
  request: AttemptRequest,
  options: { logger: Logger; heartbeat: () => void; signal?: AbortSignal; checkpoints?: CheckpointStore; hookOutcomes?: StepHookOutcomes; extra?: object },
): Promise<AttemptOutcome> {
  const controller = new AbortController();
  // Aborted by the worker stopping or by the run being cancelled, whichever comes first.
  const outer = [options.signal, request.signal].filter((s): s is AbortSignal => s !== undefined);
  const onOuterAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  for (const s of outer) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', onOuterAbort, { once: true });
  }
  const context: StepContext = {
    kind: 'step',
    runId: request.runId,
    stepId: request.stepId,
    stepName: request.def.name,
    attempt: request.attempt,
    idempotencyKey: `${request.runId}:${request.stepId}`,
    logger: options.logger.child({ runId: request.runId, step: request.def.name, stepId: request.stepId, attempt: request.attempt }),
    heartbeat: options.heartbeat,
    signal: controller.signal,
    checkpoints: options.checkpoints,
    hookOutcomes: options.hookOutcomes,
    suspension: {},
    // What the runtime adds to the step context (its client, for streams).
    ...options.extra,
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    // Checked before every attempt; a failure is an ArgumentValidationError, which is never retried.
    const args = validateArgs(request.def.schema, request.args, `step "${request.def.name}"`);
    const body = runInScope({ kind: 'step', context }, async () => request.def.fn(...args));
    const timeoutMs = request.policy.timeoutMs;
    const value =
      timeoutMs === undefined
        ? await body
        : await Promise.race([
            body,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                const error = new StepTimeoutError(`Step "${request.def.name}" attempt ${request.attempt} timed out after ${timeoutMs} ms.`);
                controller.abort(error);
                reject(error);
              }, timeoutMs);
            }),
          ]);
    if (context.suspension?.current) return { ok: false, error: context.suspension.current };
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: context.suspension?.current ?? error };
  } finally {
    if (timer) clearTimeout(timer);
    for (const s of outer) s.removeEventListener('abort', onOuterAbort);
  }
}
