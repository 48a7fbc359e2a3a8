import { afterEach, describe, it } from 'vitest';
import { workerKilledMidStepScenario, workerStoppedBySignalScenario } from '@durably/testing';
import { REDIS_URL, dropPrefix, serverAvailable, uniquePrefix } from './harness.js';

// Real worker processes on Redis storage and the Redis Streams broker, chosen by URL as a deployment would.
const available = await serverAvailable();
const prefixes: string[] = [];
function backend() {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  const url = `${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}prefix=${prefix}`;
  return { storage: url, broker: url };
}
afterEach(async () => {
  for (const p of prefixes.splice(0)) await dropPrefix(p);
});

describe.skipIf(!available)('worker processes on Redis', () => {
  it('retries a step whose worker was SIGKILLed on another worker within the step lease, not the visibility timeout', async () => {
    const { recoveredMs } = await workerKilledMidStepScenario(backend());
    console.log(`redis: step retried ${recoveredMs} ms after SIGKILL`);
  }, 90_000);

  it('exits within its grace period on SIGTERM with stopOnSignals, handing its step back to another worker', async () => {
    const times = await workerStoppedBySignalScenario(backend());
    console.log(`redis: SIGTERM exit busy ${times.busyExitMs} ms, idle ${times.idleExitMs} ms; step handed over after ${times.handedOverMs} ms`);
  }, 90_000);
});
