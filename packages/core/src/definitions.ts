import { parseDuration, type Duration, ArgumentValidationError, InvalidArgumentError, checkName, checkQueue, checkTags } from '@durably/contracts';
import { DEFAULT_RETRY, resolveRetryPolicy, type RetryOptions, type RetryPolicy } from './retry.js';
import { currentScope } from './context.js';
import { NameRegistry } from './name-registry.js';

export interface StepOptions extends RetryOptions {
  /** Only workers listening on this queue run the step (it is dispatched through the broker). */
  queue?: string;
  /** Validates the argument list before each attempt; a failure fails the step at once (no retry). */
  schema?: ArgsSchema;
  /**
   * At most `limit` attempts start per `period` across all workers (for rate-limited services).
   * Steps with the same `key` share the budget (default: the step's name).
   */
  rateLimit?: { limit: number; period: Duration; key?: string };
}

export interface ConcurrencyOptions<A extends unknown[]> {
  /** Most runs of this workflow (per key) that may be started and unfinished at once. */
  limit: number;
  /** Groups runs by a key computed from the arguments (e.g. the user id): the limit is per key. */
  key?: (...args: A) => string;
}

export interface WorkflowOptions<A extends unknown[] = any[]> {
  /** Concurrency limit: runs beyond it wait (pending) until a slot frees. */
  concurrency?: ConcurrencyOptions<A>;
  /** Queue of the workflow's tasks. Default "default". */
  queue?: string;
  /** Default retry policy for the steps this workflow calls (a step's own options win). */
  retry?: RetryOptions;
  /** The run fails with WorkflowTimeoutError once this long has passed since it was created, even while suspended. */
  maxDuration?: Duration;
  /** Validates the argument list (e.g. `z.tuple([z.string()])`) at start; an invalid start throws ArgumentValidationError. */
  schema?: ArgsSchema;
  /** `false`: transient mode. Nothing is stored; steps run inline with their retries; sleep is a real timer. */
  durable?: boolean;
  /** Labels stored with every run of this workflow; filter with listRuns({ tags }). */
  tags?: string[];
  /**
   * A schedule declared with the workflow (`{ cron, timezone }`, `{ every }` or `{ calendar }`, plus the
   * schedule options): workers activate it when they start, under the id `workflow:<name>`, once however
   * many workers there are.
   */
  schedule?: import('./schedules.js').ScheduleOptions<A>;
  /** Resume the run on another worker when its worker is lost (default true); false fails it instead. */
  recoverOnWorkerLoss?: boolean;
  /** Most recoveries after worker loss; one more fails the run with WorkerLostError. Default 10. */
  maxRecoveryAttempts?: number;
}

/** Anything with zod's `safeParse`, applied to the argument list as a tuple. */
export interface ArgsSchema {
  safeParse(value: unknown): { success: true; data: unknown } | { success: false; error: unknown };
}

export interface StepDefinition<A extends unknown[] = any[], R = any> {
  readonly kind: 'step';
  readonly name: string;
  readonly fn: (...args: A) => Promise<R> | R;
  readonly options: StepOptions;
  readonly queue?: string;
  /** The step's own retry settings, merged over the workflow's default when it runs. */
  readonly retry?: RetryOptions;
  readonly rateLimit?: { limit: number; periodMs: number; key: string };
  readonly schema?: ArgsSchema;
}

export interface WorkflowDefinition<A extends unknown[] = any[], R = any> {
  readonly kind: 'workflow';
  readonly name: string;
  readonly fn: (...args: A) => Promise<R>;
  readonly queue: string;
  readonly stepRetry: RetryPolicy;
  readonly concurrency?: { limit: number; key?: (...args: any[]) => string };
  readonly maxDurationMs?: number;
  readonly schema?: ArgsSchema;
  readonly durable: boolean;
  readonly tags: string[];
  readonly recoverOnWorkerLoss: boolean;
  readonly maxRecoveryAttempts: number;
  readonly schedule?: import('./schedules.js').ScheduleOptions<any[]>;
}

/** A step: call it like the function it wraps. Inside a workflow the call is recorded; elsewhere it runs plainly. */
export type Step<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) & { readonly definition: StepDefinition<A, Awaited<R>> };

/** A workflow: pass it to `start()`; calling it directly runs it as a plain function (no durability). */
export type Workflow<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) & {
  readonly definition: WorkflowDefinition<A, Awaited<R>>;
  readonly workflowName: string;
};

/**
 * Step definitions by name. Dispatched steps are looked up here by the worker that runs them, so a
 * step must be defined (its module imported) in every worker that listens on its queue. This and
 * the default client are the only process-wide state.
 */
const stepRegistry = new NameRegistry<StepDefinition>('step');
/** Workflow names are unique too: a run's log names its workflow, and a worker runs it by that name. */
const workflowRegistry = new NameRegistry<WorkflowDefinition>('workflow');

export function getStepDefinition(name: string): StepDefinition | undefined {
  return stepRegistry.get(name);
}

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
    retry: options.retries !== undefined || options.backoff !== undefined || options.timeout !== undefined ? options : undefined,
    rateLimit,
    schema: checkSchemaOption(options.schema, `step("${name}")`),
  };
  stepRegistry.register(name, fn, definition as StepDefinition);
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
    schedule: options.schedule as import('./schedules.js').ScheduleOptions<any[]> | undefined,
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
  workflowRegistry.register(name, fn, definition as WorkflowDefinition);
  const call = (...args: A): Promise<Awaited<R>> => fn(...args) as Promise<Awaited<R>>;
  Object.defineProperty(call, 'name', { value: name });
  return Object.assign(call, { definition, workflowName: name });
}

function checkSchemaOption(schema: unknown, owner: string): ArgsSchema | undefined {
  if (schema === undefined) return undefined;
  if (typeof (schema as ArgsSchema)?.safeParse !== 'function') throw new InvalidArgumentError(`${owner}: "schema" must have a safeParse method (a zod schema such as z.tuple([...])).`);
  return schema as ArgsSchema;
}

/** Validates an argument list against a schema; returns the parsed list or throws ArgumentValidationError. */
export function validateArgs(schema: ArgsSchema | undefined, args: unknown[], what: string): unknown[] {
  if (!schema) return args;
  const result = schema.safeParse(args);
  if (result.success) return Array.isArray(result.data) ? result.data : args;
  throw new ArgumentValidationError(what, result.error);
}

export function isWorkflow(value: unknown): value is Workflow<unknown[], unknown> {
  return typeof value === 'function' && (value as { definition?: { kind?: string } }).definition?.kind === 'workflow';
}

export type { Duration };
export { parseDuration };
