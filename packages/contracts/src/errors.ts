import { durationMs } from './duration-ms.js';
import { redactUrl } from './redact-url.js';

/**
 * Every error a user can meet is a class exported from here, with a stable `code`.
 * Messages say what happened, with which value, and what to do about it.
 */

export type ErrorCode =
  | 'DURABLY_ERROR'
  | 'FATAL'
  | 'RETRYABLE'
  | 'NON_DETERMINISM'
  | 'APPEND_CONFLICT'
  | 'RUN_NOT_FOUND'
  | 'RUN_ID_IN_USE'
  | 'WORKFLOW_NOT_REGISTERED'
  | 'STEP_TIMEOUT'
  | 'STEP_HEARTBEAT_TIMEOUT'
  | 'STEP_FAILED'
  | 'WORKFLOW_FAILED'
  | 'RESULT_TIMEOUT'
  | 'CANCELLED'
  | 'RUN_ALREADY_FINISHED'
  | 'INVALID_ARGUMENT'
  | 'INVALID_DURATION'
  | 'SERIALIZATION'
  | 'UNKNOWN_SCHEME'
  | 'ADAPTER_NOT_INSTALLED'
  | 'SQLITE_UNAVAILABLE'
  | 'STORAGE'
  | 'BROKER'
  | 'POISON_MESSAGE'
  | 'NOT_IN_WORKFLOW'
  | 'CONFIG'
  | 'HOOK_NOT_FOUND'
  | 'HOOK_ALREADY_USED'
  | 'HOOK_EXPIRED'
  | 'HOOK_TIMEOUT'
  | 'HOOK_PAYLOAD_INVALID'
  | 'SIGNAL_TIMEOUT'
  | 'UPDATE_REJECTED'
  | 'UPDATE_FAILED'
  | 'UPDATE_TIMEOUT'
  | 'PAYLOAD_TOO_LARGE'
  | 'EVENT_LIMIT_EXCEEDED'
  | 'CHILD_FAILED'
  | 'SCHEDULE_NOT_FOUND'
  | 'ARGUMENT_VALIDATION'
  | 'WORKFLOW_TIMEOUT'
  | 'DURABLE_ONLY'
  | 'WORKER_LOST'
  | 'STREAM_NOT_DEFINED'
  | 'STREAM_RUN_NOT_FOUND'
  | 'STREAM_FAILED'
  | 'DUPLICATE_NAME'
  | 'QUERY_NOT_REGISTERED'
  | 'QUERY_FAILED'
  | 'CHILD_DEPTH_EXCEEDED'
  | 'INVALID_ATTRIBUTE'
  | 'PAYLOAD_KEY_MISSING'
  | 'PAYLOAD_DECRYPT_FAILED'
  | 'SCOPE_TIMEOUT';

/**
 * Base class of every error Durably throws. `code` is stable (match on it, or on `instanceof`);
 * `name` is the class's name; `cause`, when set, is the underlying error. Errors recorded in a run's
 * log come back from storage as instances of their class (see `deserialize`).
 *
 * @example
 * ```ts
 * import { DurablyError } from '@durably/core';
 *
 * function explain(err: unknown): string {
 *   return err instanceof DurablyError ? `${err.code}: ${err.message}` : String(err);
 * }
 * ```
 */
