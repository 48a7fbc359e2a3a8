import { expect, it } from 'vitest';
import { CancelledError, RunAlreadyFinishedError } from '@durably/core';
import type { SuiteContext } from './context.js';
import { types } from './helpers.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, cancellation: a sleeping run, and a run mid-step whose finally blocks and shielded
 * steps still run.
 */
export function cancellationTests(suite: SuiteContext): void {
  const { setup } = suite;

  it('cancels a sleeping run; cancelling a finished run is a clear error', async () => {
    const { c } = await setup();
    const run = await c.start(W.sleeper, 60_000);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    await run.cancel('no longer needed');
    await expect(run.result({ timeout: '20s' })).rejects.toBeInstanceOf(CancelledError);
    expect(await run.status()).toBe('cancelled');
    expect(types(await run.events())).toEqual(expect.arrayContaining(['cancel_requested', 'run_cancelled']));
    await expect(run.cancel()).rejects.toBeInstanceOf(RunAlreadyFinishedError);
  });

  it('cancels a run mid-step: the step signal fires, finally blocks run and shielded cleanup steps are recorded', async () => {
    const { c } = await setup();
    const run = await c.start(W.cancellable);
    await waitFor(() => W.countOf(`${run.runId}:abortable-started`) === 1, 10_000);
    await c.cancel(run.runId, 'customer left');
    await expect(run.result({ timeout: '20s' })).rejects.toBeInstanceOf(CancelledError);
    expect(W.countOf(`${run.runId}:aborted`)).toBe(1);
    expect(W.countOf(`${run.runId}:cleanup`)).toBe(1);
    const events = await run.events();
    const cleanupDone = events.find((e) => e.type === 'step_completed' && (e.data as { name: string }).name === 'suite.cleanup');
    expect(cleanupDone).toBeDefined();
    expect(events.at(-1)!.type).toBe('run_cancelled');
    expect((events.at(-1)!.data as { reason?: string }).reason).toBe('customer left');
  });
}
