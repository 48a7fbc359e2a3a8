import { describe, expect, it } from 'vitest';
import { Batcher, type BatchOutcome } from '../src/index.js';

const ok = <O>(value: O): BatchOutcome<O> => ({ ok: true, value });

describe('Batcher', () => {
  it('hands the requests of one turn to one flush, each settling with its own outcome', async () => {
    const batches: number[][] = [];
    const b = new Batcher<number, number>((xs) => {
      batches.push(xs);
      return xs.map((x) => (x === 2 ? { ok: false, error: new Error('two') } : ok(x * 10)));
    });
    const results = await Promise.allSettled([1, 2, 3].map((x) => b.submit(x)));
    expect(batches).toEqual([[1, 2, 3]]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10, 'two', 30]);
    expect(b.batches).toBe(1);
  });

  it('splits at maxBatch and keeps two requests of one key out of one batch and out of two at once', async () => {
    const batches: string[][] = [];
    let running = 0;
    let most = 0;
    const b = new Batcher<string, string>(
      async (xs) => {
        running++;
        most = Math.max(most, running);
        batches.push(xs);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return xs.map(ok);
      },
      { maxBatch: 2, maxInFlight: 2, key: (x) => x.split(':')[0] },
    );
    await Promise.all(['a:1', 'a:2', 'b:1', 'c:1', 'a:3'].map((x) => b.submit(x)));
    expect(batches[0]).toEqual(['a:1', 'b:1']);
    // a:2 waits for a:1's batch to settle; the a's stay in order.
    expect(batches.flat().filter((x) => x.startsWith('a'))).toEqual(['a:1', 'a:2', 'a:3']);
    for (const batch of batches) expect(new Set(batch.map((x) => x[0])).size).toBe(batch.length);
    expect(batches.every((batch) => batch.length <= 2)).toBe(true);
    expect(most).toBe(2);
  });

  it('fails the whole batch with a thrown error, or with retryAlone flushes each request on its own', async () => {
    const plain = new Batcher<number, number>(() => {
      throw new Error('down');
    });
    await expect(Promise.all([plain.submit(1), plain.submit(2)])).rejects.toThrow('down');
    const seen: number[][] = [];
    const alone = new Batcher<number, number>(
      (xs) => {
        seen.push(xs);
        if (xs.includes(2)) throw new Error(`bad ${xs.join(',')}`);
        return xs.map(ok);
      },
      { retryAlone: true },
    );
    const results = await Promise.allSettled([1, 2, 3].map((x) => alone.submit(x)));
    expect(seen).toEqual([[1, 2, 3], [1], [2], [3]]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([1, 'bad 2', 3]);
  });

  it('drained() waits for every request queued so far', async () => {
    const done: number[] = [];
    const b = new Batcher<number, void>(async (xs) => {
      await new Promise((r) => setTimeout(r, 5));
      done.push(...xs);
      return xs.map(() => ok(undefined));
    });
    void b.submit(1);
    void b.submit(2);
    await b.drained();
    expect(done).toEqual([1, 2]);
    await b.drained();
  });
});
