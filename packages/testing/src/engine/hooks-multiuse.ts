import { expect, it } from 'vitest';
import { HookAlreadyUsedError, HookExpiredError, HookNotFoundError, HookPayloadInvalidError, hookIndexKey, type AppendRequest, type DurablyEvent, type Storage } from '@durably/core';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, multi-use hooks (payloads in order, buffered, close, timeout, replay, racing resumes)
 * and the hook index (keyed by a hash of the token; entries of the previous release, keyed by the
 * raw token, still work).
 */
export function multiUseHookTests(suite: SuiteContext): void {
  const { client, setup, worker } = suite;

  async function started(run: { runId: string; status(): Promise<string> }): Promise<string> {
    await waitFor(() => W.issuedTokens.has(run.runId), 10_000);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    return W.issuedTokens.get(run.runId)!;
  }

  const received = async (run: { events(): Promise<DurablyEvent[]> }) => (await run.events()).filter((e) => e.type === 'hook_received').length;

  it('a multi-use hook takes three resumes in order, each checked by the schema; after the workflow closes it, resumeHook fails with HookAlreadyUsedError', async () => {
    const { c } = await setup();
    const other = await client();
    const run = await c.start(W.tally, 3, 0);
    const token = await started(run);
    expect(token.startsWith('m')).toBe(true);
    await expect(other.resumeHook(token, { n: 'one' })).rejects.toBeInstanceOf(HookPayloadInvalidError);
    for (const n of [1, 2, 3]) {
      expect(await other.resumeHook(token, { n })).toEqual({ runId: run.runId });
      await waitFor(async () => (await received(run)) === n, 10_000);
    }
    expect(await run.result({ timeout: '20s' })).toEqual({ seen: [{ n: 1 }, { n: 2 }, { n: 3 }], after: { done: true } });
    const refused = await other.resumeHook(token, { n: 4 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HookAlreadyUsedError);
    expect((refused as HookAlreadyUsedError).closed).toBe(true);
    const events = await run.events();
    expect(events.filter((e) => e.type === 'hook_received')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'hook_closed')).toHaveLength(1);
    expect(events.find((e) => e.type === 'hook_created')?.data).toMatchObject({ name: 'suite.votes', token, multiUse: true });
    expect(await c.storage.getHook(hookIndexKey(token))).toMatchObject({ runId: run.runId, consumedAt: expect.any(Number) });
    // A replay in another process (a query replays the log) hands the code the same payloads.
    expect(await other.query(W.tally, run.runId, W.votesSeen)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('keeps the payloads of resumes that arrive while the workflow does not wait, in order', async () => {
    const { c } = await setup();
    const run = await c.start(W.tally, 3, 400);
    await waitFor(() => W.issuedTokens.has(run.runId), 10_000);
    const token = W.issuedTokens.get(run.runId)!;
    for (const n of [1, 2, 3]) await c.resumeHook(token, { n });
    expect(await run.result({ timeout: '20s' })).toEqual({ seen: [{ n: 1 }, { n: 2 }, { n: 3 }], after: { done: true } });
    const events = await run.events();
    const firstPayload = events.findIndex((e) => e.type === 'hook_received');
    expect(firstPayload).toBeLessThan(events.findIndex((e) => e.type === 'sleep_completed'));
  });

  it('times a multi-use hook out: the payloads before the timeout come first, then HookTimeoutError; the token is expired', async () => {
    const { c } = await setup();
    const run = await c.start(W.tally, 5, 0, 1_500);
    const token = await started(run);
    await c.resumeHook(token, { n: 1 });
    await c.resumeHook(token, { n: 2 });
    expect(await run.result({ timeout: '20s' })).toEqual({ seen: [{ n: 1 }, { n: 2 }], error: 'HookTimeoutError' });
    await expect(c.resumeHook(token, { n: 3 })).rejects.toBeInstanceOf(HookExpiredError);
    expect((await run.events()).map((e) => e.type)).toContain('hook_timed_out');
    expect(await c.storage.listTimers(run.runId)).toEqual([]);
  });

  it('a fresh worker replays a multi-use hook with the payloads the first one delivered, and takes the next', async () => {
    const { c, w } = await setup();
    const run = await c.start(W.tally, 3, 0);
    const token = await started(run);
    await c.resumeHook(token, { n: 1 });
    await c.resumeHook(token, { n: 2 });
    await waitFor(async () => (await c.query(W.tally, run.runId, W.votesSeen)).length === 2, 10_000);
    await w.stop();
    const fresh = await client();
    await worker(fresh);
    await fresh.resumeHook(token, { n: 3 });
    expect(await run.result({ timeout: '20s' })).toEqual({ seen: [{ n: 1 }, { n: 2 }, { n: 3 }], after: { done: true } });
  });

  it('records both of two resumes of a multi-use hook made at once, none lost', async () => {
    const { c } = await setup();
    const [a, b] = [await client(), await client()];
    const run = await c.start(W.tally, 2, 0);
    const token = await started(run);
    await Promise.all([a.resumeHook(token, { n: 1 }), b.resumeHook(token, { n: 2 })]);
    const result = (await run.result({ timeout: '20s' })) as { seen: Array<{ n: number }> };
    expect(result.seen.map((v) => v.n).sort()).toEqual([1, 2]);
    expect(await received(run)).toBe(2);
  });

  it('indexes hooks by a hash of the token: the index never holds a token, and reading it gives nothing that resumes a hook', async () => {
    const { c } = await setup();
    const run = await c.start(W.expense, 60_000);
    const token = await started(run);
    const key = hookIndexKey(token);
    expect(await c.storage.getHook(token)).toBeUndefined();
    const entry = await c.storage.getHook(key);
    expect(entry).toMatchObject({ token: key, runId: run.runId, name: 'suite.approval' });
    expect(JSON.stringify(entry)).not.toContain(token);
    // What the index holds does not resume the hook.
    await expect(c.resumeHook(key, { approved: true, by: 'eve' })).rejects.toBeInstanceOf(HookNotFoundError);
    await c.resumeHook(token, { approved: true, by: 'ana' });
    expect(await run.result({ timeout: '20s' })).toEqual({ decision: { approved: true, by: 'ana' } });
    expect(await c.storage.getHook(key)).toMatchObject({ consumedAt: expect.any(Number) });

    const review = await c.start(W.reviewWf, 'doc-3', 60_000);
    await waitFor(() => W.stepHookTokens.has(review.runId), 10_000);
    const stepToken = W.stepHookTokens.get(review.runId)!;
    await waitFor(async () => (await c.storage.getHook(hookIndexKey(stepToken))) !== undefined, 10_000);
    expect(await c.storage.getHook(stepToken)).toBeUndefined();
    await c.resumeHook(stepToken, { ok: true });
    expect(await review.result({ timeout: '20s' })).toBe('doc-3: approved');
  });

  it('resumes a hook whose index entry the previous release wrote under the raw token, once', async () => {
    // A worker whose storage writes index entries as 0.1.0 did: keyed by the token itself.
    const legacy = await client(undefined, undefined, rawTokenIndex);
    await worker(legacy);
    const run = await legacy.start(W.expense, 60_000);
    const token = await started(run);
    expect(await legacy.storage.getHook(token)).toMatchObject({ token, runId: run.runId });
    const current = await client();
    expect(await current.resumeHook(token, { approved: false, by: 'bob' })).toEqual({ runId: run.runId });
    expect(await run.result({ timeout: '20s' })).toEqual({ decision: { approved: false, by: 'bob' } });
    await expect(current.resumeHook(token, { approved: true, by: 'bob' })).rejects.toBeInstanceOf(HookAlreadyUsedError);
  });
}

/** Storage as 0.1.0 wrote the hook index: an entry made with a hook_created is keyed by its raw token. */
function rawTokenIndex(storage: Storage): Storage {
  return new Proxy(storage, {
    get(target, prop, receiver) {
      if (prop !== 'append') return Reflect.get(target, prop, receiver);
      return (request: AppendRequest) => {
        const raw = new Map<string, string>();
        for (const ev of request.events) if (ev.type === 'hook_created') raw.set(hookIndexKey(ev.data.token), ev.data.token);
        const setHooks = request.setHooks?.map((h) => (raw.has(h.token) ? { ...h, token: raw.get(h.token)! } : h));
        return target.append(setHooks ? { ...request, setHooks } : request);
      };
    },
  });
}
