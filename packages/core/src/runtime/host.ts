import type { Limits, RunRecord, Storage } from '@durably/contracts';

/**
 * What the runtime's parts need of a client, so that they take these instead of the Client class
 * (which builds on them): a run handle reads runs; schedules start and cancel them. Client
 * implements both.
 */

/** What a run handle reads its run through. */
export interface RunSource {
  readonly storage: Storage;
  /** The run that continues `run` (continueAsNew), read from its final event; undefined if it did not continue. */
  nextInChain(run: RunRecord): Promise<string | undefined>;
  cancel(runId: string, reason?: string): Promise<void>;
}

/** Options of a start from already serialized arguments (schedules, streams). */
export interface SerializedStartOptions {
  runId?: string;
  idempotencyKey?: string;
  startAt?: number;
  now?: number;
  tags?: string[];
  scheduledAt?: number;
  scheduleId?: string;
}

/** What schedules start, cancel and store runs through. */
export interface RunStarter extends RunSource {
  readonly clock: () => number;
  readonly limits: Limits;
  ensureReady(): Promise<void>;
  /** Creates a run from already serialized arguments and publishes its start. */
  startSerialized(workflowName: string, queue: string, serializedArgs: string, options: SerializedStartOptions): Promise<{ runId: string; created: boolean; run: RunRecord }>;
}
