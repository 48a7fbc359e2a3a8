import {
  type Duration,
  ArgumentValidationError,
  DuplicateNameError,
  InvalidArgumentError,
  type CatchUpPolicy,
} from '@durably/contracts';

// Name rules (checkName, checkQueue, checkTags...) are contracts: '@durably/contracts' names.ts.
import type { RetryOptions, RetryPolicy } from './retry.js';
import { NameRegistry } from '../name-registry.js';

/**
 * What steps, workflows, hooks and queries are, as the engine sees them, and the process-wide
 * registries that find them by name. The functions that make them (step(), workflow(), defineHook(),
 * defineQuery()) are the API, one floor up.
 */


/**
 * Options of `step(name, fn, options)`: retries (see {@link RetryOptions}), where the step runs, the
 * validation of its arguments, and a rate limit shared by all workers.
 */
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

/**
 * Options of `workflow(name, fn, options)`: queue, step retry default, concurrency and time limits,
 * argument validation, tags, a declared schedule, and what happens when a worker is lost.
 */
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
  schedule?: ScheduleOptions<A>;
  /** Resume the run on another worker when its worker is lost (default true); false fails it instead. */
  recoverOnWorkerLoss?: boolean;
  /** Most recoveries after worker loss; one more fails the run with WorkerLostError. Default 10. */
  maxRecoveryAttempts?: number;
}

/** Anything with zod's `safeParse`, applied to the argument list as a tuple. */
export interface ArgsSchema {
  safeParse(value: unknown): { success: true; data: unknown } | { success: false; error: unknown };
}

/**
 * What `step()` made, as `someStep.definition` exposes it: the name, the body and the resolved options.
 * Read-only; for tools and runtimes, not needed to call the step.
 */
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

/**
 * What `workflow()` made, as `someWorkflow.definition` exposes it: the name, the body and every option
 * resolved (the step retry policy in milliseconds). Read-only; for tools and runtimes.
 */
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
  readonly schedule?: ScheduleOptions<any[]>;
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
const workflowRegistry = new NameRegistry<Workflow<any[], any>>('workflow');

/** The step defined with this name in this process, or undefined (a worker looks dispatched steps up so). */
export function getStepDefinition(name: string): StepDefinition | undefined {
  return stepRegistry.get(name);
}

/**
 * Workflows every worker runs without listing them (the stream runs of defineStream): the module
 * that defines one registers it here, so the worker needs no import of it.
 */
const builtins = new Map<string, WorkflowDefinition>();

export function registerBuiltinWorkflow(wf: Workflow<any[], any>): void {
  builtins.set(wf.definition.name, wf.definition);
}

export function builtinWorkflows(): WorkflowDefinition[] {
  return [...builtins.values()];
}

/** Registers a step definition under its name (DuplicateNameError for another function under that name). */
export function registerStep(fn: unknown, definition: StepDefinition): void {
  stepRegistry.register(definition.name, fn, definition);
}

/**
 * The workflow defined in this process under `name` (the function `workflow(name, ...)` returned),
 * or undefined when no module imported so far defines it.
 */
export function getWorkflow(name: string): Workflow<any[], any> | undefined {
  return workflowRegistry.get(name);
}

/**
 * The workflows defined in this process, sorted by name: those of the modules imported so far.
 * Built-in ones (the stream runs of defineStream) only with `{ builtins: true }`.
 */
export function listWorkflows(options: { builtins?: boolean } = {}): Workflow<any[], any>[] {
  return workflowRegistry
    .names()
    .filter((name) => options.builtins === true || !builtins.has(name))
    .map((name) => workflowRegistry.get(name)!);
}

/** Registers a workflow definition under its name (DuplicateNameError for another function under that name). */
export function registerWorkflow(fn: unknown, wf: Workflow<any[], any>): void {
  workflowRegistry.register(wf.definition.name, fn, wf);
}

export function checkSchemaOption(schema: unknown, owner: string): ArgsSchema | undefined {
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

/** True when `value` is a workflow made by `workflow()` (config loaders use it to find a module's workflows). */
export function isWorkflow(value: unknown): value is Workflow<unknown[], unknown> {
  return typeof value === 'function' && (value as { definition?: { kind?: string } }).definition?.kind === 'workflow';
}


/**
 * Anything with zod's `safeParse` (zod 3 and 4, and compatible validators) can be a hook schema.
 */
export interface PayloadSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: unknown };
}

