import { expect, it } from 'vitest';
import { CancelledError, deserialize, RunAlreadyFinishedError, UpdateFailedError, UpdateRejectedError, UpdateTimeoutError, type RunHandle } from '@durably/core';
import type { SuiteContext } from './context.js';
import { ofType, types } from './helpers.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, updates: the handler's answer (with a step in the handler), the caller's validator
 * refusing a payload (only the rejection is written), a retry with the same updateId (no second
 * delivery, the same answer), updates buffered until the handler is set, a handler that throws, a
 * run that ends with an update unanswered, a timeout, update-with-start both ways, and a run
 * resumed on another worker after updates.
 */
export function updateTests(suite: SuiteContext): void {
  const { client, worker, setup } = suite;

  const requests = async (run: RunHandle<unknown>) => ofType(await run.events(), 'update_requested');
  const answers = async (run: RunHandle<unknown>) => ofType(await run.events(), 'update_completed');

  it("resolves client.update with the handler's answer; the handler's step runs once per update", async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.ledger, 10, false);
    expect(await other.update(run.runId, W.addToLedger, 4, { timeout: '20s' })).toBe(4);
    expect(await other.update(run.runId, W.addToLedger, 6, { timeout: '20s' })).toBe(10);
    expect(await run.result({ timeout: '20s' })).toEqual({ total: 10, applied: [4, 6] });
    expect(W.countOf(`${run.runId}:entry:4`)).toBe(1);
    expect(W.countOf(`${run.runId}:entry:6`)).toBe(1);
    const done = await answers(run);
    expect(done.map((e) => e.data.name)).toEqual(['suite.upd.add', 'suite.upd.add']);
    const ids = (await requests(run)).map((e) => e.data.updateId);
    expect(done.map((e) => e.data.updateId)).toEqual(ids);
  });

  it('a payload the validator refuses writes only update_rejected and throws UpdateRejectedError; the run never sees it', async () => {
    const { c } = await setup();
    const run = await c.start(W.ledger, 5, false);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    const before = (await run.events()).length;
    const refused = await c.update(run.runId, W.addToLedger, -2).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UpdateRejectedError);
    expect((refused as UpdateRejectedError).reason).toBe('the amount must be a positive integer, got -2');
    // By name: the definition of that name in this process checks it alike.
    await expect(c.update(run.runId, 'suite.upd.add', 1.5)).rejects.toBeInstanceOf(UpdateRejectedError);
    const after = (await run.events()).slice(before);
    expect(types(after)).toEqual(['update_rejected', 'update_rejected']);
    expect(ofType(after, 'update_rejected')[0]!.data).toMatchObject({ name: 'suite.upd.add', reason: 'the amount must be a positive integer, got -2' });
    expect(await c.update(run.runId, W.addToLedger, 5)).toBe(5);
    expect(await run.result({ timeout: '20s' })).toEqual({ total: 5, applied: [5] });
  });

  it('a retried update with the same updateId is delivered once and gets the recorded answer', async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.ledger, 20, false);
    expect(await c.update(run.runId, W.addToLedger, 5, { updateId: 'order-7', timeout: '20s' })).toBe(5);
    expect(await other.update(run.runId, W.addToLedger, 5, { updateId: 'order-7', timeout: '20s' })).toBe(5);
    // Concurrent retries of a new one: still one delivery.
    const [a, b] = await Promise.all([c.update(run.runId, W.addToLedger, 7, { updateId: 'order-8' }), other.update(run.runId, W.addToLedger, 7, { updateId: 'order-8' })]);
    expect([a, b]).toEqual([12, 12]);
    expect((await requests(run)).map((e) => e.data.updateId)).toEqual(['order-7', 'order-8']);
    expect(W.countOf(`${run.runId}:entry:5`)).toBe(1);
    expect(W.countOf(`${run.runId}:entry:7`)).toBe(1);
    // A rejected one stays rejected, and is recorded once.
    await expect(c.update(run.runId, W.addToLedger, 0, { updateId: 'order-9' })).rejects.toBeInstanceOf(UpdateRejectedError);
    await expect(other.update(run.runId, W.addToLedger, 0, { updateId: 'order-9' })).rejects.toBeInstanceOf(UpdateRejectedError);
    expect(ofType(await run.events(), 'update_rejected')).toHaveLength(1);
    expect(await c.update(run.runId, W.addToLedger, 8)).toBe(20);
    await run.result({ timeout: '20s' });
    // After the run ended, the same id still gets its answer (from the log).
    expect(await other.update(run.runId, W.addToLedger, 5, { updateId: 'order-7' })).toBe(5);
  });

  it('buffers updates sent before the handler is set and handles them first, in arrival order', async () => {
    const { c } = await setup();
    const run = await c.start(W.ledger, 6, true);
    const first = c.update(run.runId, W.addToLedger, 1);
    await waitFor(async () => (await requests(run)).length === 1, 10_000);
    const second = c.update(run.runId, W.addToLedger, 2);
    await waitFor(async () => (await requests(run)).length === 2, 10_000);
    const third = c.update(run.runId, W.addToLedger, 3);
    await waitFor(async () => (await requests(run)).length === 3, 10_000);
    expect(await answers(run)).toHaveLength(0);
    await c.sendSignal(run.runId, 'upd-go', null);
    // Each handler started in arrival order (its step has the next position); they run concurrently,
    // so each answer is the total once its own entry was added.
    const answered = await Promise.all([first, second, third]);
    expect(Math.max(...answered)).toBe(6);
    answered.forEach((total, i) => expect(total).toBeGreaterThanOrEqual(i + 1));
    const { total, applied } = await run.result({ timeout: '20s' });
    expect(total).toBe(6);
    expect([...applied].sort()).toEqual([1, 2, 3]);
    const entries = ofType(await run.events(), 'step_started').sort((x, y) => Number(x.correlationId) - Number(y.correlationId));
    expect(entries.map((e) => e.data.name)).toEqual(Array(3).fill('suite.upd.entry'));
    expect(ofType(await run.events(), 'step_completed').sort((x, y) => Number(x.correlationId) - Number(y.correlationId)).map((e) => deserialize(e.data.result))).toEqual([1, 2, 3]);
  });

  it('a handler that throws fails the update with UpdateFailedError, and the run goes on', async () => {
    const { c } = await setup();
    const run = await c.start(W.ledger, 3, false);
    const failed = await c.update(run.runId, W.addToLedger, 13, { timeout: '20s' }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(UpdateFailedError);
    expect(((failed as UpdateFailedError).cause as Error).message).toBe('13 is not accepted in this ledger');
    expect(ofType(await run.events(), 'update_failed')).toHaveLength(1);
    expect(await run.status()).not.toBe('failed');
    expect(await c.update(run.runId, W.addToLedger, 3)).toBe(3);
    expect(await run.result({ timeout: '20s' })).toEqual({ total: 3, applied: [3] });
  });

  it('a run that ends before handling an update answers it with a failure; a timeout leaves it delivered', async () => {
    const { c } = await setup();
    const run = await c.start(W.noHandler);
    const timedOut = await c.update(run.runId, W.unhandled, 'hello', { updateId: 'u-1', timeout: '300ms' }).catch((err: unknown) => err);
    expect(timedOut).toBeInstanceOf(UpdateTimeoutError);
    expect((await requests(run)).map((e) => e.data.updateId)).toEqual(['u-1']);
    const waiting = c.update(run.runId, W.unhandled, 'hello', { updateId: 'u-1' }).catch((err: unknown) => err);
    await c.sendSignal(run.runId, 'upd-end', null);
    expect(await run.result({ timeout: '20s' })).toBe('ended');
    const failed = await waiting;
    expect(failed).toBeInstanceOf(UpdateFailedError);
    expect((failed as UpdateFailedError).message).toMatch(/before the workflow set a handler/);
    expect((await requests(run)).length).toBe(1);
    const events = await run.events();
    expect(types(events).slice(-2)).toEqual(['update_failed', 'run_completed']);
    await expect(c.update(run.runId, W.unhandled, 'late')).rejects.toBeInstanceOf(RunAlreadyFinishedError);
  });

  it('a cancelled run fails its unanswered update with the cancellation; an update to a run that continued as new reaches the run that continues it', async () => {
    const { c } = await setup();
    const sleeping = await c.start(W.updateSleeper);
    const pending = c.update(sleeping.runId, W.unhandled, 'x').catch((err: unknown) => err);
    await waitFor(async () => (await requests(sleeping)).length === 1, 10_000);
    await c.cancel(sleeping.runId, 'test over');
    const failed = await pending;
    expect(failed).toBeInstanceOf(UpdateFailedError);
    expect((failed as UpdateFailedError).cause).toBeInstanceOf(CancelledError);

    const first = await c.start(W.rounds, 1, 2);
    expect(await c.update(first.runId, W.whichRound, null, { timeout: '20s' })).toBe(1);
    await c.sendSignal(first.runId, 'upd-next', null);
    await waitFor(async () => (await first.status()) === 'continued', 10_000);
    // Sent to the first run's id: delivered to the second run, which answers.
    expect(await c.update(first.runId, W.whichRound, null, { updateId: 'which-1', timeout: '20s' })).toBe(2);
    expect(await requests(first)).toHaveLength(1);
    expect(await c.update(first.runId, W.whichRound, null, { updateId: 'which-1' })).toBe(2);
    const [second] = (await c.getRunChain(first.runId)).slice(1);
    expect((await requests(c.getRun(second!.runId))).map((e) => e.data.updateId)).toEqual(['which-1']);
    await c.sendSignal(first.runId, 'upd-next', null);
    expect(await first.result({ timeout: '20s' })).toBe(2);
  });

  it('update-with-start starts the run when no run has the key, and updates the run that has it', async () => {
    const { c } = await setup();
    const key = `cart-${Date.now()}-${Math.random()}`;
    const first = await c.updateWithStart(W.cart, ['ana'], { idempotencyKey: key, update: W.addItem, payload: 'apple', updateId: `${key}:1`, timeout: '20s' });
    expect(first.result).toBe(1);
    expect(first.run.created).toBe(true);
    const second = await c.updateWithStart(W.cart, ['ana'], { idempotencyKey: key, update: W.addItem, payload: 'pear', timeout: '20s' });
    expect(second.result).toBe(2);
    expect(second.run.runId).toBe(first.run.runId);
    expect(second.run.created).toBe(false);
    // The first call retried: no second run, no second delivery, the same answer.
    const retried = await c.updateWithStart(W.cart, ['ana'], { idempotencyKey: key, update: W.addItem, payload: 'apple', updateId: `${key}:1` });
    expect(retried.result).toBe(1);
    expect(retried.run.runId).toBe(first.run.runId);
    // A refused payload starts nothing.
    const otherKey = `${key}-refused`;
    await expect(c.updateWithStart(W.cart, ['bo'], { idempotencyKey: otherKey, update: W.addItem, payload: '' })).rejects.toBeInstanceOf(UpdateRejectedError);
    expect(await c.getRunByKey(W.cart, otherKey)).toBeUndefined();
    await c.update(first.run.runId, W.addItem, 'checkout');
    expect(await first.run.result({ timeout: '20s' })).toEqual({ owner: 'ana', items: ['apple', 'pear', 'checkout'] });
    expect((await requests(first.run)).length).toBe(3);
  });

  it('replays update handlers on another worker: recorded steps and answers are not repeated', async () => {
    const a = await client();
    const first = await worker(a);
    const run = await a.start(W.ledger, 9, false);
    expect(await a.update(run.runId, W.addToLedger, 2, { timeout: '20s' })).toBe(2);
    expect(await a.update(run.runId, W.addToLedger, 3, { timeout: '20s' })).toBe(5);
    await first.stop();
    const b = await client();
    await worker(b);
    expect(await b.update(run.runId, W.addToLedger, 4, { timeout: '20s' })).toBe(9);
    expect(await run.result({ timeout: '20s' })).toEqual({ total: 9, applied: [2, 3, 4] });
    for (const n of [2, 3, 4]) expect(W.countOf(`${run.runId}:entry:${n}`)).toBe(1);
    const done = await answers(run);
    expect(done.map((e) => e.data.updateId)).toEqual((await requests(run)).map((e) => e.data.updateId));
    expect(done.map((e) => e.data.result)).toHaveLength(3);
  });
}
