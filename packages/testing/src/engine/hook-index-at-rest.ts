import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker, hookIndexKey } from '@durably/core';
import type { EngineHarness } from './suite.js';
import { allWorkflows } from './workflows.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/** An engine harness that can also read its backend's hook index around the storage API. */
export interface HookIndexHarness extends EngineHarness {
  /** Every entry of the hook index as the backend holds it (rows, keys and values, as text). */
  readHookIndex(): Promise<string[]>;
}

/**
 * The hook index at rest: with a single-use, a multi-use and a step hook waiting, and again once they
 * were resumed, the backend's own rows (or keys) of the index hold the hashes of their tokens and
 * never a token, so whoever reads them cannot resume a hook. Each adapter runs it with a reader of
 * its raw index (a SQL query, a key scan).
 */
export function hookIndexAtRestTest(name: string, createHarness: () => Promise<HookIndexHarness>): void {
  describe(`hook index at rest: ${name}`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    it('keeps the hash of each token in the backend\'s hook index, never the token', async () => {
      const harness = await createHarness();
      const { storage, broker } = await harness.connect();
      const c = new Client({ storage, broker });
      const w = new Worker(c, { workflows: allWorkflows, timerSweepInterval: '100ms' });
      cleanup = async () => {
        await w.stop();
        await c.close();
        await harness.cleanup?.();
      };
      await w.start();
      const single = await c.start(W.expense, 60_000);
      const multi = await c.start(W.tally, 1, 0);
      const review = await c.start(W.reviewWf, 'doc-at-rest', 60_000);
      await waitFor(() => W.issuedTokens.has(single.runId) && W.issuedTokens.has(multi.runId) && W.stepHookTokens.has(review.runId), 10_000);
      const tokens = [W.issuedTokens.get(single.runId)!, W.issuedTokens.get(multi.runId)!, W.stepHookTokens.get(review.runId)!];
      await waitFor(async () => (await Promise.all(tokens.map((t) => c.storage.getHook(hookIndexKey(t))))).every((h) => h !== undefined), 10_000);

      const check = async () => {
        const rows = (await harness.readHookIndex()).join('\n');
        for (const token of tokens) {
          expect(rows).not.toContain(token);
          expect(rows).toContain(hookIndexKey(token));
        }
      };
      await check();
      await c.resumeHook(tokens[0]!, { approved: true, by: 'ana' });
      await c.resumeHook(tokens[1]!, { n: 1 });
      await c.resumeHook(tokens[2]!, { ok: true });
      expect(await single.result({ timeout: '20s' })).toEqual({ decision: { approved: true, by: 'ana' } });
      expect(await multi.result({ timeout: '20s' })).toMatchObject({ seen: [{ n: 1 }] });
      expect(await review.result({ timeout: '20s' })).toBe('doc-at-rest: approved');
      // Spent entries (resumed, closed) are rewritten under the same key.
      await check();
    });
  });
}
