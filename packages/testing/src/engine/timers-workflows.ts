/**
 * Workflows of the engine suite's timer tests (sleeps themselves use `sleeper` of the basics).
 */
import { sleep, workflow, type Workflow } from '@durably/core';

export const timedWf = workflow('suite.timed', async () => {
  await sleep(60_000);
  return 'not reached';
}, { maxDuration: '400ms' });

/** The workflows above that the suite's workers register. */
export const timersWorkflows: Workflow<any[], any>[] = [timedWf];
