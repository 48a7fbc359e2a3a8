import { type Broker, BrokerError, StorageError, type Logger, type Storage } from '@durably/contracts';

/**
 * Driver error codes and messages that waiting will not fix: wrong credentials, no such database,
 * no permission, a file that is not a database. Everything else a backend reports (refused or reset
 * connections, timeouts, a server starting up) is worth another try.
 */
const PERMANENT_CODES = new Set(['28P01', '28000', '3D000', '42501', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_NOTADB', 'SQLITE_CORRUPT']);
const PERMANENT_MESSAGE = /NOAUTH|WRONGPASS|invalid password|password authentication failed|does not exist|permission denied/i;

export function isWorthRetrying(err: unknown): boolean {
  if (!(err instanceof StorageError || err instanceof BrokerError)) return false;
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && PERMANENT_CODES.has(code)) return false;
    if (e !== err && e instanceof Error && PERMANENT_MESSAGE.test(e.message)) return false;
  }
  return true;
}

/** The backoff of every wait for a backend that is away: 250 ms, doubling, at most 5 s between tries. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/** Where a retry loop stands when `op` has just failed: the how-manyth try, since when, and the wait before the next. */
export interface RetryState {
  attempt: number;
  elapsedMs: number;
  retryInMs: number;
}

/** How {@link whileUnavailable} waits, beyond the backoff every wait shares. */
export interface WhileUnavailableOptions {
  /** What `op` does, for the warning of each wait (`<what> failed; trying again`). */
  what: string;
  logger: Logger;
  /** Ends the waiting (the worker stopping): the next failure is thrown. */
  signal?: AbortSignal;
  /** Gives up once the next try would start more than this many ms after the first. */
  timeoutMs?: number;
  /** The error thrown on giving up after `timeoutMs` (default: the last error as it is). */
  giveUp?(err: unknown, state: RetryState): unknown;
  /** The warning of each wait, in place of the default one. */
  warn?(err: unknown, state: RetryState): void;
  /** How to wait `ms` (tests pass a virtual clock's); by default a timer that `signal` cuts short. */
  sleep?(ms: number): Promise<void>;
}

/**
 * Runs `op` (a read or write the engine needs before it can go on, like the heartbeat details of an
 * attempt that is about to start, or the migrations a client runs on connecting) until it succeeds,
 * waiting out a backend that is away with exponential backoff (250 ms doubling to 5 s), one warning
 * per wait. An error waiting will not fix, the `signal` (the worker stopping), or `timeoutMs`
 * passing ends it with the last error.
 */
export async function whileUnavailable<T>(op: () => Promise<T>, options: WhileUnavailableOptions): Promise<T> {
  const started = Date.now();
  let delay = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isWorthRetrying(err) || options.signal?.aborted) throw err;
      const state: RetryState = { attempt, elapsedMs: Date.now() - started, retryInMs: delay };
      if (options.timeoutMs !== undefined && state.elapsedMs + delay > options.timeoutMs) throw options.giveUp ? options.giveUp(err, state) : err;
      if (options.warn) options.warn(err, state);
      else options.logger.warn(`${options.what} failed; trying again`, { error: (err as Error).message, attempt, retryInMs: delay });
      await (options.sleep ? options.sleep(delay) : pause(delay, options.signal));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}

/** Waits `ms`, or less if `signal` aborts first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Migrates storage and broker, retrying a backend that is down ({@link whileUnavailable}: 250 ms
 * doubling to 5 s) until `timeoutMs` has passed, then throwing its last error. Each wait is one
 * warning naming the backend, the address tried and the error. A backend that came up is not
 * migrated again while the other is waited for.
 */
export async function connectWithRetry(
  storage: Storage,
  broker: Broker,
  options: { timeoutMs: number; logger: Logger; addresses: { storage?: string; broker?: string }; sleep?: (ms: number) => Promise<void> },
): Promise<void> {
  const started = Date.now();
  const pending = new Map<'storage' | 'broker', () => Promise<void>>([
    ['storage', () => storage.migrate()],
    ['broker', () => broker.migrate()],
  ]);
  let attempts = 0;
  let failed: 'storage' | 'broker' = 'storage';
  const migratePending = async () => {
    attempts++;
    const kinds = [...pending.keys()];
    const results = await Promise.allSettled(kinds.map((kind) => pending.get(kind)!()));
    results.forEach((r, i) => r.status === 'fulfilled' && pending.delete(kinds[i]));
    const index = results.findIndex((r) => r.status === 'rejected');
    if (index < 0) return;
    failed = kinds[index];
    throw (results[index] as PromiseRejectedResult).reason;
  };
  await whileUnavailable(migratePending, {
    what: 'connecting',
    logger: options.logger,
    timeoutMs: options.timeoutMs,
    sleep: options.sleep,
    warn: (err, { attempt, elapsedMs, retryInMs }) =>
      options.logger.warn(`waiting for the ${failed}: ${(err as Error).message}`, {
        backend: failed,
        address: options.addresses[failed],
        attempt,
        retryInMs,
        givesUpInMs: Math.max(0, options.timeoutMs - elapsedMs),
      }),
    giveUp: (err, { attempt, elapsedMs }) => {
      if (attempt === 1) return err;
      const e = err as Error;
      const Class = err instanceof BrokerError ? BrokerError : StorageError;
      return new Class(`${e.message} (gave up after ${attempt} attempts in ${(elapsedMs / 1000).toFixed(1)} s; connectTimeout is ${options.timeoutMs / 1000} s)`, { cause: e.cause ?? e });
    },
  });
  if (attempts > 1) options.logger.info('connected', { afterMs: Date.now() - started, attempts });
}
