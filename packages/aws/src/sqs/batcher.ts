/**
 * Gathers calls made in the same turn of the event loop into batch requests of up to 10 entries
 * (SQS's batch size) and `maxBytes`, then settles each call with its own entry's outcome.
 */
export type EntryResult<R> = { ok: true; value: R } | { ok: false; error: unknown };

export class Batcher<T, R = void> {
  private pending: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<EntryResult<R>[]>,
    private readonly sizeOf: (item: T) => number = () => 0,
    private readonly maxBytes = Infinity,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    const all = this.pending.splice(0);
    const batches: (typeof all)[] = [];
    let current: typeof all = [];
    let bytes = 0;
    for (const p of all) {
      const size = this.sizeOf(p.item);
      if (current.length === 10 || (current.length > 0 && bytes + size > this.maxBytes)) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(p);
      bytes += size;
    }
    if (current.length) batches.push(current);
    await Promise.all(
      batches.map(async (batch) => {
        try {
          const results = await this.flush(batch.map((b) => b.item));
          batch.forEach((b, i) => {
            const r = results[i];
            if (r?.ok) b.resolve(r.value);
            else b.reject(r ? r.error : new Error('no result for a batch entry'));
          });
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }),
    );
  }
}
