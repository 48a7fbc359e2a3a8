/**
 * Workflows of the engine suite's search attribute tests: attributes set before and after a wait,
 * and a run whose code changes the attributes it sets between executions.
 */
import { setAttributes, sleep, waitForSignal, workflow, type Workflow } from '@durably/core';
import { tick } from './basics-workflows.js';

/** Sets attributes, waits for a signal, then changes one, removes one and adds one. */
export const attributed = workflow('suite.attributed', async (customer: string, amount: number): Promise<string> => {
  setAttributes({ customer, amount, stage: 'waiting' });
  const plan = await waitForSignal<string>('pay');
  await tick(1);
  setAttributes({ stage: 'paid', amount: null, vip: plan === 'gold' });
  return plan;
});

/** What `drifting` sets as its stage: changed by the test between executions. */
export const attributeCode = { stage: 'one' };

/** Sets an attribute from mutable code, then sleeps: a replay after the change sets another one. */
export const drifting = workflow('suite.attributes-drifting', async (customer: string): Promise<void> => {
  setAttributes({ customer, stage: attributeCode.stage });
  await sleep('300ms');
});

/** The workflows above that the suite's workers register. */
export const attributesWorkflows: Workflow<any[], any>[] = [attributed, drifting];
