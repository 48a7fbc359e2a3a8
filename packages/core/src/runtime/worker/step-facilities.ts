import { deserialize, serialize } from '@durably/contracts';
import type { StepDefinition } from '../../engine/definitions.js';
import type { CheckpointStore } from '../../engine/scope.js';
import type { Client } from '../client/client.js';

/** What a step attempt gets from its worker, inline or dispatched: its checkpoint and its rate limit. */

/** A step's checkpoint in storage; `used` tells whether the attempt touched it (then it is deleted on success). */
export function checkpointsFor(client: Client, runId: string, stepId: string): CheckpointStore & { used: boolean } {
  const storage = client.storage;
  const cp = {
    used: false,
    save: async (value: unknown) => {
      cp.used = true;
      await storage.putCheckpoint(runId, stepId, serialize(value, 'a step checkpoint'));
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
