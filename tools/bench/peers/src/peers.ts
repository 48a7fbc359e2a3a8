/**
 * The engines a user would pick instead of Durably, measured in the same process on the same
 * servers with the same shapes: DBOS Transact on the same Postgres, and BullMQ (a chain of jobs,
 * each adding the next) on the same Redis.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { Queue, QueueEvents, Worker as BullWorker, type Job } from 'bullmq';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { PG_URL, REDIS_URL, type Row } from '../../src/shapes.js';
import { b1Rows, b2Rows, closedLoop } from './common.js';

// ---------------------------------------------------------------------------------------------
// DBOS Transact: workflows and steps checkpointed in Postgres (its system database schema).

const dbosNoop = DBOS.registerStep(async (payload: string) => payload, { name: 'bench.noop' });
const dbosThreeSteps = DBOS.registerWorkflow(
  async (payload: string) => {
    await dbosNoop(payload);
    await dbosNoop(payload);
    return dbosNoop(payload);
  },
  { name: 'bench.three-steps' },
);
const dbosLongChain = DBOS.registerWorkflow(
  async (steps: number) => {
    const gaps: number[] = [];
    let last = performance.now();
    for (let i = 0; i < steps; i++) {
      await dbosNoop('x');
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }
    return gaps;
  },
  { name: 'bench.long-chain' },
);

/** B1 and B2 on DBOS, in one launch (DBOS is a process-wide singleton). */
export async function dbos(shapes: Set<string>, b1Count: number, concurrency: number, b2Steps: number): Promise<Row[]> {
  const schema = `dbos_bench_${randomBytes(4).toString('hex')}`;
  DBOS.setConfig({ name: 'durably-bench', systemDatabaseUrl: PG_URL, systemDatabaseSchemaName: schema, systemDatabasePoolSize: 20, logLevel: 'error' });
  await DBOS.launch();
  const rows: Row[] = [];
  try {
    if (shapes.has('B1')) {
      const payload = 'x'.repeat(100);
      const latencies: number[] = [];
      const runOne = async () => {
        const t0 = performance.now();
        const handle = await DBOS.startWorkflow(dbosThreeSteps)(payload);
        await handle.getResult();
        latencies.push(performance.now() - t0);
      };
      const seconds = await closedLoop(b1Count, concurrency, runOne, latencies);
      rows.push(...b1Rows('dbos', 'postgres', b1Count, seconds, latencies));
    }
    if (shapes.has('B2')) {
      const t0 = performance.now();
      const gaps = await (await DBOS.startWorkflow(dbosLongChain)(b2Steps)).getResult();
      rows.push(...b2Rows('dbos', 'postgres', 'inline', performance.now() - t0, b2Steps, gaps));
    }
  } finally {
    await DBOS.shutdown();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// BullMQ: each "workflow" is a chain of jobs; a job's processor adds the next one.

interface ChainJob {
  chain: string;
  step: number;
  steps: number;
  payload: string;
  at?: number;
}

async function withBull<T>(concurrency: number, fn: (queue: Queue, done: Map<string, (job: Job<ChainJob>) => void>) => Promise<T>): Promise<T> {
  const name = `durably-bench-${randomBytes(4).toString('hex')}`;
  const connection = { url: REDIS_URL, maxRetriesPerRequest: null } as const;
  const queue = new Queue<ChainJob>(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const done = new Map<string, (job: Job<ChainJob>) => void>();
  const worker = new BullWorker<ChainJob>(
    name,
    async (job) => {
      const { chain, step, steps, payload } = job.data;
      // The step's work is a no-op; the next job of the chain is added when this one runs.
      if (step + 1 < steps) await queue.add('step', { chain, step: step + 1, steps, payload, at: performance.now() });
      return payload;
    },
    { connection, concurrency },
  );
  // A chain ends when its last job completes, as the client sees it through QueueEvents.
  const lastJobs = new Map<string, string>();
  events.on('completed', ({ jobId }) => {
    const chain = lastJobs.get(jobId);
    if (chain) {
      lastJobs.delete(jobId);
      done.get(chain)?.({ id: jobId } as Job<ChainJob>);
    }
  });
  worker.on('active', (job) => {
    if (job.data.step + 1 === job.data.steps) lastJobs.set(job.id!, job.data.chain);
  });
  try {
    await worker.waitUntilReady();
    return await fn(queue, done);
  } finally {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    const r = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `bull:${name}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
    r.disconnect();
  }
}

/** B1 on BullMQ: `count` chains of 3 jobs at client concurrency `concurrency`. */
export async function bullmqB1(count: number, concurrency: number): Promise<Row[]> {
  return withBull(64, async (queue, done) => {
    const payload = 'x'.repeat(100);
    const latencies: number[] = [];
    const runOne = async () => {
      const chain = randomBytes(8).toString('hex');
      const t0 = performance.now();
      const finished = new Promise<void>((resolve) => done.set(chain, () => resolve()));
      await queue.add('step', { chain, step: 0, steps: 3, payload });
      await finished;
      done.delete(chain);
      latencies.push(performance.now() - t0);
    };
    const seconds = await closedLoop(count, concurrency, runOne, latencies);
    return b1Rows('bullmq', 'redis', count, seconds, latencies);
  });
}

/** B2 on BullMQ: one chain of `steps` jobs; the gaps are between consecutive jobs starting. */
export async function bullmqB2(steps: number): Promise<Row[]> {
  const starts: number[] = [];
  return withBull(1, async (queue, done) => {
    const chain = randomBytes(8).toString('hex');
    const t0 = performance.now();
    const finished = new Promise<void>((resolve) => done.set(chain, () => resolve()));
    const probe = new QueueEvents(queue.name, { connection: { url: REDIS_URL, maxRetriesPerRequest: null } });
    probe.on('active', () => starts.push(performance.now()));
    await probe.waitUntilReady();
    await queue.add('step', { chain, step: 0, steps, payload: 'x' });
    await finished;
    const total = performance.now() - t0;
    await probe.close();
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    return b2Rows('bullmq', 'redis', 'job chain', total, steps, gaps);
  });
}
