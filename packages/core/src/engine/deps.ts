import {
  type EventDataMap,
  type EventType,
  type ParentClosePolicy,
  type Storage,
  type Timer,
  type Logger,
  DurablyError,
  type Limits,
} from '@durably/contracts';
import type { StepDefinition } from './definitions.js';
import type { StepCommand } from './commands.js';
import type { AttemptTracker } from './claims.js';
import type { AttemptOutcome, AttemptRequest } from './step-runner.js';

export interface ExecutionDeps {
  storage: Storage;
  logger: Logger;
  workerId: string;
  clock: () => number;
  /** true when the step runs in this worker's process, false when it is dispatched through the broker. */
  runsInline(def: StepDefinition): boolean;
  /** Retry delays up to this long are waited in-process; longer ones suspend the run on a timer. */
  inlineRetryMaxMs: number;
  limits?: Limits;
  runAttempt(request: AttemptRequest): Promise<AttemptOutcome>;
  /** Side effects of a durable batch: step tasks to publish, timers to schedule wake-ups for. */
  afterFlush(effects: FlushEffects): Promise<void>;
  /** How long a step attempt's lease lasts without renewal (see claims.ts). Default 5 s. */
  stepLeaseMs?: number;
  /** The worker's running attempts: adopted across replays, their leases renewed. Without it, attempts belong to this execution. */
  attempts?: AttemptTracker;
  /** A query's replay: nothing is written and every line of the code re-runs the log, so isReplaying() is always true. */
  readOnly?: boolean;
  /** Told when this execution takes over an attempt whose worker was lost or handed it back (the worker reports it; without it, a log line). */
  onTakeover?(detail: { runId: string; step: string; stepId: string; attempt: number; previousWorker: string; handedBack: boolean }): void;
}

/** What must happen outside storage once a batch is durable. */
export interface FlushEffects {
  runId: string;
  queue: string;
  /** The seq the run's log ends at once the batch is durable. */
  seq: number;
  dispatched: StepCommand[];
  timers: Timer[];
  /** Runs created by this run (continuation, children) whose start tasks must be published. */
  startRuns: Array<{ runId: string; queue: string }>;
  /** Children still running when this run ended, with what to do to them. */
  closeChildren: Array<{ runId: string; policy: ParentClosePolicy }>;
  /** Children started in a scope the run cancelled: each is asked to cancel (once: a request already in its log is not repeated). */
  cancelChildren: Array<{ runId: string; reason: string }>;
  /** This run is a child that ended: its outcome goes to the parent's log. */
  notifyParent?: { parentRunId: string; correlationId: string; event: { type: 'child_completed' | 'child_failed'; data: EventDataMap['child_completed'] | EventDataMap['child_failed'] } };
}

/** Thrown out of `advance()` when another writer appended first: drop this execution and replay. */
export class StaleExecutionError extends DurablyError {}

/** Default `stepLease`: a step attempt whose worker stops renewing it for this long is taken over. */
export const DEFAULT_STEP_LEASE_MS = 5000;
/** `owned`: an attempt of the run runs in another live worker, which advances the run; nothing was written. */
export type AdvanceResult = 'finished' | 'suspended' | 'owned';

/** An event queued for the next append. */
export type Pending = { type: EventType; data: unknown; correlationId?: string; at?: number };
