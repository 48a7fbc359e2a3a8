/**
 * Runs the research review: a workflow runs a stream in which a researcher step works through N
 * subtopics and a planner collects the findings, then waits for a human approval signal.
 *
 *   npm start -w @durably/app-research-review
 *   npm start -w @durably/app-research-review -- --decision reject --reviewer sam
 *
 * Backends come from DURABLY_STORAGE / DURABLY_BROKER (embedded default when unset).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect, createWorker, emit, inspectStream } from '@durably/core';
import { researchReview, review } from './review.js';

const { values } = parseArgs({
  options: {
    question: { type: 'string', default: 'Is durable execution worth it?' },
    subtopics: { type: 'string', default: 'latency,cost,failure-modes,operability' },
    decision: { type: 'string', default: 'approve' },
    reviewer: { type: 'string', default: 'alex' },
  },
});
if (values.decision !== 'approve' && values.decision !== 'reject') throw new Error(`--decision must be "approve" or "reject", got "${values.decision}"`);

const client = await connect();
const worker = createWorker({ workflows: [researchReview], client });
await worker.start();

const reviewId = `review-${randomUUID().slice(0, 8)}`;
const subtopics = values.subtopics!.split(',').filter(Boolean);
const run = await client.start(researchReview, reviewId, { question: values.question!, subtopics });
console.log(`run ${run.runId}: stream "research-review" run ${reviewId}, ${subtopics.length} subtopics`);

try {
  // Wait, as a reviewing UI would, until the planner has every finding and asks for a human.
  for (;;) {
    const now = await inspectStream(review, { streamRunId: reviewId, client });
    if (now?.status === 'suspended') {
      console.log(`planner suspended after signal #${now.seq}; findings:`);
      for (const f of (now.steps.planner.state as { findings: string[] }).findings) console.log(`  - ${f}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const approved = values.decision === 'approve';
  console.log(`${values.reviewer} sends approval: ${approved}`);
  await emit(review, 'approval', { approved, reviewer: values.reviewer! }, { streamRunId: reviewId, client });
  const result = await run.result({ timeout: '60s' });
  console.log(`result: ${JSON.stringify(result)}`);
} finally {
  await worker.stop();
  await client.close();
}
