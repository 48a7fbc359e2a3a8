/**
 * Workflows of the engine suite's continue-as-new tests: a loop and a signal relay that run as chains.
 */
import { continueAsNew, waitForSignal, workflow, type Workflow } from '@durably/core';
import { tick } from './basics-workflows.js';

export const looping = workflow('suite.looping', async (i: number, until: number): Promise<number> => {
  const next = await tick(i);
  if (next < until) return continueAsNew(next, until);
  return next;
});

/** Takes one signal per run and continues as new: signals sent meanwhile must follow the chain. */
export const relay = workflow('suite.relay', async (seen: number[], total: number): Promise<number[]> => {
  const next = [...seen, await waitForSignal<number>('item')];
  if (next.length < total) return continueAsNew(next, total);
  return next;
});

/** The workflows above that the suite's workers register. */
export const continueAsNewWorkflows: Workflow<any[], any>[] = [looping, relay];
