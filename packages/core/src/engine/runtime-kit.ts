/**
 * For runtime implementers only: the seam through which another execution engine (the AWS Lambda
 * durable functions runtime in @durably/lambda, say) runs Durably workflows without Durably's
 * storage or broker. An implementation of WorkflowRuntime receives every durable call the workflow
 * makes (step, sleep, context values, hooks, children, patched); runWorkflowIn runs the workflow's
 * function with that runtime in scope. Application code never needs this file.
 */
import { runInScope, type WorkflowRuntime } from './scope.js';
import type { WorkflowDefinition } from './definitions.js';
import { runStepAttempt } from './step-runner.js';

export type { WorkflowRuntime, StepContext } from './scope.js';
export type { AttemptRequest, AttemptOutcome } from './step-runner.js';
/** Whether a step error ends the step at once (FatalError, a serialization or validation error...). */
export { isFatal, decideRetry, type RetryDecision } from './retry.js';
/** A step's retry policy (its own options over its workflow's default) and the delay before a retry. */
export { resolveRetryPolicy, backoffDelay, DEFAULT_RETRY } from './retry.js';
/** Thrown by continueAsNew(); a runtime that cannot continue a run as new refuses it. */
export { ContinueAsNew } from './control.js';

/**
 * Runs one attempt of a step body the way the worker does: schema check, a step scope (so
 * `context()` returns the step context and nested steps run plainly), the per-attempt timeout and
 * an abort signal. Resolves with the outcome; never rejects.
 */
export const runStepBody = runStepAttempt;

/**
 * Runs `definition.fn(...args)` with `runtime` as the execution of every durable call inside it.
 * The promise settles with the workflow's result or its error (a ContinueAsNew for continueAsNew()).
 */
export function runWorkflowIn<R>(runtime: WorkflowRuntime, definition: WorkflowDefinition<any[], R>, args: unknown[]): Promise<R> {
  return runInScope({ kind: 'workflow', execution: runtime }, () => Promise.resolve().then(() => definition.fn(...args))) as Promise<R>;
}

