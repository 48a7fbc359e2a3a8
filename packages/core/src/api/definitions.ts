import { parseDuration, InvalidArgumentError, checkName, checkQueue, checkTags } from '@durably/contracts';
import { DEFAULT_RETRY, resolveRetryPolicy } from '../engine/retry.js';
import { currentScope } from '../engine/scope.js';
import {
  checkSchemaOption,
  registerStep,
  registerWorkflow,
  type ScheduleOptions,
  type Step,
  type StepDefinition,
  type StepOptions,
  type Workflow,
  type WorkflowDefinition,
  type WorkflowOptions,
} from '../engine/definitions.js';

export { getStepDefinition, getWorkflow, isWorkflow, listWorkflows, validateArgs } from '../engine/definitions.js';
export type { ArgsSchema, ConcurrencyOptions, Step, StepDefinition, StepOptions, Workflow, WorkflowDefinition, WorkflowOptions } from '../engine/definitions.js';

/**
 * Defines a step. Inside a workflow, a call records its result in the run's log so that replay
 * returns it without running the body again; a call anywhere else runs the body as a plain function.
 */
export function step<A extends unknown[], R>(name: string, fn: (...args: A) => R | Promise<R>, options: StepOptions = {}): Step<A, R> {
  checkName('Step', name);
  if (typeof fn !== 'function') throw new InvalidArgumentError(`step("${name}"): the second argument must be a function.`);
  // Validate the options now so a typo fails at import time rather than at the first attempt.
  resolveRetryPolicy(options, DEFAULT_RETRY, `step("${name}")`);
  if (options.queue !== undefined) checkQueue(options.queue, `step("${name}")`);
  let rateLimit: StepDefinition['rateLimit'];
  if (options.rateLimit !== undefined) {
    const { limit, period, key } = options.rateLimit;
    if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`step("${name}"): rateLimit.limit must be a whole number >= 1, got ${JSON.stringify(limit)}.`);
    rateLimit = { limit, periodMs: parseDuration(period, `step("${name}"): rateLimit.period`), key: key ?? name };
    if (rateLimit.periodMs < 1) throw new InvalidArgumentError(`step("${name}"): rateLimit.period must be at least 1 ms.`);
  }
  const definition: StepDefinition<A, Awaited<R>> = {
    kind: 'step',
    name,
    fn: fn as (...args: A) => Promise<Awaited<R>>,
    options,
    queue: options.queue,
    retry: (['retries', 'backoff', 'timeout', 'heartbeatTimeout', 'totalTimeout'] as const).some((k) => options[k] !== undefined) ? options : undefined,
    rateLimit,
    schema: checkSchemaOption(options.schema, `step("${name}")`),
  };
  registerStep(fn, definition as StepDefinition);
  const call = (...args: A): Promise<Awaited<R>> => {
    const scope = currentScope();
    if (scope?.kind === 'workflow') return scope.execution.callStep(definition as StepDefinition, args) as Promise<Awaited<R>>;
    return Promise.resolve().then(() => fn(...args)) as Promise<Awaited<R>>;
  };
  Object.defineProperty(call, 'name', { value: name });
  return Object.assign(call, { definition });
}

/** Defines a workflow: plain async code made durable by recording every step, sleep and recorded value. */
export function workflow<A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>, options: WorkflowOptions<A> = {}): Workflow<A, R> {
  checkName('Workflow', name);
  if (typeof fn !== 'function') throw new InvalidArgumentError(`workflow("${name}"): the second argument must be a function.`);
  const queue = options.queue === undefined ? 'default' : checkQueue(options.queue, `workflow("${name}")`);
  if (options.retry?.heartbeatTimeout !== undefined) {
    throw new InvalidArgumentError(
      `workflow("${name}"): "heartbeatTimeout" is a step option, not a default for every step: a step that never calls stepContext().heartbeat() would fail each attempt after it. Set it on the steps that heartbeat: step(name, fn, { heartbeatTimeout: '30s' }).`,
    );
  }
  const definition: WorkflowDefinition<A, Awaited<R>> = {
    kind: 'workflow',
    name,
    fn: fn as (...args: A) => Promise<Awaited<R>>,
    queue,
    stepRetry: resolveRetryPolicy(options.retry, DEFAULT_RETRY, `workflow("${name}") retry`),
    maxDurationMs: options.maxDuration === undefined ? undefined : parseDuration(options.maxDuration, `workflow("${name}"): maxDuration`),
    schema: checkSchemaOption(options.schema, `workflow("${name}")`),
    durable: options.durable !== false,
    tags: checkTags(options.tags, `workflow("${name}")`),
    recoverOnWorkerLoss: options.recoverOnWorkerLoss !== false,
    schedule: options.schedule as ScheduleOptions<any[]> | undefined,
    maxRecoveryAttempts: options.maxRecoveryAttempts ?? 10,
  };
  if (!Number.isInteger(definition.maxRecoveryAttempts) || definition.maxRecoveryAttempts < 0) {
    throw new InvalidArgumentError(`workflow("${name}"): maxRecoveryAttempts must be a whole number >= 0, got ${JSON.stringify(options.maxRecoveryAttempts)}.`);
  }
  if (options.concurrency !== undefined) {
    const { limit, key } = options.concurrency;
    if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`workflow("${name}"): concurrency.limit must be a whole number >= 1, got ${JSON.stringify(limit)}.`);
    if (key !== undefined && typeof key !== 'function') throw new InvalidArgumentError(`workflow("${name}"): concurrency.key must be a function of the arguments.`);
    (definition as { concurrency?: WorkflowDefinition['concurrency'] }).concurrency = { limit, key: key as ((...args: any[]) => string) | undefined };
  }
  const call = (...args: A): Promise<Awaited<R>> => fn(...args) as Promise<Awaited<R>>;
  Object.defineProperty(call, 'name', { value: name });
  const wf = Object.assign(call, { definition, workflowName: name });
  registerWorkflow(fn, wf as unknown as Workflow<any[], any>);
  return wf;
}

