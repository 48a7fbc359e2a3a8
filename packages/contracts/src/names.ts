import { InvalidArgumentError } from './errors.js';

/**
 * The name rules, in one place: what a workflow, step, hook, queue, tag, run id, schedule id,
 * signal, query, patch and idempotency key may be. The engine checks them when a name is defined or
 * used; adapters and the dashboard test the same patterns (a queue name becomes part of a key, a
 * Redis stream or a RabbitMQ queue, so every backend can rely on these characters only).
 */

/** Workflow, step and hook names: 1-200 characters, starting with a letter or digit. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,199}$/;
/** Queue names: 1-100 letters, digits, "_", "-" and ".". */
export const QUEUE_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
/** Run tags: 1-100 letters, digits, "_", ".", ":", "=", "/" and "-". */
export const TAG_PATTERN = /^[A-Za-z0-9_.:=/-]{1,100}$/;
/** At most this many tags on a run. */
export const MAX_TAGS = 20;
/** Run ids chosen by the caller: 1-128 letters, digits, "_", "-", "." and ":". */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Schedule ids: 1-128 letters, digits, "_", "-", "." and ":", starting with a letter or digit. */
export const SCHEDULE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** A workflow named by a string (the CLI, the dashboard, a schedule by name). */
export const WORKFLOW_REF_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;
/** Signal names: non-empty, at most this many characters. */
export const MAX_SIGNAL_NAME = 200;
/** Idempotency keys: non-empty, at most this many characters. */
export const MAX_IDEMPOTENCY_KEY = 256;

/** A workflow, step or hook name; `kind` ("Step", "Workflow", "Hook") starts the message. */
export function checkName(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `${kind} name ${JSON.stringify(name)} is invalid: use 1-200 characters from letters, digits, "_", "-", ".", ":" and "/", starting with a letter or digit.`,
    );
  }
}

/** A queue name; `owner` (the call, such as "start()") starts the message. */
export function checkQueue(queue: unknown, owner: string): string {
  if (typeof queue !== 'string' || !QUEUE_PATTERN.test(queue)) {
    throw new InvalidArgumentError(`${owner}: queue ${JSON.stringify(queue)} is invalid: use 1-100 characters from letters, digits, "_", "-" and ".".`);
  }
  return queue;
}

/** A run's tags (undefined: none), without duplicates. */
export function checkTags(tags: unknown, owner: string): string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || !TAG_PATTERN.test(t)) || tags.length > MAX_TAGS) {
    throw new InvalidArgumentError(`${owner}: "tags" must be at most ${MAX_TAGS} strings of 1-100 letters, digits, "_", ".", ":", "=", "/" or "-", got ${JSON.stringify(tags)}.`);
  }
  return [...new Set(tags as string[])];
}

/** A run id chosen by the caller. */
export function checkRunId(runId: unknown, owner: string): string {
  if (typeof runId !== 'string' || !RUN_ID_PATTERN.test(runId)) {
    throw new InvalidArgumentError(`${owner}: runId ${JSON.stringify(runId)} is invalid: use 1-128 characters from letters, digits, "_", "-", "." and ":".`);
  }
  return runId;
}

/** A schedule id. */
export function checkScheduleId(scheduleId: unknown, owner: string): string {
  if (typeof scheduleId !== 'string' || !SCHEDULE_ID_PATTERN.test(scheduleId)) {
    throw new InvalidArgumentError(`${owner}: id ${JSON.stringify(scheduleId)} is invalid: use 1-128 letters, digits, "_", "-", "." and ":".`);
  }
  return scheduleId;
}

/** A signal name (waitForSignal, sendSignal). */
export function checkSignalName(name: unknown, owner: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_SIGNAL_NAME) {
    throw new InvalidArgumentError(`${owner}: name must be a non-empty string of at most ${MAX_SIGNAL_NAME} characters.`);
  }
  return name;
}

/** An update id (`client.update({ updateId })`): non-empty, at most this many characters. */
export const MAX_UPDATE_ID = 256;

/** An update id given to `client.update()`: it names the update, so a retried call gets its recorded answer. */
export function checkUpdateId(id: unknown, owner: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_UPDATE_ID) {
    throw new InvalidArgumentError(`${owner}: updateId must be a non-empty string of at most ${MAX_UPDATE_ID} characters (a UUID, or a key of your own that names this one update).`);
  }
  if (id.includes('\u0000')) throw new InvalidArgumentError(`${owner}: updateId ${JSON.stringify(id)} contains a NUL character ("\\u0000"), which storages cannot hold: remove it.`);
  return id;
}

/**
 * An idempotency key: any string of 1-256 characters but NUL ("\u0000", which PostgreSQL text cannot
 * hold). Quotes, "*", "{", ":" and newlines are kept verbatim: storages match keys as values.
 */
export function checkIdempotencyKey(key: unknown, owner: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY) {
    throw new InvalidArgumentError(`${owner}: idempotencyKey must be a non-empty string of at most ${MAX_IDEMPOTENCY_KEY} characters.`);
  }
  if (key.includes('\u0000')) throw new InvalidArgumentError(`${owner}: idempotencyKey ${JSON.stringify(key)} contains a NUL character ("\\u0000"), which storages cannot hold: remove it.`);
  return key;
}

/** Hook tokens as they are issued: base64url, at most 200 characters. Anything else is no token. */
export const HOOK_TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,200}$/;

/** A non-empty string naming something (a query, a patch id); `what` is the phrase of the message. */
export function checkNonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string.`);
  return value;
}
