import type { DurablyEvent } from './events.js';
import type { Serialized, SerializedError } from './serialization.js';
import type { AttributePatch, Attributes } from './attributes.js';

/**
 * The storage contract. An adapter implements this interface and proves it by passing
 * `storageSuite` from `@durably/testing`. Read this file and that suite; nothing else is needed.
 *
 * Truth lives in the per-run event log. The run record, the timers and the idempotency index are
 * projections that the engine updates in the same atomic `append` as the events that cause them,
 * so an adapter never interprets events: it stores what it is told, atomically.
 *
 * All times are epoch milliseconds. Every method may throw `StorageError` (with the driver error
 * as `cause`) when the backend fails; the engine retries or surfaces it.
 */

/** Where a run stands; see {@link RUN_STATUSES} for each one's meaning. */
export type RunStatus = 'pending' | 'running' | 'suspended' | 'completed' | 'failed' | 'cancelled' | 'continued';

/**
 * Every run status, in lifecycle order: `pending` (created, not yet picked up), `running`, `suspended`
 * (waiting on a sleep, hook, signal or child), then the four finished ones (see {@link FINISHED_STATUSES}).
 */
export const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'suspended', 'completed', 'failed', 'cancelled', 'continued'];
/**
 * The statuses a run never leaves: `completed`, `failed`, `cancelled`, and `continued` (it ended by
 * continueAsNew and a new run carries on). Retention deletes only runs in one of these.
 */
export const FINISHED_STATUSES: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled', 'continued']);

/** The projection of a run, kept up to date by `append`. */
export interface RunRecord {
  /** The run's id (generated, or given at start). */
  runId: string;
  /** Name of the workflow it runs. */
  workflow: string;
  /** Where it stands now. */
  status: RunStatus;
  /** Queue the run's workflow tasks go to. */
  queue: string;
  /** The serialized argument list it was started with. */
  args: Serialized;
  /** The serialized return value, once `completed`. */
  result?: Serialized;
  /** Why it failed, once `failed`. */
  error?: SerializedError;
  /** The key given at start; unique per workflow. */
  idempotencyKey?: string;
  /** For a child run: the run that started it. */
  parentRunId?: string;
  /** When it was created. */
  createdAt: number;
  /** Last time anything was appended or the run was touched; the recovery sweep reads it. */
  updatedAt: number;
  /** Not before this time may the run start (delayed start). */
  startAt?: number;
  /** When it reached a finished status; retention goes by it. */
  finishedAt?: number;
  /** seq of the last event in the log. */
  lastSeq: number;
  /** Labels given at start (workflow tags plus start tags); filterable with listRuns({ tags }). */
  tags?: string[];
  /** Search attributes the run set with `setAttributes`; filterable with listRuns({ attributes }). */
  attributes?: Attributes;
}

/**
 * What {@link Storage.createRun} writes: a new run record, with status `pending`, and its first event.
 * Times are epoch milliseconds.
 */
export interface NewRun {
  /** Unique id of the run; a second create with the same id returns the existing run. */
  runId: string;
  /** Name of the workflow the run executes. */
  workflow: string;
  /** Queue the run's workflow tasks are published to. */
  queue: string;
  /** The serialized argument list. */
  args: Serialized;
  /** Unique per workflow: another workflow may use the same key for a run of its own. */
  idempotencyKey?: string;
  /** Set for a child run: the run that started it. */
  parentRunId?: string;
  /** Delayed start: the run may not start before this time. */
  startAt?: number;
  /** Creation time; listRuns orders by it. */
  createdAt: number;
  /** Labels to filter by with `listRuns({ tags })`. */
  tags?: string[];
  /** The `run_created` event, seq 1, written with the run. */
  firstEvent: DurablyEvent;
}

/** Changes to the run record made together with an append. Fields left out are unchanged. */
export interface RunPatch {
  status?: RunStatus;
  result?: Serialized;
  error?: SerializedError;
  finishedAt?: number;
  /**
   * Search attributes to merge into the record's `attributes` (a key set to null is removed), with
   * the index listRuns({ attributes }) reads updated in the same atomic write.
   */
  attributes?: AttributePatch;
}

/** A durable timer: at `fireAt` the run must be woken. Identified by (runId, timerId). */
export interface Timer {
  /** The run to wake. */
  runId: string;
  /** Unique within the run; says what it is for (`sleep:<position>`, `retry:<position>`, `lease:<position>`...). */
  timerId: string;
  /** When it is due, epoch milliseconds. */
  fireAt: number;
}

/**
 * A hook's index entry: resumeHook(token) finds the run and the waiting call through it. The index is
 * keyed by a hash of the token, never by the token itself, so reading the index cannot resume a hook.
 */
