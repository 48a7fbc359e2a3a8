import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestEnv } from '@durably/testing';
import { afterAll, expect, it } from 'vitest';
import { closeWarehouses, count, dropConnectionOnce } from '../src/warehouse.js';
import { etlPipeline, etlProgressQuery, transformChunk, type EtlJob } from '../src/workflows.js';

const dir = mkdtempSync(join(tmpdir(), 'durably-etl-unit-'));
afterAll(() => {
  closeWarehouses();
  rmSync(dir, { recursive: true, force: true });
});

const job = (jobId: string, extra: Partial<EtlJob> = {}): EtlJob => ({ jobId, sourceRows: 250, pageSize: 100, chunkSize: 10, concurrency: 3, pagesPerRun: 2, warehouse: join(dir, 'wh.db'), ...extra });

it('keeps at most `concurrency` transform steps in flight, and each run of the chain short', async () => {
  const env = await createTestEnv({ workflows: [etlPipeline] });
  let inFlight = 0;
  let most = 0;
  env.mockStep(transformChunk, async (rows) => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return rows.map((r) => ({ id: r.id, customer: r.customer, usdCents: r.amountCents, taxCents: 0, large: false }));
  });
  const run = await env.start(etlPipeline, job('limit'));
  const result = await run.result({ timeout: '30s' });
  expect(most).toBe(3);
  expect(result).toMatchObject({ jobId: 'limit', loaded: 250, pages: 3, run: 2, warehouseRows: 250 });
  const chain = await env.client.getRunChain(run.runId);
  expect(chain.map((r) => r.status)).toEqual(['continued', 'completed']);
  // A run's history is bounded by pagesPerRun, whatever the size of the input: per page an extract,
  // pageSize / chunkSize transforms and a load, two events each (the start and the outcome of the
  // attempt), plus the run's own few events.
  const { pagesPerRun, pageSize, chunkSize } = job('limit');
  const bound = pagesPerRun * (2 + pageSize / chunkSize) * 2 + 10;
  for (const r of chain) expect(r.lastSeq).toBeLessThanOrEqual(bound);
  // The query answers from a run's log: the first run's final progress.
  expect(await env.client.query(etlPipeline, chain[0].runId, etlProgressQuery)).toMatchObject({ jobId: 'limit', pages: 2, loaded: 200, cursor: 200 });
  await env.close();
});

it('a load that fails mid-way resumes from its last checkpoint and writes every row once', async () => {
  const env = await createTestEnv({ workflows: [etlPipeline] });
  dropConnectionOnce(37);
  const run = await env.start(etlPipeline, job('drop', { sourceRows: 100, pagesPerRun: 5 }));
  await env.settle();
  await env.advanceTime('1s'); // the retry waits on the virtual clock
  const result = await run.result({ timeout: '30s' });
  expect(result).toMatchObject({ loaded: 100, warehouseRows: 100 });
  const failures = (await run.events()).filter((e) => e.type === 'step_failed');
  expect(failures).toHaveLength(1);
  const loadDone = (await run.events()).find((e) => e.type === 'step_completed' && e.data.name === 'etl.load-rows');
  expect(loadDone?.type === 'step_completed' && loadDone.data.attempt).toBe(2);
  expect(count(join(dir, 'wh.db'), 'drop').rows).toBe(100);
  await env.close();
});
