import { deserialize, serialize, type Logger } from '@durably/contracts';
import type { StepDefinition } from '../../engine/definitions.js';
import { HeartbeatDetails } from '../../engine/heartbeats.js';
import type { CheckpointStore } from '../../engine/scope.js';
import type { Client } from '../client/client.js';

/** What a step attempt gets from its worker, inline or dispatched: its checkpoint, its heartbeat details and its rate limit. */

/** A step's checkpoint in storage; `used` tells whether the attempt touched it (then it is deleted on success). */
export function checkpointsFor(client: Client, runId: string, stepId: string, what = 'a step checkpoint'): CheckpointStore & { used: boolean } {
  const storage = client.storage;
  const cp = {
    used: false,
    save: async (value: unknown) => {
      cp.used = true;
      await storage.putCheckpoint(runId, stepId, serialize(value, what));
    },
    load: async () => {
      cp.used = true;
      const raw = await storage.getCheckpoint(runId, stepId);
      return raw === undefined ? undefined : deserialize(raw);
    },
    delete: async () => {
      await storage.deleteCheckpoint(runId, stepId);
    },
  };
  return cp;
}

/**
 * A step's heartbeat details, in the checkpoint store under a key of their own (`heartbeat:<position>`),
 * apart from the user's checkpoint. Not in the run's log: a heartbeat is progress of one attempt, which
 * no replay reads, and an event per heartbeat would grow the log and move its end under the run's
 * worker (each one a conflict and a replay of the run).
 */
export function heartbeatsFor(client: Client, runId: string, stepId: string, logger: Logger): HeartbeatDetails {
  return new HeartbeatDetails(checkpointsFor(client, runId, `heartbeat:${stepId}`, 'heartbeat details'), logger.child({ runId, stepId }));
}

/** After an attempt: a completed step's checkpoint and heartbeat details are deleted, if it had any. */
export async function cleanUpAttempt(ok: boolean, checkpoints: { used: boolean; delete(): Promise<void> }, heartbeats: HeartbeatDetails): Promise<void> {
  if (!ok) return;
  if (checkpoints.used) await checkpoints.delete().catch(() => undefined);
  if (heartbeats.used) await heartbeats.delete().catch(() => undefined);
}

/** Rate-limited steps wait for a permit before each attempt. */
export async function waitForPermit(client: Client, def: StepDefinition): Promise<void> {
  const rate = def.rateLimit;
  if (!rate) return;
  for (;;) {
    const wait = await client.storage.takePermit(`rate:${rate.key}`, rate.limit, rate.periodMs, client.clock());
    if (wait <= 0) return;
    await new Promise((r) => setTimeout(r, Math.min(wait, rate.periodMs) + Math.random() * 5));
  }
}
