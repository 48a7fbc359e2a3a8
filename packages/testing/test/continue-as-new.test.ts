import { expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, Worker } from '@durably/core';
import { allWorkflows, looping } from '../src/engine/workflows.js';

// A loop of 10,000 iterations through continueAsNew: each run keeps a bounded history.
it('runs 10,000 iterations of continueAsNew with a bounded history per run', async () => {
  const storage = new MemoryStorage();
  const client = new Client({ storage, broker: new MemoryBroker() });
  const worker = new Worker(client, { workflows: allWorkflows, concurrency: 4 });
  await worker.start();
  try {
    const first = await client.start(looping, 0, 10_000);
    expect(await first.result({ timeout: '120s' })).toBe(10_000);
    const page = await storage.listRuns({ workflow: 'suite.looping', limit: 1000 });
    let longest = 0;
    for (const run of page.runs) longest = Math.max(longest, run.lastSeq);
    expect(longest).toBeLessThanOrEqual(5);
    let total = 0;
    let cursor: string | undefined;
    do {
      const p = await storage.listRuns({ workflow: 'suite.looping', limit: 1000, cursor });
      total += p.runs.length;
      cursor = p.nextCursor;
    } while (cursor);
    expect(total).toBe(10_000);
  } finally {
    await worker.stop();
  }
}, 180_000);
