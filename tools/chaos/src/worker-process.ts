/**
 * A chaos worker process: runs the chaos workflow on DURABLY_STORAGE / DURABLY_BROKER with a short
 * step lease (2 s) and sweeps (CHAOS_STEP_LEASE etc.), so that a killed worker's runs come back in seconds.
 * Prints `worker up <pid>` once it consumes.
 */
import { connect, createLogger, createWorker } from '@durably/core';
import { chaosFlow, isolatedFlow } from './flow.js';

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const client = await connect(process.env.CHAOS_CONNECT_TIMEOUT ? { connectTimeout: process.env.CHAOS_CONNECT_TIMEOUT } : {});
const worker = createWorker({
  client,
  workflows: [chaosFlow, isolatedFlow],
  ...(process.env.CHAOS_WORKER_ID ? { workerId: process.env.CHAOS_WORKER_ID } : {}),
  concurrency: Number(env('CHAOS_CONCURRENCY', '50')),
  stepLease: env('CHAOS_STEP_LEASE', '2s'),
  // Long enough that runs merely waiting in a queue of 1,000 are not republished over and over.
  staleAfter: env('CHAOS_STALE_AFTER', '30s'),
  recoveryInterval: env('CHAOS_RECOVERY_INTERVAL', '5s'),
  timerSweepInterval: env('CHAOS_TIMER_SWEEP', '1s'),
  visibilityTimeout: env('CHAOS_VISIBILITY_TIMEOUT', '15s'),
  logger: createLogger((process.env.CHAOS_LOG_LEVEL as 'warn') ?? 'warn'),
});
const startedAt = Date.now();
await worker.start();
worker.stopOnSignals({ grace: '2s' });
console.log(`worker up ${process.pid} after ${Date.now() - startedAt} ms`);