export interface HookRecord {
  /**
   * The index key: the SHA-256 of the hook's token as the engine computes it (`k` and 43 base64url
   * characters). Entries written by 0.1.0 and before hold the raw token here; resumeHook still finds those.
   * A storage keeps it as given and looks entries up by it: it never sees the token.
   */
  token: string;
  /** The run that waits on the hook. */
  runId: string;
  /** Position of the hook call in the run. */
  correlationId: string;
  /** Name of the hook definition (its schema validates payloads). */
  name: string;
  /** When the hook was created. */
  createdAt: number;
  /** After this time the hook cannot be resumed. */
  expiresAt?: number;
  /** Set when the hook was resumed (or timed out, or a multi-use hook was closed): the token is spent. */
  consumedAt?: number;
}

/**
 * What a schedule does when a slot comes while the run of an earlier slot is still running:
 * `skip` the slot, `buffer_one` (keep the latest such slot and fire it when the run ends),
 * `buffer_all` (keep every such slot, fired one after another), `allow_all` (start the run anyway),
 * or `cancel_previous` (cancel the running run, then start).
 */
export type OverlapPolicy = 'skip' | 'buffer_one' | 'buffer_all' | 'allow_all' | 'cancel_previous';
/**
 * Which slots a schedule fires that fell due while no scheduler was running: `none`, only the
 * `latest`, or `all` of them (at most 1,000).
 */
export type CatchUpPolicy = 'none' | 'latest' | 'all';

/** A schedule that starts runs of a workflow on a cron or fixed-interval clock. */
export interface ScheduleRecord {
  /** The schedule's id (`workflow:<name>` for a schedule declared with its workflow). */
  scheduleId: string;
  /** Name of the workflow each slot starts. */
  workflow: string;
  /** Queue of the runs it starts. */
  queue: string;
  /** Serialized argument list of each run. */
  args: Serialized;
  /** Exactly one of cron (with optional IANA time zone) or everyMs. */
  spec: { cron?: string; timezone?: string; everyMs?: number };
  /** What a slot does while the previous run still runs. */
  overlap: OverlapPolicy;
  /** Which missed slots fire when a scheduler comes back. */
  catchUp: CatchUpPolicy;
  /** A paused schedule fires nothing until resumed. */
  paused: boolean;
  /** The next slot to fire (epoch ms). */
  nextFireAt?: number;
  /** The last slot fired (epoch ms). */
  lastFireAt?: number;
  /** The run the last slot started. */
  lastRunId?: string;
  /** buffer_one: a slot held back while the previous run is still running. */
  bufferedSlot?: number;
  /** buffer_all: every slot held back while the previous run is still running, oldest first. */
  bufferedSlots?: number[];
  /** No slot after this time (epoch ms). */
  endAt?: number;
  /** Each run starts up to this many ms after its slot, at random (spreads load). */
  jitterMs?: number;
  /** Counters kept by the scheduler; `running` holds the ids of runs not yet finished (pruned as they end). */
  stats?: { fired: number; skipped: number; running: string[] };
  /** Lifecycle changes (created, updated, paused, resumed, triggered, backfilled), newest last, at most 100. */
  history?: Array<{ at: number; action: string; detail?: string }>;
  createdAt: number;
  updatedAt: number;
  /** Incremented by every write; saveSchedule with expectedVersion refuses a stale write. */
  version: number;
}

/**
 * The argument of {@link Storage.append}: events to add to one run's log, and the changes to the
 * run record, timers and hook index that go with them, all written atomically or not at all.
 */
export interface AppendRequest {
  /** The run whose log is appended to. */
  runId: string;
  /** The seq of the last event the writer has seen. The append succeeds only if the log still ends there. */
  expectedSeq: number;
  /**
   * Events numbered expectedSeq + 1, expectedSeq + 2, ... with no gap. May be empty: the append then
   * only moves timers or patches the run (a step attempt's lease is renewed so), still fenced by
   * `expectedSeq`, with `lastSeq` unchanged and `updatedAt` set.
   */
  events: DurablyEvent[];
  /** Applied to the run record in the same atomic write. `updatedAt` and `lastSeq` are always set. */
  run?: RunPatch;
  /**
   * Timers to create or move (upsert by runId + timerId) in the same atomic write. Moving a timer
   * ends its claim (`claimDueTimers`' lease): it is due again at its new `fireAt`.
   */
  setTimers?: Timer[];
  /** timerIds of this run's timers to delete in the same atomic write. */
  clearTimers?: string[];
  /** Hook index entries to create or update (upsert by token) in the same atomic write. */
  setHooks?: HookRecord[];
  /** Releases every concurrency slot this run holds, in the same atomic write (the run ended). */
  releaseSlots?: boolean;
}

