import { expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, child workflows: results, failures and the parent-close policies.
 */
export function childTests(suite: SuiteContext): void {
  const { client, setup } = suite;

  it('runs child workflows: results, a typed failure the parent catches, and children listed under the parent', async () => {
    const { c } = await setup();
    const run = await c.start(W.parentWf, 1);
    const result = (await run.result({ timeout: '30s' })) as { a: number; b: number; failure: { name: string; cause: string }; childId: string };
    expect(result.a).toBe(20);
    expect(result.b).toBe(30);
    expect(result.failure).toEqual({ name: 'ChildWorkflowFailedError', cause: 'child 3 refused' });
    const children = await c.listRuns({ parentRunId: run.runId });
    expect(children.runs).toHaveLength(3);
    expect(children.runs.map((r) => r.status).sort()).toEqual(['completed', 'completed', 'failed']);
    expect(children.runs.map((r) => r.runId)).toContain(result.childId);
    // A child run carries its workflow's tags, as a start() of it would.
    expect(children.runs.map((r) => r.tags)).toEqual([['suite-child'], ['suite-child'], ['suite-child']]);
    expect((await run.events()).filter((e) => e.type === 'child_started')).toHaveLength(3);
  });

  it('applies the parent-close policy to children still running when the parent ends', async () => {
    const { c } = await setup();
    const outcome = async (policy: 'terminate' | 'request_cancel' | 'abandon') => {
      const parent = await c.start(W.leavingParent, policy);
      const childId = (await parent.result({ timeout: '20s' })) as string;
      const child = c.getRun(childId);
      if (policy !== 'abandon') await waitFor(async () => (await child.status()) === 'cancelled', 10_000);
      else await waitFor(async () => (await child.status()) === 'suspended', 10_000);
      return { child, childId };
    };
    const terminated = await outcome('terminate');
    expect(W.countOf(`${terminated.childId}:cleanup`)).toBe(0); // terminated: no cleanup ran
    const requested = await outcome('request_cancel');
    await waitFor(() => W.countOf(`${requested.childId}:cleanup`) === 1, 10_000); // cancelled: its finally ran
    const abandoned = await outcome('abandon');
    expect(await abandoned.child.status()).toBe('suspended');
    await abandoned.child.cancel('test over');
  });

  it('refuses a child deeper than limits.maxChildDepth of the client that started the family with ChildDepthExceededError, recorded with each run', async () => {
    const { c } = await setup();
    const strict = await client(undefined, { maxChildDepth: 2 });
    const run = await strict.start(W.nesting, 5);
    expect(await run.result({ timeout: '30s' })).toEqual({ reached: 2, refused: { name: 'ChildDepthExceededError', depth: 3, maxDepth: 2 } });
    const [child] = (await c.listRuns({ parentRunId: run.runId })).runs;
    const first = (await c.getRun(child.runId).events())[0];
    expect(first.type === 'run_created' && first.data.nesting).toEqual({ depth: 1, maxDepth: 2 });
    expect(await (await c.start(W.nesting, 3)).result({ timeout: '30s' })).toEqual({ reached: 3 });
  });
}
