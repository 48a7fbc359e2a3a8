import { expect, it } from 'vitest';
import { HookExpiredError, WorkflowFailedError, type Client, type DurablyEvent } from '@durably/core';
import type { SuiteContext } from './context.js';
import { ofType, types } from './helpers.js';
import * as W from './workflows.js';
import * as S from './scopes-workflows.js';
import { waitFor } from '../wait.js';

/** The log's scope cancellations: reason and cancelled positions. */
function cancellations(events: DurablyEvent[]): Array<{ scope?: string; reason?: string; calls: string[] }> {
  return ofType(events, 'scope_cancelled').map((e) => ({ scope: e.correlationId, reason: e.data.reason, calls: e.data.calls }));
}

/** Positions of the calls of one step name. */
function stepPositions(events: DurablyEvent[], name: string): string[] {
  return [...new Set(events.filter((e) => (e.type === 'step_started' || e.type === 'step_scheduled') && e.data.name === name).map((e) => e.correlationId!))];
}

async function timerIds(c: Client, runId: string): Promise<string[]> {
  return (await c.storage.listTimers(runId)).map((t) => t.timerId).sort();
}

/**
 * Engine suite, cancellation scopes: cancellable() cancels a running step (its abort signal fires,
 * inline and dispatched), timers, waits, hooks and children; nested scopes and shield(); withTimeout
 * firing and not; cancelRequested() for a shielded cleanup; and a replay of cancelled scopes.
 */
