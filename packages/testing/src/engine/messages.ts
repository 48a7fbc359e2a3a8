import { expect, it } from 'vitest';
import type { RunHandle } from '@durably/core';
import type { SuiteContext } from './context.js';
import { ofType, types } from './helpers.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, message handlers and conditions: onSignal (buffered signals handled in order, a
 * handler calling a step), condition() resolving after a message or at its timeout, a race loop
 * whose losing waits are cancelled, and all of it replayed on another worker.
 */
export function messageTests(suite: SuiteContext): void {
  const { client, worker, setup } = suite;

  const signalsIn = async (run: RunHandle<unknown>, name: string) => ofType(await run.events(), 'signal_received').filter((e) => e.data.name === name).length;

  it('hands signals buffered before onSignal to the handler in order, then later ones; the handler calls a step once per signal', async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.itemHandler, 4);
    await other.sendSignal(run.runId, 'msg-item', 1);
    await other.sendSignal(run.runId, 'msg-item', 2);
    await other.sendSignal(run.runId, 'msg-item', 3);
    await other.sendSignal(run.runId, 'go', null);
    await waitFor(async () => W.countOf(`${run.runId}:record:3`) === 1, 10_000);
    await other.sendSignal(run.runId, 'msg-item', 4);
    expect(await run.result({ timeout: '20s' })).toEqual({ seen: [1, 2, 3, 4], recorded: ['recorded 1', 'recorded 2', 'recorded 3', 'recorded 4'] });
    for (const n of [1, 2, 3, 4]) expect(W.countOf(`${run.runId}:record:${n}`)).toBe(1);
    const events = await run.events();
    expect(ofType(events, 'step_completed').map((e) => e.data.name)).toEqual(Array(4).fill('suite.msg.record'));
  });

  it('resolves condition() true once a signal handler sets the state it reads, and clears its timer', async () => {
    const { c } = await setup();
    const run = await c.start(W.approvalGate, 60_000);
    await waitFor(async () => types(await run.events()).includes('condition_waiting'), 10_000);
    await c.sendSignal(run.runId, 'msg-approve', 'ana');
    expect(await run.result({ timeout: '20s' })).toEqual({ approved: true, approvedBy: 'ana' });
    const events = await run.events();
    expect(types(events)).not.toContain('condition_timed_out');
    expect(await c.storage.listTimers(run.runId)).toEqual([]);
  });

  it('resolves condition() false at its timeout, a durable timer recorded in the log', async () => {
    const { c } = await setup();
    const run = await c.start(W.approvalGate, 300);
    expect(await run.result({ timeout: '20s' })).toEqual({ approved: false, approvedBy: null });
    const events = await run.events();
    const waiting = ofType(events, 'condition_waiting');
    const timedOut = ofType(events, 'condition_timed_out');
    expect(waiting).toHaveLength(1);
    expect(timedOut).toHaveLength(1);
    expect(timedOut[0]!.correlationId).toBe(waiting[0]!.correlationId);
    expect(timedOut[0]!.at).toBeGreaterThanOrEqual(waiting[0]!.data.timeoutAt - suite.capabilities.delayPrecisionMs);
  });

  it('cancels the wait that lost a race, so each signal reaches the current turn of the loop', async () => {
    const { c } = await setup();
    const run = await c.start(W.raceLoop, 2, 100);
    await waitFor(async () => ofType(await run.events(), 'signal_wait_cancelled').length >= 2, 10_000);
    await c.sendSignal(run.runId, 'msg-tick', 1);
    await waitFor(async () => ofType(await run.events(), 'signal_wait_cancelled').length >= 4, 10_000);
    await c.sendSignal(run.runId, 'msg-tick', 2);
    expect(await run.result({ timeout: '20s' })).toEqual({ got: [1, 2], idled: true });
    const cancelled = ofType(await run.events(), 'signal_wait_cancelled');
    expect(cancelled.every((e) => e.data.name === 'msg-tick')).toBe(true);
  });

  it('replays handlers, conditions and cancelled waits on another worker after a restart mid-run', async () => {
    const a = await client();
    const first = await worker(a);
    const items = await a.start(W.itemHandler, 3);
    const loop = await a.start(W.raceLoop, 2, 150);
    await a.sendSignal(items.runId, 'msg-item', 1);
    await a.sendSignal(items.runId, 'go', null);
    await a.sendSignal(items.runId, 'msg-item', 2);
    await waitFor(async () => W.countOf(`${items.runId}:record:2`) === 1, 10_000);
    await waitFor(async () => ofType(await loop.events(), 'signal_wait_cancelled').length >= 2, 10_000);
    await a.sendSignal(loop.runId, 'msg-tick', 1);
    await waitFor(async () => (await signalsIn(loop, 'msg-tick')) === 1 && ofType(await loop.events(), 'signal_wait_cancelled').length >= 4, 10_000);
    await first.stop();

    const b = await client();
    await worker(b);
    await b.sendSignal(items.runId, 'msg-item', 3);
    await b.sendSignal(loop.runId, 'msg-tick', 2);
    expect(await b.getRun(items.runId).result({ timeout: '20s' })).toEqual({ seen: [1, 2, 3], recorded: ['recorded 1', 'recorded 2', 'recorded 3'] });
    expect(await b.getRun(loop.runId).result({ timeout: '20s' })).toEqual({ got: [1, 2], idled: true });
    // Replayed, not re-run: each handler's step ran once.
    for (const n of [1, 2, 3]) expect(W.countOf(`${items.runId}:record:${n}`)).toBe(1);
  });
}
