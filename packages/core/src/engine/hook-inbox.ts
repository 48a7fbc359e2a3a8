/**
 * The payloads of a multi-use hook on their way to the workflow code: each `hook_received` the run's
 * log applies is handed to the earliest pending `next()`, or kept in order until one comes. Fed only
 * from the log, so a replay hands the code the same payloads at the same points.
 */
export class HookInbox<T = unknown> {
  private readonly buffer: T[] = [];
  private readonly waiters: Array<{ resolve(result: IteratorResult<T, undefined>): void; reject(error: unknown): void }> = [];
  private end?: { error?: unknown };

  /** A payload from the log. */
  deliver(value: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve({ done: false, value });
    else this.buffer.push(value);
  }

  /** No payload comes after the buffered ones: pending and later `next()` calls end (`error`: reject with it). */
  finish(error?: unknown): void {
    if (this.end) return;
    this.end = error === undefined ? {} : { error };
    for (const waiter of this.waiters.splice(0)) {
      if (error === undefined) waiter.resolve({ done: true, value: undefined });
      else waiter.reject(error);
    }
  }

  /** The next payload in order, `done` once the hook is closed and drained, or the error it ended with. */
  next(): Promise<IteratorResult<T, undefined>> {
    let result: Promise<IteratorResult<T, undefined>>;
    if (this.buffer.length > 0) result = Promise.resolve({ done: false, value: this.buffer.shift()! });
    else if (this.end?.error !== undefined) result = Promise.reject(this.end.error);
    else if (this.end) result = Promise.resolve({ done: true, value: undefined });
    else result = new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    // A next() the code stopped waiting for (it lost a race) must not crash the process when it rejects.
    result.catch(() => undefined);
    return result;
  }
}
