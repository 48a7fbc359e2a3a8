import { expect, it } from 'vitest';
import { CancelledError, RunAlreadyFinishedError, type DurablyEvent } from '@durably/core';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, continue-as-new: chains of linked runs, reading a chain, and signals and cancel that
 * follow it.
 */
export function continueAsNewTests(suite: SuiteContext): void {
  const { client, setup } = suite;

  it('continues as new: a loop runs as a chain of linked runs, each with a short history', async () => {
    const { c } = await setup();
    const first = await c.start(W.looping, 0, 40);
    expect(await first.result({ timeout: '60s' })).toBe(40);
    let runId: string | undefined = first.runId;
    let previous: string | undefined;
    let runs = 0;
    while (runId) {
      const events: DurablyEvent[] = await c.getRun(runId).events();
      expect(events.length).toBeLessThanOrEqual(5);
      const created = events[0] as Extract<DurablyEvent, { type: 'run_created' }>;
      expect(created.data.continuedFrom).toBe(previous);
      const last: DurablyEvent = events.at(-1)!;
      previous = runId;
      runId = last.type === 'run_continued' ? last.data.nextRunId : undefined;
      runs++;
    }
    expect(runs).toBe(40);
    expect(await first.status()).toBe('continued');
  });

  it('reads the chain of runs linked by continueAsNew, oldest first, from any run of it; each run keeps the tags of the first', async () => {
    const { c } = await setup();
    const tag = `chain-${crypto.randomUUID().slice(0, 8)}`;
    const first = await c.startWith(W.looping, [0, 5], { tags: [tag] });
    expect(await first.result({ timeout: '20s' })).toBe(5);
    const chain = await c.getRunChain(first.runId);
    expect(chain).toHaveLength(5);
    expect(chain.map((r) => r.tags)).toEqual(chain.map(() => [tag]));
    expect((await c.listRuns({ tags: [tag] })).runs.map((r) => r.runId).sort()).toEqual(chain.map((r) => r.runId).sort());
    expect(chain[0].runId).toBe(first.runId);
    expect(chain.slice(0, 4).every((r) => r.status === 'continued')).toBe(true);
    expect(chain[4].status).toBe('completed');
    expect((await c.getRunChain(chain[2].runId)).map((r) => r.runId)).toEqual(chain.map((r) => r.runId));
  });

  it('hands signals a run had not consumed to the run that continues it; sendSignal and cancel follow the chain', async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.relay, [], 6);
    for (let n = 1; n <= 6; n++) await other.sendSignal(run.runId, 'item', n);
    await waitFor(async () => (await c.getRunChain(run.runId)).at(-1)!.status === 'completed', 20_000);
    const chain = await c.getRunChain(run.runId);
    expect(chain).toHaveLength(6);
    expect(await c.getRun(chain.at(-1)!.runId).result({ timeout: '5s' })).toEqual([1, 2, 3, 4, 5, 6]);
    await expect(other.sendSignal(run.runId, 'item', 7)).rejects.toBeInstanceOf(RunAlreadyFinishedError);
    // cancel() on a run that continued goes to the run that is current, like a signal.
    const looping = await c.start(W.relay, [], 5);
    await other.sendSignal(looping.runId, 'item', 1);
    await waitFor(async () => (await c.getRunChain(looping.runId)).length === 2 && (await c.getRunChain(looping.runId))[1].status === 'suspended', 20_000);
    await other.cancel(looping.runId, 'enough');
    await waitFor(async () => (await c.getRunChain(looping.runId)).at(-1)!.status === 'cancelled', 20_000);
    await expect(looping.result({ timeout: '5s' })).rejects.toBeInstanceOf(CancelledError);
  });
}
