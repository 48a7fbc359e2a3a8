import { expect, it } from 'vitest';
import { exportHistory, parseHistory } from '@durably/core';
import { BACKENDS, threeSteps, withEngine, type Backend } from '../src/shapes.js';
import { BULK_LOADERS } from '../src/bulk-load.js';

const servers = Boolean(process.env.CI || process.env.DURABLY_BENCH_SERVERS);

// B7's loaded runs must be what the adapter itself holds for a finished run: read back through the
// storage contract they equal the template (but for the id and the times), they export and parse as
// histories, and retention deletes them like any finished run.
it.each(Object.keys(BULK_LOADERS).filter((name) => servers || name === 'local'))('the %s bulk loader writes finished runs the storage reads, lists and deletes as its own', async (name) => {
  const backend = BACKENDS[name];
  const first = backend.open();
  const again: Backend = { name, open: () => ({ ...backend.open(first.location), close: async () => undefined }) };
  try {
    await withEngine(again, 'inline', async (client, storage) => {
      const run = await client.start(threeSteps, 'payload');
      await run.result({ timeout: '30s' });
      const template = (await storage.getRun(run.runId))!;
      const events = await storage.readEvents(run.runId);
      const start = template.createdAt - 86_400_000;
      await BULK_LOADERS[name](first.location!, run.runId, 30, start, 1000);

      const page = await storage.listRuns({ workflow: threeSteps.definition.name, status: 'completed', limit: 100 });
      expect(page.runs).toHaveLength(31);
      const copies = page.runs.filter((r) => r.runId !== run.runId);
      // Newest first: the copies were created a second apart, from a day before the template.
      expect(copies.map((r) => r.createdAt)).toEqual(Array.from({ length: 30 }, (_, i) => start + (29 - i) * 1000));
      for (const [i, copy] of copies.entries()) {
        const shift = copy.createdAt - template.createdAt;
        expect(copy).toEqual({ ...template, runId: copy.runId, createdAt: template.createdAt + shift, updatedAt: template.updatedAt + shift, finishedAt: template.finishedAt! + shift });
        expect(await storage.getRun(copy.runId)).toEqual(copy);
        if (i < 3) {
          expect(await storage.readEvents(copy.runId)).toEqual(events.map((e) => ({ ...e, runId: copy.runId, at: e.at + shift })));
          const history = parseHistory(JSON.stringify(await exportHistory(storage, copy.runId)));
          expect(history.run).toEqual(copy);
        }
      }
      // A second page through the cursor, as a user pages through history.
      const paged = await storage.listRuns({ status: 'completed', limit: 20 });
      const rest = await storage.listRuns({ status: 'completed', limit: 20, cursor: paged.nextCursor });
      expect([...paged.runs, ...rest.runs].map((r) => r.runId)).toEqual(page.runs.map((r) => r.runId));

      expect(await storage.deleteFinishedRuns(template.finishedAt!, 100)).toBe(30);
      expect((await storage.listRuns({ limit: 100 })).runs.map((r) => r.runId)).toEqual([run.runId]);
      expect(await storage.getRun(copies[0].runId)).toBeUndefined();
      expect(await storage.readEvents(copies[0].runId)).toEqual([]);
    });
  } finally {
    await first.storage.close();
    await first.broker.close();
    await first.close();
  }
}, 60_000);
