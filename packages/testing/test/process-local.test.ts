import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'vitest';
import { workerKilledMidStepScenario, workerStoppedBySignalScenario } from '../src/index.js';

// Real worker processes on the embedded default (a SQLite file and the local broker in one directory).
const dirs: string[] = [];
function backend() {
  const dir = mkdtempSync(join(tmpdir(), 'durably-process-local-'));
  dirs.push(dir);
  return { storage: `file:${dir}`, broker: `local:${dir}` };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('worker processes on the local backend', () => {
  it('retries a step whose worker was SIGKILLed on another worker within the step lease, not the visibility timeout', async () => {
    const { recoveredMs } = await workerKilledMidStepScenario(backend());
    console.log(`local: step retried ${recoveredMs} ms after SIGKILL`);
  }, 90_000);

  it('exits within its grace period on SIGTERM with stopOnSignals, handing its step back to another worker', async () => {
    const times = await workerStoppedBySignalScenario(backend());
    console.log(`local: SIGTERM exit busy ${times.busyExitMs} ms, idle ${times.idleExitMs} ms; step handed over after ${times.handedOverMs} ms`);
  }, 90_000);
});
