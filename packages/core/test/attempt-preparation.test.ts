import { afterEach, expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, StorageError, createWorker, step, stepContext, workflow, type Storage, type Worker } from '@durably/core';

/**
 * What the engine reads before an attempt's body runs (the previous attempt's heartbeat details, a
 * rate-limit permit) is the engine's business: a storage that is away there is waited for, and never
 * recorded as a failure of the user's step (which would spend its retries on an outage).
 */
let bodies: number[] = [];
const flaky = step(
  'prep.flaky',
  async () => {
    const { attempt } = stepContext();
    bodies.push(attempt);
    if (attempt === 1) throw new Error('first attempt fails on purpose');
    return `done on attempt ${attempt}`;
  },
  { retries: 1, backoff: { initial: 10, jitter: false } },
);
const limited = step('prep.limited', async () => 'permitted', { rateLimit: { key: 'prep', limit: 100, period: '1s' } });
const flow = workflow('prep.flow', async () => [await flaky(), await limited()]);

/** A storage whose reads of heartbeat details and permits fail `failures` times with a StorageError, as while its server restarts. */
function awayFor(inner: Storage, failures: number, error: () => Error = () => new StorageError('storage unreachable: connect ECONNREFUSED (on purpose)')): Storage & { failed: string[] } {
  const failed: string[] = [];
  let left = failures;
  const proxy = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'failed') return failed;
      const value = Reflect.get(target, prop, receiver);
      if ((prop === 'getCheckpoint' || prop === 'takePermit') && typeof value === 'function') {
        return async (...args: unknown[]) => {
          if (left > 0) {
            left--;
            failed.push(String(prop));
            throw error();
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value;
    },
  });
  return proxy as Storage & { failed: string[] };
}

let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

it('waits out a storage that is away while preparing an attempt, and records no failure for it', async () => {
  bodies = [];
  const storage = awayFor(new MemoryStorage(), 3);
  const client = new Client({ storage, broker: new MemoryBroker() });
  worker = createWorker({ client, workflows: [flow] });
  await worker.start();
  const run = await client.start(flow);
  await expect(run.result({ timeout: '20s' })).resolves.toEqual(['done on attempt 2', 'permitted']);
  expect(storage.failed.length).toBe(3);
  // The body ran once per recorded attempt; the only failure in the log is the step's own.
  expect(bodies).toEqual([1, 2]);
  const failures = (await storage.readEvents(run.runId)).filter((e) => e.type === 'step_failed');
  expect(failures).toHaveLength(1);
  expect(JSON.stringify(failures[0].data)).toContain('first attempt fails on purpose');
}, 30_000);

it('abandons an attempt it cannot prepare (an error waiting will not fix): nothing is recorded for it, and the step is taken over once its lease lapses', async () => {
  bodies = [];
  const storage = awayFor(new MemoryStorage(), 1, () => new Error('the driver broke (on purpose)'));
  const client = new Client({ storage, broker: new MemoryBroker() });
  worker = createWorker({ client, workflows: [flow], stepLease: '1s', timerSweepInterval: '200ms' });
  await worker.start();
  const run = await client.start(flow);
  await expect(run.result({ timeout: '20s' })).resolves.toEqual(['done on attempt 2', 'permitted']);
  expect(storage.failed).toEqual(['getCheckpoint']);
  const events = await storage.readEvents(run.runId);
  // Attempt 2 was claimed and abandoned before its body ran: no outcome for it; once its lease
  // lapsed it was taken over (run_interrupted) and claimed again under its number.
  expect(events.filter((e) => e.type === 'step_started' && e.correlationId === '1').map((e) => (e.data as { attempt: number }).attempt)).toEqual([1, 2, 2]);
  expect(events.filter((e) => e.type === 'step_failed')).toHaveLength(1);
  expect(events.some((e) => e.type === 'run_interrupted')).toBe(true);
  expect(bodies).toEqual([1, 2]);
}, 30_000);
