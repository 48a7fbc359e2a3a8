import { afterEach, describe, it } from 'vitest';
import { workerKilledMidStepScenario, workerStoppedBySignalScenario } from '@durably/testing';
import { PG_URL, dropSchema, serverAvailable, uniqueSchema } from './harness.js';

// Real worker processes on Postgres storage and the Postgres broker, chosen by URL as a deployment would.
const available = await serverAvailable();
const schemas: string[] = [];
function backend() {
  const schema = uniqueSchema();
  schemas.push(schema);
  const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  return { storage: url, broker: url };
}
afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
});

describe.skipIf(!available)('worker processes on Postgres', () => {
  it('retries a step whose worker was SIGKILLed on another worker within the step lease, not the visibility timeout', async () => {
    const { recoveredMs } = await workerKilledMidStepScenario(backend());
    console.log(`postgres: step retried ${recoveredMs} ms after SIGKILL`);
  }, 90_000);

  it('exits within its grace period on SIGTERM with stopOnSignals, handing its step back to another worker', async () => {
    const times = await workerStoppedBySignalScenario(backend());
    console.log(`postgres: SIGTERM exit busy ${times.busyExitMs} ms, idle ${times.idleExitMs} ms; step handed over after ${times.handedOverMs} ms`);
  }, 90_000);
});