/**
 * Which runs {@link Storage.listRuns} returns: every field given must match (times are epoch
 * milliseconds). With no field, all runs, 100 to a page.
 */
export interface RunFilter {
  /** Only runs of this workflow. */
  workflow?: string;
  /** Only runs in this status, or in any of these. */
  status?: RunStatus | RunStatus[];
  /** Only the children of this run. */
  parentRunId?: string;
  /** Only runs created at or after this time. */
  createdAfter?: number;
  /** Only runs created before this time. */
  createdBefore?: number;
  /** Only runs whose record was last updated before this time (used by the recovery sweep). */
  updatedBefore?: number;
  /** Only runs that carry every one of these tags. */
  tags?: string[];
  /**
   * Only runs whose search attributes equal every one of these, value and type (the number 1 is not
   * the string '1'). Read from an index, not by a scan.
   */
  attributes?: Attributes;
  /** Page size; adapters cap it at 1,000. Default 100. */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

/** One page of {@link Storage.listRuns}. */
export interface RunPage {
  /** Newest first: ordered by createdAt descending, then runId descending. */
  runs: RunRecord[];
  /** Present when more runs match; pass it back as `cursor` to get the next page. */
  nextCursor?: string;
}

/** What {@link Storage.createRun} returns: the run, and whether this call created it. */
export interface CreateRunResult {
  /** The run as stored: the new one, or the one that already existed. */
  run: RunRecord;
  /**
   * false when the run already existed (a run with the same `runId`, or a run of the same workflow
   * with the same idempotency key): `run` is that existing run, and nothing was written.
   */
  created: boolean;
}

/**
 * The storage contract: the durable event log of every run and the projections kept beside it (run
 * records, timers, the hook index, schedules, concurrency slots, rate-limit permits, step checkpoints).
 * Implemented by the adapters (`memory:`, `file:`, `postgres://`, `redis://`, `dynamodb://`) and proven
 * by `storageSuite` from `@durably/testing`. Times are epoch milliseconds; every method may throw
 * `StorageError` with the driver's error as `cause` when the backend fails.
 *
 * @example
 * ```ts
 * import { storageFromUrl } from '@durably/core';
 *
 * const storage = await storageFromUrl('memory:');
 * await storage.migrate();
 * const { runs, nextCursor } = await storage.listRuns({ status: 'failed', limit: 20 });
 * ```
 */
export interface Storage {
  /**
   * Creates the schema (tables, indexes, key layout). Idempotent: safe to call on every start and
   * from several processes at once. Versioned: a newer release upgrades an older schema in place.
   */
  migrate(): Promise<void>;

  /**
   * Creates a run and its first event (seq 1) atomically, with status `pending`, and returns it
   * with `created: true`. Idempotent, and never throws for an existing run:
   * - by `runId`: if a run with that id exists (of any workflow, with any arguments), returns it
   *   with `created: false` and writes nothing;
   * - by `(workflow, idempotencyKey)`: if a run of the same workflow has that key, returns it with
   *   `created: false` and writes nothing. Keys are scoped by workflow: runs of two workflows may
   *   carry the same key, and each is created.
   * Both hold when creates race, across clients: of concurrent creates with the same runId, or the
   * same workflow and key, exactly one gets `created: true` and the others get its run.
   * (The client compares an existing run's workflow and arguments with the request; the storage
   * does not.)
   */
  createRun(run: NewRun): Promise<CreateRunResult>;

  /** The run record, or undefined when no run has that id. */
  getRun(runId: string): Promise<RunRecord | undefined>;

  /**
   * The run of `workflow` created with `idempotencyKey` (the one `createRun` returns for that key),
   * or undefined when no run of that workflow has it (never created, or deleted by retention).
   * Read from the index createRun keeps, not by a scan.
   */
  getRunByIdempotencyKey(workflow: string, idempotencyKey: string): Promise<RunRecord | undefined>;

  /**
   * Runs matching every given filter field, newest first, with cursor paging. Paging is stable:
   * walking all pages returns every matching run exactly once even as new runs are created.
   */
  listRuns(filter?: RunFilter): Promise<RunPage>;

  /**
   * The conditional append, the fence between concurrent workers. Atomically: checks that the
   * run's log ends at `expectedSeq`, writes all events, applies `run`, `setTimers`, `clearTimers`
   * and `setHooks`, and sets `updatedAt` and `lastSeq`. Either everything is written or nothing.
   * Throws `AppendConflictError` when the log no longer ends at `expectedSeq` (another writer won),
   * and `RunNotFoundError` when the run does not exist.
   */
  append(request: AppendRequest): Promise<void>;