export class DurablyError extends Error {
  readonly code: ErrorCode = 'DURABLY_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Thrown from a step: the step fails at once, with no further attempt. */
export class FatalError extends DurablyError {
  override readonly code = 'FATAL' as const;
}

/** Thrown from a step: the step is retried, after `retryAfter` when given (overriding the backoff). */
export class RetryableError extends DurablyError {
  override readonly code = 'RETRYABLE' as const;
  readonly retryAfterMs?: number;
  constructor(message: string, options?: { retryAfter?: string | number; cause?: unknown }) {
    super(message, options);
    if (options?.retryAfter !== undefined) {
      const ms = durationMs(options.retryAfter);
      if (ms === undefined) throw new InvalidDurationError(options.retryAfter, 'retryAfter');
      this.retryAfterMs = ms;
    }
  }
}

/** The workflow code and its recorded event log disagree at a position. */
export class NonDeterminismError extends DurablyError {
  override readonly code = 'NON_DETERMINISM' as const;
  constructor(
    readonly position: string,
    readonly recorded: string,
    readonly current: string,
  ) {
    super(
      `Non-determinism at call #${position}: the log recorded ${recorded} but the code now calls ${current}. ` +
        `A workflow must make the same durable calls in the same order on replay. ` +
        `Guard changed code with patched('<id>') so that runs already in flight keep their old path.`,
    );
  }
}

/** A conditional append lost a race: another writer appended to the run first. */
export class AppendConflictError extends DurablyError {
  override readonly code = 'APPEND_CONFLICT' as const;
  constructor(
    readonly runId: string,
    readonly expectedSeq: number,
    readonly actualSeq?: number,
  ) {
    super(
      `Append to run ${runId} expected the log to end at seq ${expectedSeq}` +
        (actualSeq === undefined ? '' : ` but it ends at seq ${actualSeq}`) +
        `: another writer appended first. Re-read the log and retry.`,
    );
  }
}

/**
 * No run has this id in the storage. Thrown by `getRun(...).status()`, `result()`, `cancel`,
 * `sendSignal` and the like; `runId` is the id asked for.
 */
export class RunNotFoundError extends DurablyError {
  override readonly code = 'RUN_NOT_FOUND' as const;
  constructor(readonly runId: string) {
    super(`No run with id "${runId}" exists in this storage. Check the id, or that the client uses the same storage as the worker.`);
  }
}

/**
 * A workflow name the worker has no definition for (`workflowName`; the message lists the ones it
 * has). A worker that receives a run of such a workflow does not fail the run: it records
 * `run_waiting` and leaves it for a worker that has the workflow.
 */
export class WorkflowNotRegisteredError extends DurablyError {
  override readonly code = 'WORKFLOW_NOT_REGISTERED' as const;
  constructor(readonly workflowName: string, known: string[]) {
    super(
      `Workflow "${workflowName}" is not registered with this worker (registered: ${known.length ? known.map((k) => `"${k}"`).join(', ') : 'none'}). ` +
        `Pass it in createWorker({ workflows: [...] }).`,
    );
  }
}

/** One attempt of a step ran longer than its `timeout`. */
export class StepTimeoutError extends DurablyError {
  override readonly code = 'STEP_TIMEOUT' as const;
}

/**
 * A step attempt went longer than its `heartbeatTimeout` without calling `context().heartbeat()`:
 * it is taken for hung, its signal is aborted, and it is retried like any failed attempt.
 */
export class StepHeartbeatTimeoutError extends DurablyError {
  override readonly code = 'STEP_HEARTBEAT_TIMEOUT' as const;
}

/** A step failed for good (a FatalError, or its attempts ran out). Thrown at the step's await in the workflow. */
export class StepFailedError extends DurablyError {
  override readonly code = 'STEP_FAILED' as const;
  constructor(
    readonly stepName: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`Step "${stepName}" failed after ${attempts} attempt(s): ${describe(cause)}`, { cause });
  }
}

/** The run failed; `result()` rejects with this, the original error is its `cause`. */
export class WorkflowFailedError extends DurablyError {
  override readonly code = 'WORKFLOW_FAILED' as const;
  constructor(readonly runId: string, cause: unknown) {
    super(`Run ${runId} failed: ${describe(cause)}`, { cause });
  }
}

/**
 * `result({ timeout })` gave up waiting: the run did not finish within `timeoutMs` milliseconds.
 * `status` is the run's status at that moment. The run itself goes on; only the wait ended.
 */
export class ResultTimeoutError extends DurablyError {
  override readonly code = 'RESULT_TIMEOUT' as const;
  constructor(
    readonly runId: string,
    readonly timeoutMs: number,
    readonly status: string,
  ) {
    super(`Run ${runId} did not finish within ${timeoutMs} ms (status: ${status}). Is a worker running against the same storage and broker?`);
  }
}

