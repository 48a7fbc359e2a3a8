import { expect, it } from 'vitest';
import { ArgumentValidationError, HookAlreadyUsedError, QueryFailedError, QueryNotRegisteredError, SerializationError, HookExpiredError, HookNotFoundError, HookPayloadInvalidError, RunAlreadyFinishedError, type DurablyEvent } from '@durably/core';
import type { SuiteContext } from './context.js';
import { types } from './helpers.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, hooks and signals: resumeHook and its errors, hook timeouts, buffered signals,
 * queries, step hooks, and patched() for code that changes under a run.
 */
export function hookTests(suite: SuiteContext): void {
  const { client, setup } = suite;

  it('suspends on a hook until resumeHook from another client; wrong, invalid and used tokens are typed errors that change nothing', async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.expense, 60_000);
    await waitFor(() => W.issuedTokens.has(run.runId), 10_000);
    const token = W.issuedTokens.get(run.runId)!;
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16); // >= 128 bits
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    const before = (await run.events()).length;
    await expect(other.resumeHook('not-a-token', { approved: true, by: 'ana' })).rejects.toBeInstanceOf(HookNotFoundError);
    const invalid = await other.resumeHook(token, { approved: 'yes', by: '' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(HookPayloadInvalidError);
    expect((invalid as Error).message).toContain('approved');
    expect((await run.events()).length).toBe(before);
    expect(await other.resumeHook(token, { approved: true, by: 'ana' })).toEqual({ runId: run.runId });
    expect(await run.result({ timeout: '20s' })).toEqual({ decision: { approved: true, by: 'ana' } });
    // The resumed hook's timeout timer went with the run's appends (it used to stay until it fired).
    expect(await c.storage.listTimers(run.runId)).toEqual([]);
    await expect(other.resumeHook(token, { approved: false, by: 'bob' })).rejects.toBeInstanceOf(HookAlreadyUsedError);
    const events = await run.events();
    expect(events.filter((e) => e.type === 'hook_received')).toHaveLength(1);
    const created = events.find((e) => e.type === 'hook_created') as Extract<DurablyEvent, { type: 'hook_created' }>;
    expect(created.data).toMatchObject({ name: 'suite.approval', token });
  });

  it('times a hook out: the workflow sees HookTimeoutError and the token is expired', async () => {
    const { c } = await setup();
    const run = await c.start(W.expense, 200);
    expect(await run.result({ timeout: '20s' })).toEqual({ error: 'HookTimeoutError' });
    const token = W.issuedTokens.get(run.runId)!;
    await expect(c.resumeHook(token, { approved: true, by: 'late' })).rejects.toBeInstanceOf(HookExpiredError);
    expect(types(await run.events())).toContain('hook_timed_out');
  });

  it('buffers signals sent before the wait and delivers each once, in order; a wait can time out', async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.collector, 3, 300);
    await other.sendSignal(run.runId, 'item', { n: 1 });
    await other.sendSignal(run.runId, 'item', { n: 2 });
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    await other.sendSignal(run.runId, 'item', { n: 3 });
    await other.sendSignal(run.runId, 'unrelated', 'ignored');
    expect(await run.result({ timeout: '20s' })).toEqual({ got: [{ n: 1 }, { n: 2 }, { n: 3 }], late: 'SignalTimeoutError' });
    const events = await run.events();
    expect(events.filter((e) => e.type === 'signal_received')).toHaveLength(4);
    await expect(other.sendSignal(run.runId, 'item', 4)).rejects.toBeInstanceOf(RunAlreadyFinishedError);
  });

  it('replays the old path of a run started before patched() was added, and takes the new path in new runs', async () => {
    const { c } = await setup();
    W.versioned.patched = false;
    try {
      const old = await c.start(W.patchedWf);
      // Let the old code record its step, then deploy the patched code while the run sleeps.
      await waitFor(async () => (await old.events()).filter((e) => e.type === 'sleep_started').length === 2, 10_000);
      W.versioned.patched = true;
      const fresh = await c.start(W.patchedWf);
      expect(await old.result({ timeout: '20s' })).toBe('old');
      expect(await fresh.result({ timeout: '20s' })).toBe('new');
      expect(types(await fresh.events())).toContain('patch_marker');
      expect(types(await old.events())).not.toContain('patch_marker');
    } finally {
      W.versioned.patched = false;
    }
  });

  it('answers a query from the run\'s log without changing it', async () => {
    const { c } = await setup();
    const run = await c.start(W.queried, 3);
    await c.sendSignal(run.runId, 'q-item', 1);
    await c.sendSignal(run.runId, 'q-item', 2);
    await waitFor(async () => (await run.status()) === 'suspended' && (await run.events()).filter((e) => e.type === 'signal_received').length === 2, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    const before = await run.events();
    expect(await c.query(W.queried, run.runId, W.progressQuery)).toEqual({ received: 2 });
    expect(await run.events()).toEqual(before);
    await c.sendSignal(run.runId, 'q-item', 3);
    expect(await run.result({ timeout: '20s' })).toBe(3);
    expect(await c.query(W.queried, run.runId, W.progressQuery)).toEqual({ received: 3 });
  });

  it('answers a query with arguments on another client from the log; bad arguments, a throwing handler and an unset query are typed errors that write nothing', async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.queried, 2);
    await c.sendSignal(run.runId, 'q-item', { sku: 'a-1' });
    await waitFor(async () => (await run.status()) === 'suspended' && (await run.events()).filter((e) => e.type === 'signal_received').length === 1, 10_000);
    const before = await run.events();
    expect(await other.query(W.queried, run.runId, W.itemQuery, 0)).toEqual({ sku: 'a-1' });
    expect(await other.query(W.queried, run.runId, W.itemQuery, 1)).toBeNull();
    await expect(other.query(W.queried, run.runId, W.itemQuery, -1)).rejects.toBeInstanceOf(ArgumentValidationError);
    const failed = await other.query(W.queried, run.runId, W.failingQuery, 'no such item').catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(QueryFailedError);
    expect(((failed as QueryFailedError).cause as Error).message).toBe('no such item');
    const unset = await other.query(W.queried, run.runId, W.unansweredQuery).catch((err: unknown) => err);
    expect(unset).toBeInstanceOf(QueryNotRegisteredError);
    expect((unset as QueryNotRegisteredError).registered).toEqual(['suite.progress', 'suite.item', 'suite.failing']);
    await expect(other.query(W.queried, run.runId, W.itemQuery, (() => 0) as unknown as number)).rejects.toBeInstanceOf(SerializationError);
    expect(await run.events()).toEqual(before);
    await c.sendSignal(run.runId, 'q-item', { sku: 'b-2' });
    expect(await run.result({ timeout: '20s' })).toBe(2);
    expect(await other.query(W.queried, run.runId, W.itemQuery, 1)).toEqual({ sku: 'b-2' });
  });

  it('suspends a step on stepHook; after resumeHook the step runs again from the top and gets the payload', async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.reviewWf, 'doc-1', 60_000);
    await waitFor(() => W.stepHookTokens.has(run.runId), 10_000);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    const token = W.stepHookTokens.get(run.runId)!;
    await expect(other.resumeHook(token, { ok: 'yes' })).rejects.toBeInstanceOf(HookPayloadInvalidError);
    await other.resumeHook(token, { ok: true });
    expect(await run.result({ timeout: '20s' })).toBe('doc-1: approved');
    expect(W.countOf(`${run.runId}:reviewed`)).toBe(2);
    const types = (await run.events()).map((e) => e.type);
    expect(types.filter((t) => t === 'step_completed')).toHaveLength(1);
    expect(types).toEqual(expect.arrayContaining(['hook_created', 'hook_received']));
    await expect(other.resumeHook(token, { ok: false })).rejects.toBeInstanceOf(HookAlreadyUsedError);

    const late = await c.start(W.reviewWf, 'doc-2', 200);
    expect(await late.result({ timeout: '20s' })).toBe('doc-2: HookTimeoutError');
  });
}
