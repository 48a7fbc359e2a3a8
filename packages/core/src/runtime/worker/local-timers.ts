/**
 * Wake-ups due soon, held by the worker that wrote them: one process timer for the earliest, a
 * binary heap for the rest (about 100 bytes per entry). The suspended execution is kept apart, in the
 * worker's bounded execution cache (cache.ts), so that most wake-ups go on without reading storage.
 *
 * This is only a fast path. The timer row in storage stays the truth: if this process dies, the
 * timer sweep of any worker wakes the run; on a graceful stop the worker publishes what is left to
 * the broker, so another worker fires it on time.
 */
export interface LocalTimer {
  runId: string;
  queue: string;
  fireAt: number;
  /** What the run task says when it fires: a timer's wake-up (default), or a recovery (see LocalRuns.retryAfterFailure). */
  reason?: 'timer' | 'recover';
}

export class LocalTimers {
  private readonly heap: LocalTimer[] = [];
  private timer?: NodeJS.Timeout;
  private armedFor = Infinity;

  constructor(
    private readonly clock: () => number,
    private readonly fire: (due: LocalTimer[]) => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(entry: LocalTimer): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].fireAt <= h[i].fireAt) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
    this.arm();
  }

  /** Removes and returns every entry (a stopping worker hands them to the broker). */
  drain(): LocalTimer[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    return this.heap.splice(0);
  }

  private pop(): LocalTimer {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l].fireAt < h[m].fireAt) m = l;
        if (r < h.length && h[r].fireAt < h[m].fireAt) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }

  private arm(): void {
    const next = this.heap[0]?.fireAt;
    if (next === undefined || next >= this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = next;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, next - this.clock()));
    // A process with nothing else to do may exit: the storage timers remain for the next worker.
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock();
    const due: LocalTimer[] = [];
    while (this.heap.length > 0 && this.heap[0].fireAt <= now) due.push(this.pop());
    this.arm();
    if (due.length > 0) this.fire(due);
  }
}
