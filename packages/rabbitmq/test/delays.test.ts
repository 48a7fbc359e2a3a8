import { afterEach, describe, expect, it } from 'vitest';
import type { Subscription } from '@durably/core';
import { brokers, serverAvailable } from './harness.js';

/**
 * Delays with no plugin and no head-of-line blocking: a short delay published after a long one is
 * not held behind it (RabbitMQ expires per-message TTLs only at the head of a queue; the ladder
 * gives every delay queue a single TTL). Bounds here are generous; tools/bench measures precision.
 */
const available = await serverAvailable();

describe.skipIf(!available).each(['quorum', 'classic'] as const)('delays (%s queues)', (queueType) => {
  let harness: ReturnType<typeof brokers> | undefined;
  const subs: Subscription[] = [];
  afterEach(async () => {
    await Promise.all(subs.splice(0).map((s) => s.stop()));
    await harness?.cleanup();
    harness = undefined;
  });

  it('delivers each delayed message no earlier than its delay, a short one not behind a long one', async () => {
    harness = brokers({ queueType });
    const b = await harness.connect();
    await b.migrate();
    const arrived = new Map<string, number>();
    subs.push(await b.consume('q', async (d) => void arrived.set(d.body, Date.now()), { concurrency: 10 }));
    const t0 = Date.now();
    const delays: Record<string, number> = { long: 3000, odd: 1333, short: 250, now: 0 };
    for (const [body, delayMs] of Object.entries(delays)) await b.publish('q', body, { delayMs });
    const deadline = Date.now() + 15_000;
    while (arrived.size < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect([...arrived.keys()]).toEqual(['now', 'short', 'odd', 'long']);
    for (const [body, delayMs] of Object.entries(delays)) {
      expect(arrived.get(body)! - t0).toBeGreaterThanOrEqual(delayMs);
      // Generous for a loaded machine; the ladder adds a few ms per level it waits in.
      expect(arrived.get(body)! - t0).toBeLessThan(delayMs + 1000);
    }
    await b.close();
  });
});