/**
 * A hook made by `defineHook(name, { schema })`: call `create()` in a workflow to wait for an outside
 * payload of type `T`, delivered by `resumeHook(token, payload)`.
 */
export interface HookDefinition<T> {
  /** The hook's name, unique in the process. */
  readonly name: string;
  /** Validates payloads at `resumeHook`; an invalid one is refused with HookPayloadInvalidError. */
  readonly schema?: PayloadSchema<T>;
  /**
   * Inside a workflow: creates a hook and returns it at once. `hook.token` is unguessable and
   * single-use; `await hook` suspends the run until `resumeHook(token, payload)` (rejects with
   * HookTimeoutError when `timeout` passes first).
   */
  create(options?: { timeout?: Duration }): Hook<T>;
}

/** A created hook: a promise for its payload, with the token that resumes it. */
export interface Hook<T> extends PromiseLike<T> {
  readonly token: string;
  catch<R = never>(onrejected?: (reason: unknown) => R | PromiseLike<R>): Promise<T | R>;
}

/** Hook definitions by name, so that resumeHook in any process can validate the payload. */
const hookRegistry = new Map<string, HookDefinition<unknown>>();

/** The hook defined with this name in this process, or undefined (resumeHook finds the schema so). */
export function getHookDefinition(name: string): HookDefinition<unknown> | undefined {
  return hookRegistry.get(name);
}

/** Registers a hook definition; a different one under the same name is an error. */
export function registerHook(def: HookDefinition<unknown>): void {
  const existing = hookRegistry.get(def.name);
  if (existing && existing.schema !== def.schema) {
    throw new DuplicateNameError('hook', def.name);
  }
  hookRegistry.set(def.name, def);
}

/**
 * A query made by `defineQuery(name)`: a workflow answers it with `handle((...args) => value)`, and
 * `client.query(workflow, runId, query, ...args)` reads the answer by replaying the run's log. `A`
 * are the arguments the caller passes; a query without arguments has `A = []`.
 */
export interface QueryDefinition<T, A extends unknown[] = []> {
  /** The query's name. */
  readonly name: string;
  /** Validates the arguments of every call (a zod tuple, for example) before the handler sees them. */
  readonly schema?: ArgsSchema;
  /** Inside a workflow: answers this query with `handler(...args)` (which reads the workflow's state). */
  handle(handler: (...args: A) => T): void;
}

/**
 * Options of `schedule(id, workflow, options)` and `client.schedules.create(...)`: one of `cron`,
 * `every` or `calendar`, the run arguments, and what to do with overlapping and missed slots. Invalid
 * values throw `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * import { schedule, workflow } from '@durably/core';
 *
 * const report = workflow('daily-report', async (team: string) => `report for ${team}`);
 * await schedule('daily-report-ops', report, { cron: '0 9 * * MON-FRI', timezone: 'Europe/Paris', args: ['ops'] });
 * ```
 */
export interface ScheduleOptions<A extends unknown[]> {
  /** Cron expression (5 or 6 fields, croner syntax: `0 9 * * MON`). */
  cron?: string;
  /** IANA time zone of the cron expression. Default UTC. */
  timezone?: string;
  /** Fixed interval instead of cron: `15m`, `1h`, or ms. */
  every?: Duration;
  /**
   * Calendar fields instead of cron: `{ dayOfWeek: [1, 3], hour: 9, minute: 30 }` (0 = Sunday).
   * Unset minute and hour default to 0 (hour to every hour when only minute is set); other fields to every.
   */
  calendar?: CalendarSpec;
  /** No slot after this time. */
  endAt?: Date;
  /** Start each run up to this long after its slot, at random, to spread load. */
  jitter?: Duration;
  /** Arguments of each run. */
  args?: A;
  /** When a slot comes while the previous run still runs. Default "skip". */
  overlap?: 'skip' | 'buffer_one' | 'buffer one' | 'buffer_all' | 'buffer all' | 'allow_all' | 'allow all' | 'cancel_previous' | 'cancel previous';
  /** Slots missed while no scheduler ran: fire none, only the latest, or all (at most 1,000). Default "latest". */
  catchUp?: CatchUpPolicy;
  /** Queue of the runs (default: the workflow's). */
  queue?: string;
  /** First slot no earlier than this (for intervals, slots are counted from it). Default: now. */
  startAt?: Date;
}

export interface CalendarSpec {
  minute?: number | number[];
  hour?: number | number[];
  dayOfMonth?: number | number[];
  month?: number | number[];
  /** 0 (Sunday) to 6. */
  dayOfWeek?: number | number[];
}

