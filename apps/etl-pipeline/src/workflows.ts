import { checkpoint, continueAsNew, defineQuery, step, stepContext, workflow, workflowContext } from '@durably/core';
import { mapWithLimit } from './limit.js';
import { fetchPage, type SourceRow } from './source.js';
import { count, upsert, type Fact } from './warehouse.js';

export interface EtlJob {
  jobId: string;
  /** Rows the source has (the synthetic source's size). */
  sourceRows: number;
  pageSize: number;
  /** Rows per transform step. */
  chunkSize: number;
  /** Transform steps in flight at once. */
  concurrency: number;
  /** Pages one run handles before it continues as new, so its history stays short. */
  pagesPerRun: number;
  /** The warehouse file. */
  warehouse: string;
  /** A pause in each extract call, to watch the pipeline in the dashboard. */
  extractDelayMs?: number;
}

/** Where the job is; carried from run to run by continueAsNew, so every run's input shows it. */
export interface EtlProgress {
  cursor: number;
  pages: number;
  extracted: number;
  loaded: number;
  /** This run's place in the chain (1 for the first). */
  run: number;
}

export interface EtlResult extends EtlProgress {
  jobId: string;
  warehouseRows: number;
  warehouseUsdCents: number;
}

const RATES = { USD: 1, EUR: 1.08, GBP: 1.27 } as const;
const CHECKPOINT_EVERY = 25;

export const extractPage = step('etl.extract-page', (job: EtlJob, cursor: number) => fetchPage(job.sourceRows, cursor, job.pageSize, job.extractDelayMs), {
  retries: 5,
  backoff: { initial: '200ms', max: '5s' },
});

export const transformChunk = step('etl.transform-chunk', async (rows: SourceRow[]): Promise<Fact[]> => {
  await new Promise((r) => setTimeout(r, 10)); // stands for the work of a real transform
  return rows.map((r) => {
    const usdCents = Math.round(r.amountCents * RATES[r.currency]);
    return { id: r.id, customer: r.customer, usdCents, taxCents: Math.round(usdCents * 0.08), large: usdCents > 50_000 };
  });
});

/**
 * Loads a page's rows, saving how far it got every 25 rows: an attempt after a failure (or after
 * its worker died) starts at the checkpoint instead of row 1. Rows since the last checkpoint are
 * written again, which the warehouse's upsert makes harmless.
 */
export const loadRows = step(
  'etl.load-rows',
  async (job: EtlJob, facts: Fact[]) => {
    const from = (await checkpoint.load<number>()) ?? 0;
    for (let i = from; i < facts.length; i++) {
      upsert(job.warehouse, job.jobId, facts[i], i + 1);
      if ((i + 1) % CHECKPOINT_EVERY === 0) await checkpoint.save(i + 1);
    }
    return { loaded: facts.length, resumedAt: from, attempt: stepContext().attempt };
  },
  { retries: 5, backoff: { initial: '100ms', factor: 2, max: '2s' } },
);

export const verifyWarehouse = step('etl.verify-warehouse', async (job: EtlJob) => count(job.warehouse, job.jobId));

/** Answered from the run's log by `client.query(etlPipeline, runId, etlProgressQuery)`. */
export const etlProgressQuery = defineQuery<EtlProgress & { jobId: string }>('etl-progress');

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const etlPipeline = workflow(
  'etl-pipeline',
  async (job: EtlJob, progress: EtlProgress = { cursor: 0, pages: 0, extracted: 0, loaded: 0, run: 1 }): Promise<EtlResult> => {
    const state = { ...progress };
    etlProgressQuery.handle(() => ({ jobId: job.jobId, ...state }));
    workflowContext().logger.info('etl run started', { jobId: job.jobId, run: state.run, cursor: state.cursor });
    for (let page = 0; page < job.pagesPerRun; page++) {
      const { rows, next } = await extractPage(job, state.cursor);
      const facts = (await mapWithLimit(chunks(rows, job.chunkSize), job.concurrency, (chunk) => transformChunk(chunk))).flat();
      const { loaded } = await loadRows(job, facts);
      state.pages++;
      state.extracted += rows.length;
      state.loaded += loaded;
      if (next === null) {
        const total = await verifyWarehouse(job);
        return { jobId: job.jobId, ...state, warehouseRows: total.rows, warehouseUsdCents: total.usdCents };
      }
      state.cursor = next;
    }
    // A long input would make one long history (and its replays long): go on in a fresh run.
    return continueAsNew(job, { ...state, run: state.run + 1 });
  },
  { tags: ['etl'] },
);
