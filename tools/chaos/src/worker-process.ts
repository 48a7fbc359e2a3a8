/**
 * A chaos worker process: runs the chaos workflow on DURABLY_STORAGE / DURABLY_BROKER with short
 * leases and sweeps (CHAOS_STEP_LEASE etc.), so that a killed worker's runs come back in seconds.
 * Prints `worker up <pid>` once it consumes.
 */
import { connect, createLogger, createWorker } from '@durably/core';
import { chaosFlow } from './flow.js';

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const client = await connect();
const worker = createWorker({
  client,
  workflows: [chaosFlow],
  concurrency: Number(env('CHAOS_CONCURRENCY', '50')),
  stepLease: env('CHAOS_STEP_LEASE', '2s'),
  staleAfter: env('CHAOS_STALE_AFTER', '5s'),
  recoveryInterval: env('CHAOS_RECOVERY_INTERVAL', '1s'),
  timerSweepInterval: env('CHAOS_TIMER_SWEEP', '500ms'),
  visibilityTimeout: env('CHAOS_VISIBILITY_TIMEOUT', '10s'),
  logger: createLogger((process.env.CHAOS_LOG_LEVEL as 'warn') ?? 'warn'),
});
await worker.start();
worker.stopOnSignals({ grace: '2s' });
console.log(`worker up ${process.pid}`);
