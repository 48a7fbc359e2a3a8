/**
 * Workflows of the engine suite's child workflow tests: results, failures and parent-close policies.
 */
import { ChildDepthExceededError, FatalError, runChild, shield, sleep, startChild, startChildWith, workflow, type Workflow } from '@durably/core';
import { tick } from './basics-workflows.js';
import { cleanup } from './cancellation-workflows.js';

export const childWork = workflow('suite.child', async (n: number, fail: boolean) => {
  const v = await tick(n);
  if (fail) throw new FatalError(`child ${n} refused`);
  return v * 10;
}, { tags: ['suite-child'] });

export const parentWf = workflow('suite.parent', async (n: number) => {
  const a = await runChild(childWork, n, false);
  const handle = await startChild(childWork, n + 1, false);
  let failure: unknown;
  try {
    await runChild(childWork, n + 2, true);
  } catch (err) {
    failure = { name: (err as Error).name, cause: ((err as Error).cause as Error | undefined)?.message };
  }
  return { a, b: await handle.result(), failure, childId: handle.runId };
});

export const longChild = workflow('suite.long-child', async () => {
  try {
    await sleep(60_000);
    return 'woke';
  } finally {
    await shield(() => cleanup());
  }
});

export const leavingParent = workflow('suite.leaving-parent', async (policy: 'terminate' | 'request_cancel' | 'abandon') => {
  const child = await startChildWith(longChild, [], { parentClosePolicy: policy });
  await tick(1);
  return child.runId;
});

/** Nests itself until `levels` runs out or the depth limit refuses the next child, whose error it reports. */
export const nesting: Workflow<[levels: number], { reached: number; refused?: { name: string; depth: number; maxDepth: number } }> = workflow(
  'suite.nesting',
  async (levels: number): Promise<{ reached: number; refused?: { name: string; depth: number; maxDepth: number } }> => {
    if (levels === 0) return { reached: 0 };
    try {
      const below = await runChild(nesting, levels - 1);
      return { ...below, reached: below.reached + 1 };
    } catch (err) {
      if (!(err instanceof ChildDepthExceededError)) throw err;
      return { reached: 0, refused: { name: err.name, depth: err.depth, maxDepth: err.maxDepth } };
    }
  },
);

/** The workflows above that the suite's workers register. */
export const childrenWorkflows: Workflow<any[], any>[] = [childWork, parentWf, longChild, leavingParent, nesting];
