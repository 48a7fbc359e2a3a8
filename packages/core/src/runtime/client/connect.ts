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

/**
 * Migrates storage and broker, retrying a backend that is down with exponential backoff (250 ms
 * doubling to 5 s) until `timeoutMs` has passed, then throwing its last error. Each wait is one
 * warning naming the backend, the address tried and the error.
 */
export async function connectWithRetry(
  storage: Storage,
  broker: Broker,
  options: { timeoutMs: number; logger: Logger; addresses: { storage?: string; broker?: string }; sleep?: (ms: number) => Promise<void> },
): Promise<void> {
  const started = Date.now();
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pending = new Map<'storage' | 'broker', () => Promise<void>>([
    ['storage', () => storage.migrate()],
    ['broker', () => broker.migrate()],
  ]);
  let delay = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    const kinds = [...pending.keys()];
    const results = await Promise.allSettled(kinds.map((kind) => pending.get(kind)!()));
    results.forEach((r, i) => r.status === 'fulfilled' && pending.delete(kinds[i]));
    if (pending.size === 0) {
      if (attempt > 1) options.logger.info('connected', { afterMs: Date.now() - started, attempts: attempt });
      return;
    }
    const index = results.findIndex((r) => r.status === 'rejected');
    const kind = kinds[index];
    const err = (results[index] as PromiseRejectedResult).reason as Error;
    const elapsed = Date.now() - started;
    if (!isWorthRetrying(err)) throw err;
    if (elapsed + delay > options.timeoutMs) {
      if (attempt === 1) throw err;
      const Class = err instanceof BrokerError ? BrokerError : StorageError;
      throw new Class(`${err.message} (gave up after ${attempt} attempts in ${(elapsed / 1000).toFixed(1)} s; connectTimeout is ${options.timeoutMs / 1000} s)`, { cause: err.cause ?? err });
    }
    options.logger.warn(`waiting for the ${kind}: ${err.message}`, {
      backend: kind,
      address: options.addresses[kind],
      attempt,
      retryInMs: delay,
      givesUpInMs: Math.max(0, options.timeoutMs - elapsed),
    });
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  }
}

/** The backoff of every wait for a backend that is away: 250 ms, doubling, at most 5 s between tries. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/**
 * Runs `op` (a read or write the engine needs before it can go on, like the heartbeat details of an
 * attempt that is about to start) until it succeeds, waiting out a backend that is away with the
 * backoff of {@link connectWithRetry}, one warning per wait. An error waiting will not fix, or the
 * `signal` (the worker stopping), ends it with the last error.
 */
export async function whileUnavailable<T>(op: () => Promise<T>, options: { what: string; logger: Logger; signal?: AbortSignal }): Promise<T> {
  let delay = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isWorthRetrying(err) || options.signal?.aborted) throw err;
      options.logger.warn(`${options.what} failed; trying again`, { error: (err as Error).message, attempt, retryInMs: delay });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', done);
          resolve();
        }
        options.signal?.addEventListener('abort', done, { once: true });
      });
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}
