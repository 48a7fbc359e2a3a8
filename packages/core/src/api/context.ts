import { type Duration, NotInWorkflowError } from '@durably/contracts';
import { currentScope, type StepContext, type WorkflowContext, type WorkflowRuntime } from '../engine/scope.js';

export type { StepContext, WorkflowContext } from '../engine/scope.js';

/**
 * Inside a workflow: the run id and deterministic `now()`, `random()`, `uuid()`.
 * Inside a step: run id, step id, attempt, idempotency key, logger, heartbeat and abort signal.
 */
export function context(): WorkflowContext | StepContext;
export function context(): WorkflowContext | StepContext {
  const scope = currentScope();
  if (!scope) {
    throw new NotInWorkflowError('context() was called outside a workflow or step. Call it inside a workflow(...) or step(...) function body.');
  }
  if (scope.kind === 'step') return scope.context;
  const ex = scope.execution;
  return {
    kind: 'workflow',
    runId: ex.runId,
    workflowName: ex.workflowName,
    now: () => new Date(ex.recordValue('now', () => Date.now())),
    random: () => ex.recordValue('random', () => Math.random()),
    uuid: () => ex.recordValue('uuid', () => crypto.randomUUID()),
    ...(ex.scheduled ? { scheduledAt: new Date(ex.scheduled.at), scheduleId: ex.scheduled.scheduleId } : {}),
    logger: ex.logger,
  };
}

/**
 * Inside a workflow only: the workflow context (deterministic `now()`, `random()`, `uuid()`, the
 * run id, the schedule slot), typed as such. Throws elsewhere. `context()` returns the same object,
 * typed as the union of the workflow and the step context.
 */
export function workflowContext(): WorkflowContext {
  const scope = currentScope();
  if (scope?.kind !== 'workflow') throw new NotInWorkflowError('workflowContext() was called outside a workflow. Call it inside a workflow(...) function body (in a step, use stepContext()).');
  return context() as WorkflowContext;
}

/** Inside a step only: the step context. Throws elsewhere. */
export function stepContext(): StepContext {
  const scope = currentScope();
  if (scope?.kind !== 'step') throw new NotInWorkflowError('stepContext() was called outside a step. Call it inside a step(...) function body.');
  return scope.context;
}

/**
 * Durable sleep: `sleep('1d')`, `sleep(86_400_000)`, `sleep(new Date(...))`. Inside a workflow the
 * run suspends and holds nothing until the time comes; outside one it is a plain timer.
 */
export function sleep(duration: Duration | Date): Promise<void> {
  const scope = currentScope();
  if (scope?.kind === 'workflow') return scope.execution.sleep(duration);
  return plainSleep(duration);
}

async function plainSleep(duration: Duration | Date): Promise<void> {
  const { parseDuration } = await import('@durably/contracts');
  const ms = duration instanceof Date ? Math.max(0, duration.getTime() - Date.now()) : parseDuration(duration, 'sleep()');
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/**
 * True while the workflow's code re-runs what an earlier execution of the run already ran: after a
 * worker restart, on another worker, or when a query replays the log. Guard side effects that live
 * outside steps (a metric, a console line, a call to a cache) with `if (!isReplaying())` so they happen
 * once. False in a step body (a step's attempts run once each, never in replay) and outside a workflow.
 */
export function isReplaying(): boolean {
  const scope = currentScope();
  return scope?.kind === 'workflow' ? scope.execution.isReplaying() : false;
}

/** The execution of the workflow this is called in; throws NotInWorkflowError elsewhere. */
export function workflowRuntime(what: string): WorkflowRuntime {
  const scope = currentScope();
  if (scope?.kind !== 'workflow') throw new NotInWorkflowError(`${what} was called outside a workflow. Call it in a workflow(...) body.`);
  return scope.execution;
}
