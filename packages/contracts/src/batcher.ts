/** What one request of a batch came to: its value, or the error it alone fails with. */
export type BatchOutcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

/** Options of a {@link Batcher}. */
export interface BatcherOptions<I> {
  /** Most requests handed to one call of the flush. Default 256. */
  maxBatch?: number;
  /** Most flushes running at once (on a pool, each on its own connection). Default 1. */
  maxInFlight?: number;
  /**
   * Requests with the same key never share a batch nor run in two batches at once: the later one
   * waits for the batch of the earlier one to settle (two appends to one run, the second fenced on
   * the first). Requests without a key (or without this option) go in any batch.
   */
  key?: (request: I) => string | undefined;
  /**
   * When `flush` throws for a batch of several requests, flush each of them again in a batch of its
   * own, so that the request that caused it fails alone and the others get their own outcome. For a
   * flush that writes nothing when it throws (one statement, one transaction rolled back).
   */
  retryAlone?: boolean;
}

interface Waiter<O> {
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Requests made in one turn of the event loop, handed together to one `flush`: the mechanism behind
 * group commit (the writes of many runs in one transaction, one commit) and batched reads (the lookups
 * of many runs in one statement, one round trip). Used by the embedded backend's SQLite writes and
 * the Postgres adapter's appends, reads and acks.
 *
 * A request is queued and the queue is flushed on the next macrotask (`setImmediate`), so everything
 * requested by the continuations of the previous batch, or by any other code running in this turn,
 * goes into one batch (at most `maxBatch`; the rest go in the next one, at once). `flush` returns one
 * outcome per request, in order: each request settles with its own, so one failing request fails
 * alone. A `flush` that throws fails every request of its batch with that error (or, with
 * `retryAlone`, has each flushed again on its own). Every promise
 * settles only after `flush` has returned (after the commit, for a writer).
 */
export class Batcher<I, O> {
  private queue: I[] = [];
  private waiting: Array<Waiter<O>> = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly busy = new Set<string>();
  private readonly idle = new Set<() => void>();
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  /** Batches flushed (or attempted) so far. */
  batches = 0;

  constructor(
    private readonly flush: (batch: I[]) => Promise<Array<BatchOutcome<O>>> | Array<BatchOutcome<O>>,
    private readonly options: BatcherOptions<I> = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 256);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  }

  /** Queues `request` for the next batch; settles with its outcome once its batch is flushed. */
  submit(request: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push(request);
      this.waiting.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every request queued so far has settled (a closing adapter waits for them). */
  drained(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => this.start());
  }

  private start(): void {
    this.scheduled = false;
    while (this.inFlight < this.maxInFlight) {
      const batch = this.take();
      if (batch.requests.length === 0) break;
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        for (const k of batch.keys) this.busy.delete(k);
        if (this.queue.length > 0) this.schedule();
        else this.settleIdle();
      });
    }
    this.settleIdle();
  }

  /** The next batch: queued requests in order, skipping those whose key is taken (they keep their place). */
  private take(): { requests: I[]; waiting: Array<Waiter<O>>; keys: string[] } {
    const requests: I[] = [];
    const waiting: Array<Waiter<O>> = [];
    const keys: string[] = [];
    const keyOf = this.options.key;
    if (!keyOf) {
      requests.push(...this.queue.splice(0, this.maxBatch));
      waiting.push(...this.waiting.splice(0, requests.length));
      return { requests, waiting, keys };
    }
    const restQ: I[] = [];
    const restW: Array<Waiter<O>> = [];
    this.queue.forEach((request, i) => {
      const k = keyOf(request);
      if (requests.length >= this.maxBatch || (k !== undefined && this.busy.has(k))) {
        restQ.push(request);
        restW.push(this.waiting[i]);
        return;
      }
      if (k !== undefined) {
        this.busy.add(k);
        keys.push(k);
      }
      requests.push(request);
      waiting.push(this.waiting[i]);
    });
    this.queue = restQ;
    this.waiting = restW;
    return { requests, waiting, keys };
  }

  private async run(batch: { requests: I[]; waiting: Array<Waiter<O>> }): Promise<void> {
    this.batches++;
    let outcomes: Array<BatchOutcome<O>>;
    try {
      outcomes = await this.flush(batch.requests);
    } catch (error) {
      if (!this.options.retryAlone || batch.requests.length === 1) {
        for (const w of batch.waiting) w.reject(error);
        return;
      }
      await Promise.all(batch.requests.map((request, i) => this.run({ requests: [request], waiting: [batch.waiting[i]] })));
      return;
    }
    batch.waiting.forEach((w, i) => {
      const o = outcomes[i];
      if (!o) w.reject(new Error(`Batcher: the flush returned ${outcomes.length} outcomes for ${batch.requests.length} requests.`));
      else if (o.ok) w.resolve(o.value);
      else w.reject(o.error);
    });
  }

  private settleIdle(): void {
    if (this.queue.length > 0 || this.inFlight > 0 || this.scheduled) return;
    for (const done of this.idle) done();
    this.idle.clear();
  }
}
