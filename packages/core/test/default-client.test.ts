import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { configure, createWorker, getRun, listRuns, start, step, workflow } from '@durably/core';

// The quick example of the API spec, as written: top-level start/getRun/listRuns on the default client.
const dir = mkdtempSync(join(tmpdir(), 'durably-default-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hello = step('default-client.hello', async (name: string) => `hello ${name}`);
const greet = workflow('default-client.greet', async (name: string) => hello(name));

it('runs through the default client set by configure()', async () => {
  configure({ storage: `file:${dir}`, broker: 'local:' });
  const worker = createWorker({ workflows: [greet], concurrency: 5 });
  await worker.start();
  try {
    const run = await start(greet, 'ana');
    expect(await run.result({ timeout: '10s' })).toBe('hello ana');
    const handle = getRun(run.runId);
    expect(await handle.status()).toBe('completed');
    expect((await handle.events()).map((e) => e.type)).toEqual(['run_created', 'run_started', 'step_started', 'step_completed', 'run_completed']);
    expect((await listRuns({ workflow: 'default-client.greet' })).runs.map((r) => r.runId)).toEqual([run.runId]);
  } finally {
    await worker.stop();
  }
});
