/**
 * Workflows started by the engine suite's schedules.
 */
import { context, sleep, workflow, type WorkflowContext, type Workflow } from '@durably/core';

export const scheduledJob = workflow('suite.scheduled', async (label: string, ms: number) => {
  if (ms > 0) await sleep(ms);
  return label;
});

export const stampedJob = workflow('suite.stamped', async (ms: number) => {
  if (ms > 0) await sleep(ms);
  const ctx = context() as WorkflowContext;
  return { scheduledAt: ctx.scheduledAt?.getTime(), scheduleId: ctx.scheduleId };
});

export const declaredJob = workflow('suite.declared', async () => 'tick', { schedule: { every: '150ms', overlap: 'allow_all' } });

/** The workflows above that the suite's workers register. */
export const schedulesWorkflows: Workflow<any[], any>[] = [scheduledJob, stampedJob];
