import type { Client } from '../client/client.js';
import { StepSuspended } from '../../engine/control.js';
import { decideRetry, type RetryPolicy } from '../../engine/retry.js';
import type { AttemptOutcome } from '../../engine/step-runner.js';
import type { StepAttemptOutcome } from '../../observe/instrumentation.js';
import type { HttpOptions } from '../../config/types.js';
import type { Logger } from '@durably/contracts';
import { brokerQueue, decodeTask } from '../tasks/messages.js';

/** Metrics and the operations endpoint of a worker (loaded only when it has an HTTP port: prom-client stays unloaded otherwise). */
export async function startOperations(client: Client, inProgress: () => number, running: () => boolean, queues: string[], http: HttpOptions, logger: Logger) {
  const [{ MetricsInstrumentation }, { startOpsServer }] = await Promise.all([import('../../observe/metrics.js'), import('../../observe/ops-server.js')]);
  const metrics = new MetricsInstrumentation({
    inProgress,
    deadLetterCounts: async () => {
      const counts: Record<string, number> = {};
      for (const queue of queues) counts[queue] = (await client.broker.deadLetters(brokerQueue(queue), 1000)).length;
      return counts;
    },
  });
  const server = await startOpsServer(http, { running, checkStorage: async () => void (await client.storage.getRun('durably-readiness-probe')) }, metrics, logger);
  return { metrics, server };
}

/** How an attempt ended, by the rule the replay loop and the dispatched-step path apply. */
export function attemptOutcome(outcome: AttemptOutcome, attempt: number, policy: RetryPolicy, window?: { firstStartedAt?: number; now: number }): StepAttemptOutcome {
  if (outcome.ok) return 'completed';
  if (outcome.error instanceof StepSuspended) return 'suspended';
  return decideRetry(outcome.error, attempt, policy, window).retry ? 'retry' : 'failed';
}

export function runIdOf(body: string): string | undefined {
  try {
    return decodeTask(body).runId;
  } catch {
    return undefined; // undecodable: it has no run
  }
}

export function describeInstance(backend: object): string {
  return `${backend.constructor?.name ?? 'custom'} instance`;
}