/** The run was cancelled; `reason` is the one given to cancel(). */
export class CancelledError extends DurablyError {
  override readonly code = 'CANCELLED' as const;
  constructor(readonly reason?: string) {
    super(reason ? `Run cancelled: ${reason}` : 'Run cancelled');
  }
}

/**
 * A call of a cancellation scope (`cancellable`, `withTimeout`) was cancelled with its scope, not the
 * run: the run goes on. A `CancelledError` (same code), told apart by `instanceof` or `scopeId`.
 */
export class ScopeCancelledError extends CancelledError {
  constructor(reason?: string, readonly scopeId?: string) {
    super(reason);
    this.message = reason ? `Scope cancelled: ${reason}` : 'Scope cancelled';
  }
}

/**
 * `withTimeout(duration, fn)`: `fn` did not finish within `duration`; its scope was cancelled (its
 * calls rejected with ScopeCancelledError) and this is thrown once `fn` has settled (`cause`: how).
 */
export class ScopeTimeoutError extends DurablyError {
  override readonly code = 'SCOPE_TIMEOUT' as const;
  constructor(readonly duration?: string | number, options?: { cause?: unknown }) {
    super(`withTimeout(${JSON.stringify(duration)}): the work did not finish within ${typeof duration === 'number' ? `${duration} ms` : duration}, so its scope was cancelled. Give it a longer timeout, or catch ScopeTimeoutError to handle the late case.`, options);
  }
}

/** What was asked of a run that had already finished. */
export type FinishedRunAction = 'cancel' | 'signal' | 'update';

/** cancel() or sendSignal() reached a run that had already finished; nothing was written. */
export class RunAlreadyFinishedError extends DurablyError {
  override readonly code = 'RUN_ALREADY_FINISHED' as const;
  constructor(
    readonly runId: string,
    readonly status: string,
    readonly action: FinishedRunAction = 'cancel',
  ) {
    super(
      `Run ${runId} has already finished (status: ${status}); ` +
        (action === 'signal'
          ? 'it takes no more signals, so this one was not delivered.'
          : action === 'update'
            ? 'it takes no more updates, so this one was not delivered (nothing was written).'
            : 'there is nothing to cancel.'),
    );
  }
}

/**
 * start() with a `runId` that a run of another workflow, or of the same workflow with other
 * arguments, already has. (The same workflow and arguments return the existing run: a retried start.)
 */
export class RunIdInUseError extends DurablyError {
  override readonly code = 'RUN_ID_IN_USE' as const;
  constructor(
    readonly runId: string,
    /** The workflow of the run that has the id. */
    readonly workflow: string,
    /** The workflow the start asked for. */
    readonly requestedWorkflow: string,
  ) {
    super(
      workflow === requestedWorkflow
        ? `Run id "${runId}" is already used by a run of workflow "${workflow}" started with other arguments. ` +
            `A start with an existing runId returns that run only when the workflow and the arguments are the same (a retried start); use another runId for another run.`
        : `Run id "${runId}" is already used by a run of workflow "${workflow}", not "${requestedWorkflow}". Use another runId for a run of "${requestedWorkflow}".`,
    );
  }
}

/**
 * An argument that cannot be used: a malformed name, id, cursor, limit or option value. The
 * message names the argument, the value and what is accepted. Never retried.
 */
export class InvalidArgumentError extends DurablyError {
  override readonly code = 'INVALID_ARGUMENT' as const;
}

/**
 * A duration option (`field`) was given a `value` that is neither a non-negative number of
 * milliseconds nor an ms-style string such as `"30s"` or `"5m"`.
 */
export class InvalidDurationError extends DurablyError {
  override readonly code = 'INVALID_DURATION' as const;
  constructor(readonly value: unknown, readonly field: string) {
    super(
      `Invalid duration for ${field}: ${JSON.stringify(value)}. ` +
        `Use milliseconds (a non-negative number) or an ms-style string such as "500ms", "30s", "5m", "1d".`,
    );
  }
}

