import { deserialize, serialize, type Logger } from '@durably/contracts';
import type { StepDefinition } from '../../engine/definitions.js';
import { HeartbeatDetails } from '../../engine/heartbeats.js';
import type { CheckpointStore } from '../../engine/scope.js';
import type { Client } from '../client/client.js';
import { whileUnavailable } from '../client/connect.js';

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
export function heartbeatsFor(client: Client, runId: string, stepId: string, logger: Logger, signal?: AbortSignal): HeartbeatDetails {
  const store = checkpointsFor(client, runId, `heartbeat:${stepId}`, 'heartbeat details');
  const log = logger.child({ runId, stepId });
  // Read before an attempt runs: a storage that is away is waited for, never taken for the step's failure.
  const load = store.load;
  store.load = () => whileUnavailable(load, { what: 'reading the heartbeat details of the previous attempt', logger: log, signal });
  return new HeartbeatDetails(store, log);
}

/** After an attempt: a completed step's checkpoint and heartbeat details are deleted, if it had any. */
export async function cleanUpAttempt(ok: boolean, checkpoints: { used: boolean; delete(): Promise<void> }, heartbeats: HeartbeatDetails): Promise<void> {
  if (!ok) return;
  if (checkpoints.used) await checkpoints.delete().catch(() => undefined);
  if (heartbeats.used) await heartbeats.delete().catch(() => undefined);
}

/** Rate-limited steps wait for a permit before each attempt (and for a storage that is away). */
export async function waitForPermit(client: Client, def: StepDefinition, logger: Logger, signal?: AbortSignal): Promise<void> {
  const rate = def.rateLimit;
  if (!rate) return;
  for (;;) {
    const wait = await whileUnavailable(() => client.storage.takePermit(`rate:${rate.key}`, rate.limit, rate.periodMs, client.clock()), { what: `taking a permit of rate limit "${rate.key}"`, logger, signal });
    if (wait <= 0) return;
    await new Promise((r) => setTimeout(r, Math.min(wait, rate.periodMs) + Math.random() * 5));
  }
}
