/**
 * Streams of the engine suite: a planner that waits for N workers' results and a human approval,
 * delayed signals, and a counter that continues as new.
 */
import { z } from 'zod';
import { defineStream, runStream, streamStep, FatalError, workflow, type Workflow } from '@durably/core';
import { bump } from './effects.js';

export const planStream = defineStream(
  'suite.plan',
  (input: { tasks: string[] }, s) => {
    s.emit('plan', { expected: input.tasks.length });
    for (const task of input.tasks) s.emit('task.assigned', { task });
  },
  {
    schemas: {
      'task.done': z.object({ task: z.string(), answer: z.string() }),
      approval: z.object({ approved: z.boolean() }),
    },
  },
);

streamStep(planStream, { name: 'worker', signals: ['task.assigned', 'shutdown'] }, async (signal, ctx) => {
  if (signal.type === 'shutdown') return ctx.terminate('planner finished');
  const { task } = signal.payload as { task: string };
  bump(`stream:${ctx.streamRunId}:work:${task}`);
  ctx.emit('task.done', { task, answer: task.toUpperCase() });
});

interface PlannerState {
  expected: number;
  answers: string[];
}

streamStep(planStream, { name: 'planner', signals: ['plan', 'task.done', 'approval'], initialState: { expected: -1, answers: [] } as PlannerState }, (signal, ctx) => {
  const state = { ...ctx.state, answers: [...ctx.state.answers] };
  if (signal.type === 'plan') state.expected = (signal.payload as { expected: number }).expected;
  if (signal.type === 'task.done') state.answers.push((signal.payload as { answer: string }).answer);
  if (signal.type === 'approval') {
    ctx.emit('shutdown');
    return (signal.payload as { approved: boolean }).approved ? ctx.complete({ approved: state.answers.sort() }, state) : ctx.terminate('rejected', state);
  }
  // Every result in: wait for a human.
  if (state.expected >= 0 && state.answers.length === state.expected) return ctx.suspend(state);
  return ctx.resume(state);
});

export const planWorkflow = workflow('suite.plan-wf', async (streamRunId: string, tasks: string[]) => {
  const first = await runStream(planStream, { streamRunId, input: { tasks } });
  const second = await runStream(planStream, { streamRunId });
  return { first, second };
});

/** Delayed signals: one scheduled by a handler, one by a client. */
export const timerStream = defineStream('suite.timers', (input: { delayMs: number }, s) => {
  s.emit('tick', { at: 0 });
  if (input.delayMs > 0) s.emit('tock', { from: 'body' }, { delay: input.delayMs });
});

streamStep(timerStream, { name: 'clock', signals: ['tick', 'tock'], initialState: [] as string[] }, (signal, ctx) => {
  const seen = [...ctx.state, `${signal.type}:${(signal.payload as { from?: string }).from ?? ''}`];
  return seen.length === 3 ? ctx.complete(seen, seen) : ctx.resume(seen);
});

streamStep(timerStream, { name: 'fragile', signals: ['tick'], retries: 0 }, () => {
  throw new FatalError('this handler always fails');
});

export const timerWorkflow = workflow('suite.timers-wf', async (streamRunId: string, delayMs: number) => runStream(timerStream, { streamRunId, input: { delayMs } }));

/** A counter stream that continues as new every 4 signals. */
export const counterStream = defineStream('suite.counter', undefined, { signalsPerRun: 4 });

streamStep(counterStream, { name: 'sum', signals: ['add'], initialState: 0 }, (signal, ctx) => {
  const total = ctx.state + (signal.payload as number);
  return total >= 55 ? ctx.complete(total, total) : ctx.resume(total);
});

export const counterWorkflow = workflow('suite.counter-wf', async (streamRunId: string) => runStream(counterStream, { streamRunId }));

/** The workflows above that the suite's workers register. */
export const streamsWorkflows: Workflow<any[], any>[] = [planWorkflow, timerWorkflow, counterWorkflow];