/**
 * A value could not be serialized (a function, a class instance, something devalue rejects) or a
 * stored value could not be read back. Arguments, results and payloads must be plain data: objects,
 * arrays, strings, numbers, Date, Map, Set, BigInt, typed arrays, Error.
 */
export class SerializationError extends DurablyError {
  override readonly code = 'SERIALIZATION' as const;
}

/**
 * A storage or broker URL whose scheme no adapter handles (a typo such as `postgress://`, or a
 * backend Durably has no adapter for). The message lists the schemes that are known.
 */
export class UnknownSchemeError extends DurablyError {
  override readonly code = 'UNKNOWN_SCHEME' as const;
}

/**
 * A storage or broker URL needs an adapter package (`packageName`, such as `@durably/postgres`) that
 * cannot be imported. Install it: `npm install <packageName>`. `url` is the URL, with its password
 * hidden in the message.
 */
export class AdapterNotInstalledError extends DurablyError {
  override readonly code = 'ADAPTER_NOT_INSTALLED' as const;
  constructor(readonly packageName: string, readonly url: string, cause?: unknown) {
    super(`The URL "${redactUrl(url)}" needs the package ${packageName}, which is not installed. Run: npm install ${packageName}`, { cause });
  }
}

/**
 * The embedded SQLite backend (`file:`, `local:`) found no SQLite driver: neither Node's built-in
 * `node:sqlite` nor the `better-sqlite3` package (an optional dependency of @durably/local, absent when
 * optional dependencies were omitted or its native build failed). `tried` says what was tried and why it failed.
 */
export class SqliteUnavailableError extends DurablyError {
  override readonly code = 'SQLITE_UNAVAILABLE' as const;
  constructor(readonly path: string, readonly tried: string, cause?: unknown) {
    super(
      `The embedded SQLite backend (${path}) needs a SQLite driver and found none: ${tried}. ` +
        'Run: npm install better-sqlite3, or use Node >= 22.13 (Node 22.5-22.12 with --experimental-sqlite), whose built-in node:sqlite needs no install.',
      { cause },
    );
  }
}

/** A storage backend failed; the driver's error is the `cause`. */
export class StorageError extends DurablyError {
  override readonly code = 'STORAGE' as const;
}

/** A broker backend failed; the driver's error is the `cause`. */
export class BrokerError extends DurablyError {
  override readonly code = 'BROKER' as const;
}

/**
 * Thrown by a message handler for a message that can never succeed (undecodable, unknown kind).
 * Brokers move such a message to the dead-letter queue at once instead of redelivering it.
 */
export class PoisonMessageError extends DurablyError {
  override readonly code = 'POISON_MESSAGE' as const;
}

/** A workflow-only function (sleep, context values) was called outside a running workflow. */
export class NotInWorkflowError extends DurablyError {
  override readonly code = 'NOT_IN_WORKFLOW' as const;
}

/**
 * The configuration cannot be used: a config file that is missing, not valid, or has no default
 * export, several config files in one directory, or settings that fail validation (the message lists
 * every problem found).
 */
export class ConfigError extends DurablyError {
  override readonly code = 'CONFIG' as const;
}

