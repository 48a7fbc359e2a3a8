/**
 * A research review as a stream: the start body hands one task per subtopic to the researcher step;
 * each result goes to the planner, which waits until it has all N of them and then for a human's
 * approval (a signal with a schema). The workflow runs the stream twice: once until the planner
 * suspends for approval, once more until the stream completes.
 */
import { z } from 'zod';
import { defineStream, runStream, step, streamStep, workflow } from '@durably/core';

export interface ReviewInput {
  question: string;
  subtopics: string[];
}

export const review = defineStream(
  'research-review',
  (input: ReviewInput, s) => {
    s.emit('plan', { question: input.question, expected: input.subtopics.length });
    for (const subtopic of input.subtopics) s.emit('task.assigned', { subtopic });
  },
  {
    schemas: {
      'task.assigned': z.object({ subtopic: z.string().min(1) }),
      'task.done': z.object({ subtopic: z.string(), finding: z.string() }),
      approval: z.object({ approved: z.boolean(), reviewer: z.string().min(1), note: z.string().optional() }),
    },
  },
);

/** A worker step: researches one subtopic per signal (a stand-in for an LLM or API call) and reports. */
streamStep(review, { name: 'researcher', signals: ['task.assigned', 'review.closed'], retries: 3 }, async (signal, ctx) => {
  if (signal.type === 'review.closed') return ctx.terminate('review closed');
  const { subtopic } = signal.payload as { subtopic: string };
  await new Promise((r) => setTimeout(r, 20));
  ctx.emit('task.done', { subtopic, finding: `${subtopic}: ${subtopic.length} key facts found` });
});

export interface PlannerState {
  question: string;
  expected: number;
  findings: string[];
}

/** The planner: collects N findings, then waits for a human. */
streamStep(
  review,
  { name: 'planner', signals: ['plan', 'task.done', 'approval'], initialState: { question: '', expected: -1, findings: [] } as PlannerState },
  (signal, ctx) => {
    const state: PlannerState = { ...ctx.state, findings: [...ctx.state.findings] };
    if (signal.type === 'plan') Object.assign(state, signal.payload as { question: string; expected: number });
    if (signal.type === 'task.done') state.findings.push((signal.payload as { finding: string }).finding);
    if (signal.type === 'approval') {
      const { approved, reviewer, note } = signal.payload as { approved: boolean; reviewer: string; note?: string };
      ctx.emit('review.closed');
      return approved ? ctx.complete({ question: state.question, findings: state.findings.sort(), approvedBy: reviewer, note }, state) : ctx.terminate(`rejected by ${reviewer}${note ? `: ${note}` : ''}`, state);
    }
    return state.expected >= 0 && state.findings.length === state.expected ? ctx.suspend(state) : ctx.resume(state);
  },
);

export const publishReport = step('research-review.publish', async (report: { question: string; findings: string[]; approvedBy: string }) => {
  return `Published "${report.question}" (${report.findings.length} findings, approved by ${report.approvedBy})`;
});

export const researchReview = workflow('research-review', async (reviewId: string, input: ReviewInput) => {
  const gathered = await runStream(review, { streamRunId: reviewId, input });
  // gathered.status === 'suspended': every finding is in and the planner waits for approval.
  const decided = await runStream(review, { streamRunId: reviewId });
  const planner = decided.steps.planner;
  if (planner.status !== 'completed') return { published: false, findings: gathered.steps.planner.state, reason: planner.reason };
  return { published: true, message: await publishReport(planner.result as { question: string; findings: string[]; approvedBy: string }) };
});