  /** Events with seq >= `fromSeq` (default 1), in seq order, at most `limit` (default: all). */
  readEvents(runId: string, fromSeq?: number, limit?: number): Promise<DurablyEvent[]>;

  /** Sets `updatedAt` to now without appending: a worker's heartbeat for a long step. */
  touchRun(runId: string, at: number): Promise<void>;

  /**
   * Claims up to `limit` timers with `fireAt <= now` that are not leased, leasing each until
   * `now + leaseMs`. Two concurrent callers never receive the same timer while its lease holds;
   * a timer whose lease ran out (its claimer died) is claimable again. A timer stays until the
   * run's append clears it. Ordered by fireAt.
   */
  claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]>;

  /** The run's timers that are not yet cleared, by fireAt (the engine reads a step attempt's lease from it). */
  listTimers(runId: string): Promise<Timer[]>;

  /** The hook index entry with this key (`HookRecord.token`, a hash of the hook's token), or undefined. */
  getHook(token: string): Promise<HookRecord | undefined>;

  /**
   * Retention: deletes up to `limit` finished runs (completed, failed, cancelled, continued) whose
   * `finishedAt` is before `finishedBefore`, with their events, timers and hooks. Unfinished runs are
   * never deleted. Returns the number of runs deleted; call again until it returns less than `limit`.
   */
  deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number>;

  /**
   * Writes a schedule. Without `expectedVersion`: creates or replaces it. With it: writes only if the
   * stored version equals `expectedVersion` (returns false otherwise), so two schedulers cannot
   * overwrite each other's progress; `expectedVersion: 0` creates it only if no schedule has its id.
   * Writing clears the claim lease.
   */
  saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean>;

  /** The schedule with this id, or undefined when there is none. */
  getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined>;

  /** All schedules, ordered by scheduleId. */
  listSchedules(): Promise<ScheduleRecord[]>;

  /** Deletes a schedule; returns false when there was none. */
  deleteSchedule(scheduleId: string): Promise<boolean>;

  /**
   * Claims up to `limit` schedules that are not paused and are due (`nextFireAt <= now`, or with a
   * buffered slot) and not leased, leasing each until `now + leaseMs`. Two concurrent callers never
   * receive the same schedule while its lease holds.
   */
  claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]>;

  /**
   * Concurrency control: takes a slot for `runId` under `key` if fewer than `limit` runs hold one.
   * Atomic across clients: of concurrent callers, at most `limit` get true. Idempotent: a run that
   * already holds a slot under the key gets true again. Slots are released by `append({ releaseSlots: true })`.
   */
  acquireSlot(key: string, runId: string, limit: number): Promise<boolean>;

  /**
   * Rate limiting (fixed windows of `periodMs`): takes one of `limit` permits of the window that
   * contains `now` under `key`. Returns 0 when granted, else the ms until the next window.
   * Atomic across clients: a window never grants more than `limit`.
   */
  takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number>;

  /**
   * Step checkpoints: a value a long step saves as it goes (keyed by run and step), so that its next
   * attempt after a crash resumes where it was. Upsert; deleted with the run by retention.
   */
  putCheckpoint(runId: string, stepId: string, value: Serialized): Promise<void>;
  /** The checkpoint the step saved last, or undefined when it saved none. */
  getCheckpoint(runId: string, stepId: string): Promise<Serialized | undefined>;
  /** Deletes the step's checkpoint (done when the step completes); a missing one is not an error. */
  deleteCheckpoint(runId: string, stepId: string): Promise<void>;

  /**
   * Optional. Calls `listener` with the id of each run that finishes (completed, failed, cancelled or
   * continued), written by any process, while subscribed; resolves once listening. Lets `result()`
   * wait for a run of another process without polling. Best effort: a notice can be missed (during a
   * reconnect, say), so callers keep a slow safety poll. Returns the unsubscribe function.
   */
  subscribeFinished?(listener: (runId: string) => void): Promise<() => void>;

  /**
   * Optional. The storage's own clock, in epoch milliseconds, read as close to the server as the
   * backend allows (Postgres `clock_timestamp()`, Redis `TIME`; an embedded storage, which shares
   * the machine's clock with every process using it, answers `Date.now()`). The client measures
   * its offset from this clock and runs the engine's time on it, so that whether a timer, sleep,
   * lease or hook expiry is due is judged by one clock for every worker whatever its machine's
   * clock says. A storage with no clock of its own to offer (DynamoDB) leaves it out: its workers
   * then run on their machines' clocks, which must be kept in sync (NTP).
   */
  serverTime?(): Promise<number>;

  /** Releases connections and handles. Further calls fail. */
  close(): Promise<void>;
}