export function scopeTests(suite: SuiteContext): void {
  const workflows = [...W.allWorkflows, ...S.scopesWorkflows];

  for (const stepMode of ['inline', 'dispatch'] as const) {
    it(`cancels a scope with a running step: its signal fires, its outcome is not recorded, the run goes on (${stepMode} steps)`, async () => {
      const { c } = await suite.setup({ workflows, stepMode, stepLease: '1s' });
      const run = await c.start(S.cancelStep);
      const result = await run.result({ timeout: '20s' });
      expect(result).toEqual({ first: true, again: false, outcome: { name: 'ScopeCancelledError', message: 'Scope cancelled: not needed', scope: true }, after: 'after' });
      await waitFor(() => W.countOf(`${run.runId}:work:aborted`) === 1, 10_000);
      expect(W.countOf(`${run.runId}:work:started`)).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the aborted body ends: nothing of it is recorded
      const events = await run.events();
      const [stepId] = stepPositions(events, 'scopes.until-aborted');
      expect(cancellations(events)).toEqual([{ scope: 'scope:1', reason: 'not needed', calls: [stepId] }]);
      expect(events.filter((e) => e.correlationId === stepId && (e.type === 'step_completed' || e.type === 'step_failed'))).toEqual([]);
      expect(events.at(-1)!.type).toBe('run_completed');
    });
  }

  // The step's worker learns of the cancellation from the log: the run's worker itself (a dispatched
  // step it runs), or another one (a step on its own queue) at its next lease renewal.
  for (const remote of [false, true]) {
    it(`cancels a scope whose dispatched step runs on ${remote ? 'another worker' : 'the same worker'}: its signal fires, nothing of it is recorded`, async () => {
      const { c } = await suite.setup({ workflows, stepMode: 'dispatch', stepLease: '1s' });
      if (remote) await suite.worker(await suite.client(), { workflows, queues: ['scopes-remote'], stepLease: '1s' });
      const run = await c.start(S.cancelRemote, remote);
      await waitFor(() => W.countOf(`${run.runId}:remote:started`) === 1, 10_000);
      await c.sendSignal(run.runId, 'cancel', null);
      expect(await run.result({ timeout: '20s' })).toEqual({ name: 'ScopeCancelledError', message: 'Scope cancelled: remote not needed', scope: true });
      await waitFor(() => W.countOf(`${run.runId}:remote:aborted`) === 1, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the aborted body ends: nothing of it is recorded
      const events = await run.events();
      const [stepId] = stepPositions(events, remote ? 'scopes.remote-until-aborted' : 'scopes.until-aborted');
      expect(cancellations(events)).toEqual([{ scope: 'scope:1', reason: 'remote not needed', calls: [stepId] }]);
      expect(events.filter((e) => e.correlationId === stepId && (e.type === 'step_completed' || e.type === 'step_failed'))).toEqual([]);
    });
  }

  it('cancels the sleeps, signal waits, hooks and conditions of a scope: they reject, their timers are deleted, the hook is refused', async () => {
    const { c } = await suite.setup({ workflows });
    const run = await c.start(S.cancelWaits);
    await waitFor(async () => cancellations(await run.events()).length === 1 && (await run.status()) === 'suspended', 10_000);
    const events = await run.events();
    expect(cancellations(events)[0].calls).toHaveLength(4);
    expect(cancellations(events)[0].reason).toBe('enough waiting');
    expect(await timerIds(c, run.runId)).toEqual([]);
    const token = await c.query(S.cancelWaits, run.runId, S.gateToken);
    expect(token).not.toBe('');
    await expect(c.resumeHook(token, 'too late')).rejects.toBeInstanceOf(HookExpiredError);
    await c.sendSignal(run.runId, 'finish', null);
    expect(await run.result({ timeout: '20s' })).toEqual(['ScopeCancelledError', 'ScopeCancelledError', 'ScopeCancelledError', 'ScopeCancelledError']);
    // Nothing of the cancelled calls after their cancellation: no payload, no timeout, no wake-up.
    const after = await run.events();
    const [cancel] = ofType(after, 'scope_cancelled');
    expect(after.filter((e) => e.seq > cancel.seq && cancel.data.calls.includes(e.correlationId ?? ''))).toEqual([]);
  });

  it('asks a child started in a cancelled scope to cancel; the parent sees ScopeCancelledError at once and goes on', async () => {
    const { c } = await suite.setup({ workflows });
    const parent = await c.start(S.cancelChild);
    await waitFor(async () => cancellations(await parent.events()).length === 1, 10_000);
    const [started] = ofType(await parent.events(), 'child_started');
    const child = c.getRun(started.data.childRunId);
    await waitFor(async () => (await child.status()) === 'cancelled', 15_000);
    const request = ofType(await child.events(), 'cancel_requested');
    expect(request).toHaveLength(1);
    expect(request[0].data.reason).toBe(`its scope in parent run ${parent.runId} was cancelled: child not needed`);
    expect(cancellations(await parent.events())[0].calls).toEqual([started.correlationId]);
    // The child's end reaches the parent's log and wakes it (marked running); the parent finds nothing
    // to do for it (its scope let it go), writes nothing more and records suspended again.
    await waitFor(async () => ofType(await parent.events(), 'child_failed').length === 1, 10_000);
    await waitFor(async () => (await parent.status()) === 'suspended', 10_000);
    expect((await parent.events()).at(-1)!.type).toBe('child_failed');
    await c.sendSignal(parent.runId, 'finish', null);
    expect(await parent.result({ timeout: '20s' })).toEqual({ name: 'ScopeCancelledError', message: 'Scope cancelled: child not needed', scope: true });
  });

  it('cancels nested scopes with the outer one, an inner one alone, and leaves shielded calls to finish', async () => {
    const { c } = await suite.setup({ workflows });
    const run = await c.start(S.nested);
    expect(await run.result({ timeout: '20s' })).toEqual({
      cancelled: true,
      alone: 'ScopeCancelledError',
      settled: ['ScopeCancelledError', 'shielded', 'ScopeCancelledError'],
      innerAgain: false,
    });
    expect(W.countOf(`${run.runId}:shielded`)).toBe(1);
    const found = cancellations(await run.events());
    // The inner scope alone (cancelled before its function ran: nothing pending), then the outer one with both sleeps.
    expect(found.map((f) => [f.scope, f.reason, f.calls.length])).toEqual([
      ['scope:2', 'just this one', 0],
      ['scope:1', 'outer done', 2],
    ]);
  });

  it('withTimeout cancels its work over several steps when its timer fires, and rejects with ScopeTimeoutError naming the duration', async () => {
    const { c } = await suite.setup({ workflows });
    const run = await c.start(S.timeoutFires);
    const result = await run.result({ timeout: '20s' });
    expect(result).toEqual({
      name: 'ScopeTimeoutError',
      message: 'withTimeout("1s"): the work did not finish within 1s, so its scope was cancelled. Give it a longer timeout, or catch ScopeTimeoutError to handle the late case.',
      cause: 'ScopeCancelledError',
      after: 'after',
    });
    expect(W.countOf(`${run.runId}:first`)).toBe(1);
    expect(W.countOf(`${run.runId}:second`)).toBe(1);
    // The slow step is call 4 (first 1, the timer's sleep 2, second 3): cancelled running (its signal
    // fires) or, on a slow backend, before its attempt began (it never starts).
    expect(W.countOf(`${run.runId}:slow:started`)).toBeLessThanOrEqual(1);
    await waitFor(() => W.countOf(`${run.runId}:slow:aborted`) === W.countOf(`${run.runId}:slow:started`), 5_000);
    const events = await run.events();
    expect(ofType(events, 'sleep_completed').map((e) => e.correlationId)).toEqual(['2']);
    expect(cancellations(events)).toEqual([{ scope: 'scope:1', reason: 'withTimeout("1s") timed out', calls: ['4'] }]);
    expect(events.filter((e) => e.correlationId === '4' && (e.type === 'step_completed' || e.type === 'step_failed'))).toEqual([]);
  });

  it('withTimeout clears its timer when the work finishes first', async () => {
    const { c } = await suite.setup({ workflows });
    const run = await c.start(S.timeoutClears);
    await waitFor(async () => cancellations(await run.events()).length === 1 && (await run.status()) === 'suspended', 10_000);
    const events = await run.events();
    const [sleep] = ofType(events, 'sleep_started');
    expect(cancellations(events)).toEqual([{ scope: 'scope:2', reason: 'withTimeout("1h"): the work finished first', calls: [sleep.correlationId] }]);
    expect(await timerIds(c, run.runId)).toEqual([]);
    await c.sendSignal(run.runId, 'finish', null);
    expect(await run.result({ timeout: '20s' })).toBe('fast');
    expect(types(await run.events())).not.toContain('sleep_completed');
  });

  it('resolves cancelRequested() when the run is asked to cancel: shielded code cancels its work and cleans up, the run ends cancelled', async () => {
    const { c } = await suite.setup({ workflows });
    const run = await c.start(S.graceful);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    await run.cancel('shop closed');
    await expect(run.result({ timeout: '20s' })).rejects.toBeInstanceOf(Error);
    expect(await run.status()).toBe('cancelled');
    expect(W.countOf(`${run.runId}:cleanup:shop closed`)).toBe(1);
    const events = await run.events();
    expect(cancellations(events).map((f) => f.reason)).toEqual(['the run is cancelled']);
    expect(events.at(-1)!.type).toBe('run_cancelled');
  });

  it('replays cancelled scopes on a fresh worker: the same calls are cancelled, nothing runs twice, no NonDeterminismError', async () => {
    const first = await suite.client();
    const w1 = await suite.worker(first, { workflows });
    const run = await first.start(S.resumable);
    await waitFor(async () => cancellations(await run.events()).length === 2 && (await run.status()) === 'suspended', 10_000);
    await w1.stop();
    const second = await suite.client();
    await suite.worker(second, { workflows });
    await second.sendSignal(run.runId, 'resume', null);
    expect(await second.getRun(run.runId).result({ timeout: '20s' })).toEqual({ outcome: 'ScopeCancelledError', timeout: 'ScopeTimeoutError', after: 'after' });
    expect(W.countOf(`${run.runId}:in-scope`)).toBe(1);
    expect(W.countOf(`${run.runId}:never`)).toBe(0);
    const events = await second.getRun(run.runId).events();
    expect(types(events)).not.toContain('run_failed');
    // Each cancellation once: the replay found them in the log and wrote none again. (The two timers
    // may fire in one wake-up on a slow backend: then the earlier call's is recorded first.)
    expect(cancellations(events).map((f) => f.reason).sort()).toEqual(['replay me', 'withTimeout("300ms") timed out']);
  });

  it('fails a run whose changed code no longer cancels the scope its log shows cancelled, with NonDeterminismError', async () => {
    const { c, w } = await suite.setup({ workflows });
    S.cancelVersion.current = 1;
    try {
      const run = await c.start(S.changingCancel);
      await waitFor(async () => cancellations(await run.events()).length === 1 && (await run.status()) === 'suspended', 10_000);
      // "Deployed" while the run sleeps: a new worker's replay runs this code (the old one, stopped,
      // kept the sleeping execution in memory).
      S.cancelVersion.current = 2;
      await w.stop();
      await suite.worker(c, { workflows });
      const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as Error).cause as Error;
      expect(cause.name).toBe('NonDeterminismError');
      expect(cause.message).toContain('a cancel() of scope:1 (calls 2)');
      expect(cause.message).toContain('no cancel() of that scope at this point');
    } finally {
      S.cancelVersion.current = 1;
    }
  });
}
