/**
 * Calls `fn` for every item with at most `limit` calls in flight, keeping results in item order.
 * In a workflow each call is a step, so this fans out at most `limit` steps at once. It is plain
 * workflow code (no timers, no randomness): a replay makes the same calls in the same order, since
 * the engine hands the outcomes back in the order they were recorded.
 */
export async function mapWithLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}