/** A backend URL that cannot be parsed; `part` names what is wrong in it. */
export class InvalidUrlError extends ConfigError {
  constructor(
    /** The URL with its password hidden. */
    readonly url: string,
    readonly part: 'scheme' | 'userinfo' | 'host' | 'port' | 'path' | 'query' | 'url',
    detail: string,
    example: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid URL "${url}": ${detail}. Expected a URL such as ${example}.`, options);
  }
}

/** `"Name: message"` for an Error, else `String(err)`: how error messages quote a cause. */
export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}


/** No hook has this token: it is mistyped, or was never issued by this storage. */
export class HookNotFoundError extends DurablyError {
  override readonly code = 'HOOK_NOT_FOUND' as const;
  constructor() {
    super('No hook has this token. Check that it was copied whole and that the client uses the same storage as the workflow.');
  }
}

/** The hook was already resumed (tokens are single-use). */
export class HookAlreadyUsedError extends DurablyError {
  override readonly code = 'HOOK_ALREADY_USED' as const;
  /** `closed`: a multi-use hook its workflow closed (its token worked until then). */
  constructor(readonly runId: string, readonly closed = false) {
    super(closed ? `This multi-use hook of run ${runId} was closed by its workflow; its token no longer resumes it.` : `This hook of run ${runId} was already resumed; a token works once.`);
  }
}

/** The hook's timeout passed (or its run ended) before it was resumed. */
export class HookExpiredError extends DurablyError {
  override readonly code = 'HOOK_EXPIRED' as const;
  constructor(readonly runId: string, readonly expiredAt?: number) {
    super(`This hook of run ${runId} can no longer be resumed` + (expiredAt ? `: it expired at ${new Date(expiredAt).toISOString()}.` : ': its run has ended.'));
  }
}

/** Thrown at `await hook` in the workflow when the hook's timeout passes first. */
export class HookTimeoutError extends DurablyError {
  override readonly code = 'HOOK_TIMEOUT' as const;
}

/** resumeHook's payload does not match the hook's schema; nothing was recorded. */
export class HookPayloadInvalidError extends DurablyError {
  override readonly code = 'HOOK_PAYLOAD_INVALID' as const;
  constructor(readonly hookName: string, readonly issues: unknown) {
    super(`The payload for hook "${hookName}" does not match its schema: ${typeof issues === 'string' ? issues : JSON.stringify(issues)}`);
  }
}

/** Thrown at waitForSignal when its timeout passes before a signal arrives. */
export class SignalTimeoutError extends DurablyError {
  override readonly code = 'SIGNAL_TIMEOUT' as const;
}

/** A serialized value (arguments, a result, a payload) is over `limits.maxPayloadBytes`. */
export class PayloadTooLargeError extends DurablyError {
  override readonly code = 'PAYLOAD_TOO_LARGE' as const;
  constructor(readonly what: string, readonly bytes: number, readonly limit: number) {
    super(`${what} is ${bytes} bytes serialized; the limit is ${limit} bytes (limits.maxPayloadBytes). Store large data elsewhere (a bucket, a table) and pass its key.`);
  }
}

/** The run's log reached `limits.maxEvents`; the run fails. Use continueAsNew for long loops. */
export class EventLimitExceededError extends DurablyError {
  override readonly code = 'EVENT_LIMIT_EXCEEDED' as const;
  constructor(readonly runId: string, readonly limit: number) {
    super(`Run ${runId} reached the limit of ${limit} events (limits.maxEvents). Long loops should end each iteration batch with continueAsNew(...).`);
  }
}

/** A child workflow failed or was cancelled; thrown at `await child.result()` in the parent. */
export class ChildWorkflowFailedError extends DurablyError {
  override readonly code = 'CHILD_FAILED' as const;
  constructor(readonly childRunId: string, readonly workflowName: string, cause: unknown) {
    super(`Child workflow "${workflowName}" (run ${childRunId}) failed: ${describe(cause)}`, { cause });
  }
}

/**
 * No schedule has this id (`scheduleId`). Thrown by `client.schedules` operations on a missing
 * schedule and by the CLI's `schedules` commands.
 */
export class ScheduleNotFoundError extends DurablyError {
  override readonly code = 'SCHEDULE_NOT_FOUND' as const;
  constructor(readonly scheduleId: string) {
    super(`No schedule with id "${scheduleId}". List them with client.schedules.list().`);
  }
}

/** Arguments failed a workflow's or step's schema. Never retried. */
export class ArgumentValidationError extends DurablyError {
  override readonly code = 'ARGUMENT_VALIDATION' as const;
  constructor(readonly what: string, readonly issues: unknown) {
    super(`Invalid arguments for ${what}: ${formatIssues(issues)}`);
  }
}

/** The run passed its workflow's maxDuration. */
export class WorkflowTimeoutError extends DurablyError {
  override readonly code = 'WORKFLOW_TIMEOUT' as const;
}

/** A feature that needs durable mode (hooks, signals, children...) was used in a transient run. */
export class DurableOnlyError extends DurablyError {
  override readonly code = 'DURABLE_ONLY' as const;
}

function formatIssues(error: unknown): string {
  const issues = (error as { issues?: Array<{ path?: unknown[]; message?: string }> })?.issues;
  if (Array.isArray(issues)) return issues.map((i) => `${(i.path ?? []).join('.') || '(root)'}: ${i.message}`).join('; ');
  return error instanceof Error ? error.message : String(error);
}

/** The run lost its worker more often than its workflow allows (recoverOnWorkerLoss, maxRecoveryAttempts). */
export class WorkerLostError extends DurablyError {
  override readonly code = 'WORKER_LOST' as const;
}

/** Two different steps, workflows, hooks or updates have one name: the name must say which code to run. */
export class DuplicateNameError extends DurablyError {
  override readonly code = 'DUPLICATE_NAME' as const;
  constructor(
    readonly kind: 'step' | 'workflow' | 'hook' | 'update',
    readonly definedName: string,
    readonly firstSite?: string,
    readonly secondSite?: string,
    where?: string,
  ) {
    super(
      `${where ? `${where}: t` : 'T'}wo different ${kind}s are named "${definedName}"` +
        (firstSite || secondSite ? ` (defined at ${firstSite ?? 'an unknown place'} and at ${secondSite ?? 'an unknown place'})` : '') +
        `. ${kind[0].toUpperCase()}${kind.slice(1)} names must be unique in a process: rename one of them.`,
    );
  }
}

/** client.query(): the run's code has not set a handler for this query (at the point its log has reached). */
export class QueryNotRegisteredError extends DurablyError {
  override readonly code = 'QUERY_NOT_REGISTERED' as const;
  constructor(
    readonly runId: string,
    readonly query: string,
    readonly registered: string[],
  ) {
    super(
      `Run ${runId} has not set a handler for query "${query}" at the point its log has reached ` +
        `(${registered.length ? `it answers ${registered.map((n) => `"${n}"`).join(', ')}` : 'it has set none yet'}). ` +
        `Call ${query}.handle(...) in the workflow before its first durable call, so that every point of the log can answer.`,
    );
  }
}

/** client.query(): the workflow's query handler threw; `cause` is what it threw. Nothing was written. */
export class QueryFailedError extends DurablyError {
  override readonly code = 'QUERY_FAILED' as const;
  constructor(
    readonly runId: string,
    readonly query: string,
    cause: unknown,
  ) {
    super(`The handler of query "${query}" in run ${runId} threw: ${describe(cause)}. Fix the handler, or check the arguments it was given.`, { cause });
  }
}

/** startChild() would nest child workflows deeper than `limits.maxChildDepth`; no child run was created. */
export class ChildDepthExceededError extends DurablyError {
  override readonly code = 'CHILD_DEPTH_EXCEEDED' as const;
  constructor(
    readonly runId: string,
    readonly workflowName: string,
    readonly depth: number,
    readonly maxDepth: number,
  ) {
    super(
      `Run ${runId} cannot start child workflow "${workflowName}": the child would be at depth ${depth}, and children may nest ${maxDepth} deep (limits.maxChildDepth of the client that started the first run of this family). ` +
        `Check the workflow for unbounded recursion, or start that client with a higher limits.maxChildDepth.`,
    );
  }
}

/**
 * A search attribute given to `setAttributes` (or a `listRuns({ attributes })` filter) breaks a rule:
 * `key` names the attribute, `limit` the rule (`key`, `value type`, `string length`, `count`).
 */
export class InvalidAttributeError extends DurablyError {
  override readonly code = 'INVALID_ATTRIBUTE' as const;
  constructor(readonly key: string, readonly limit: 'key' | 'value type' | 'string length' | 'count', message: string) {
    super(message);
  }
}
