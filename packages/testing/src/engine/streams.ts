import { expect, it } from 'vitest';
import { emit, inspectStream, scheduleSignal, startStream, STREAM_WORKFLOW, StreamRunNotFoundError, type StreamOutcome } from '@durably/core';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, streams: a planner and its workers, delayed stream signals, and a stream run that
 * continues as new.
 */
export function streamTests(suite: SuiteContext): void {
  const { client, setup } = suite;

  it('runs a stream: workers report to a planner that waits for approval; runStream returns on suspension and on completion', async () => {
    const { c } = await setup();
    const other = await client();
    const a = `plan-a-${crypto.randomUUID().slice(0, 8)}`;
    const b = `plan-b-${crypto.randomUUID().slice(0, 8)}`;
    const runA = await c.start(W.planWorkflow, a, ['alpha', 'beta', 'gamma']);
    const runB = await c.start(W.planWorkflow, b, ['delta']);
    // inspectStream reads a stream run's state from its log, from any client.
    const suspended = async (id: string) => (await inspectStream(W.planStream, { streamRunId: id, client: other }))?.status === 'suspended';
    // ...and the workflows have their first outcome (an approval before that would let the stream
    // complete before the first runStream looked, which it would then report instead).
    const firstOutcome = async (run: typeof runA) => (await run.events()).some((e) => e.type === 'signal_received' && e.data.name.startsWith('durably.stream.outcome:'));
    await waitFor(async () => (await suspended(a)) && (await firstOutcome(runA)), 20_000);
    await waitFor(async () => (await suspended(b)) && (await firstOutcome(runB)), 20_000);
    const snapshot = (await inspectStream(W.planStream, { streamRunId: a, client: other }))!;
    expect(snapshot.steps.planner.status).toBe('suspended');
    expect(snapshot.steps.worker.status).toBe('active');
    expect(await inspectStream(W.planStream, { streamRunId: `missing-${a}`, client: other })).toBeUndefined();
    // A payload that fails the schema is acknowledged, recorded and skipped.
    await emit(W.planStream, 'approval', { approved: 'yes' }, { streamRunId: a, client: other });
    await emit(W.planStream, 'approval', { approved: true }, { streamRunId: a, client: other });
    await emit(W.planStream, 'approval', { approved: false }, { streamRunId: b, client: other });
    const resultA = (await runA.result({ timeout: '30s' })) as { first: StreamOutcome; second: StreamOutcome };
    expect(resultA.first.status).toBe('suspended');
    expect(resultA.first.steps.planner.status).toBe('suspended');
    expect((resultA.first.steps.planner.state as { answers: string[] }).answers.sort()).toEqual(['ALPHA', 'BETA', 'GAMMA']);
    expect(resultA.second.status).toBe('completed');
    expect(resultA.second.steps.planner).toMatchObject({ status: 'completed', result: { approved: ['ALPHA', 'BETA', 'GAMMA'] } });
    expect(resultA.second.steps.worker).toMatchObject({ status: 'terminated', reason: 'planner finished' });
    expect(resultA.second.rejected).toHaveLength(1);
    expect(resultA.second.rejected[0]).toMatchObject({ type: 'approval' });
    expect(resultA.second.rejected[0].reason).toMatch(/approved/);
    // plan + 3 assigned + 3 done + 2 approvals + shutdown: numbered 1..10 in one sequence.
    expect(resultA.second.seq).toBe(10);
    const resultB = (await runB.result({ timeout: '30s' })) as { first: StreamOutcome; second: StreamOutcome };
    expect(resultB.second.steps.planner).toMatchObject({ status: 'terminated', reason: 'rejected', state: { answers: ['DELTA'] } });
    expect(resultB.second.seq).toBe(5);
    // Two stream runs never see each other's signals. Each task's result is recorded once (the
    // answers above); a handler body may run again when a signal lands during its step (at least once).
    for (const t of ['alpha', 'beta', 'gamma']) expect(W.countOf(`stream:${a}:work:${t}`)).toBeGreaterThanOrEqual(1);
    expect(W.countOf(`stream:${b}:work:delta`)).toBeGreaterThanOrEqual(1);
    expect(W.countOf(`stream:${b}:work:alpha`)).toBe(0);
    expect(W.countOf(`stream:${a}:work:delta`)).toBe(0);
    await expect(emit(W.planStream, 'approval', { approved: true }, { streamRunId: `missing-${a}`, client: other })).rejects.toBeInstanceOf(StreamRunNotFoundError);
  });

  it('delivers scheduled stream signals after their delay, from a handler and from a client; a failing handler fails only its step', async () => {
    const { c } = await setup();
    const other = await client();
    const id = `timers-${crypto.randomUUID().slice(0, 8)}`;
    await startStream(W.timerStream, { streamRunId: id, input: { delayMs: 300 }, client: other });
    const began = Date.now();
    await scheduleSignal(W.timerStream, 'tock', { from: 'client' }, { delay: '500ms', streamRunId: id, client: other });
    const run = await c.start(W.timerWorkflow, id, 300);
    const outcome = (await run.result({ timeout: '30s' })) as StreamOutcome;
    expect(Date.now() - began).toBeGreaterThanOrEqual(450);
    expect(outcome.status).toBe('completed');
    // Both delayed signals arrive, after their delays; which of the two comes first depends on when the
    // stream run's body scheduled its own (300 ms after it ran), so the order is not asserted.
    expect([...(outcome.steps.clock.result as string[])].sort()).toEqual(['tick:', 'tock:body', 'tock:client']);
    expect(outcome.steps.fragile.status).toBe('failed');
    expect(outcome.steps.fragile.reason).toMatch(/always fails/);
  });

  it('keeps a long stream run history bounded: it continues as new with its state and loses no signal', async () => {
    const { c } = await setup();
    const other = await client();
    const id = `counter-${crypto.randomUUID().slice(0, 8)}`;
    const run = await c.start(W.counterWorkflow, id);
    await waitFor(async () => (await other.listRuns({ workflow: STREAM_WORKFLOW, tags: [`stream:suite.counter/${id}`] })).runs.length === 1, 10_000);
    for (let n = 1; n <= 10; n++) await emit(W.counterStream, 'add', n, { streamRunId: id, client: other });
    const outcome = (await run.result({ timeout: '30s' })) as StreamOutcome;
    expect(outcome.steps.sum).toMatchObject({ status: 'completed', result: 55, handled: 10 });
    expect(outcome.seq).toBe(10);
    const first = (await other.listRuns({ workflow: STREAM_WORKFLOW, tags: [`stream:suite.counter/${id}`] })).runs[0];
    const chain = await other.getRunChain(first.runId);
    expect(chain.length).toBeGreaterThanOrEqual(3);
    // The last stream run tells its watcher the outcome, then records its own end: wait for that.
    await waitFor(async () => (await other.getRunChain(first.runId)).at(-1)!.status === 'completed', 10_000);
  });
}
