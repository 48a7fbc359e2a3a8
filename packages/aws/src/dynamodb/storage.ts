import type {
  AppendRequest,
  CreateRunResult,
  DurablyEvent,
  HookRecord,
  NewRun,
  RunFilter,
  RunPage,
  RunRecord,
  ScheduleRecord,
  Storage,
  Timer,
} from '@durably/contracts';
import { append, readEvents } from './append.js';
import { claimDueTimers, listTimers } from './due.js';
import { Dynamo, type CapacityUsage } from './dynamo.js';
import { deleteCheckpoint, getCheckpoint, getHook, putCheckpoint } from './items.js';
import { listRuns } from './list.js';
import { checkShards, checkTable, openClient, storageOptionsFromUrl, type DynamoStorageOptions } from './options.js';
import { deleteFinishedRuns } from './retention.js';
import { createRun, getRun, getRunByKey, touchRun } from './runs.js';
import { claimDueSchedules, deleteSchedule, getSchedule, listSchedules, saveSchedule } from './schedules.js';
import { acquireSlot, takePermit } from './slots.js';
import { migrateTable, readMeta } from './table.js';

/**
 * Durably storage on DynamoDB: one table (see keys.ts for its design), every append one
 * TransactWriteItems fenced by the run item's lastSeq. Works against AWS and DynamoDB Local alike.
 */
export class DynamoStorage implements Storage {
  private readonly db: Dynamo;
  private readonly owned: boolean;
  private shardCount?: Promise<number>;

  constructor(private readonly options: DynamoStorageOptions) {
    const { client, owned, where } = openClient(options);
    this.db = new Dynamo(client, checkTable(options.table), where);
    this.owned = owned;
    if (options.shards !== undefined) checkShards(options.shards);
  }

  /** `dynamodb://TABLE?region=..&endpoint=..` */
  static fromUrl(url: string): DynamoStorage {
    return new DynamoStorage(storageOptionsFromUrl(url));
  }

  /** Creates the storage and runs migrate(). */
  static async create(options: DynamoStorageOptions): Promise<DynamoStorage> {
    const storage = new DynamoStorage(options);
    await storage.migrate();
    return storage;
  }

  get table(): string {
    return this.db.table;
  }

  /** Read and write units and requests this storage has used so far (from ReturnConsumedCapacity). */
  get capacity(): CapacityUsage {
    return this.db.usage;
  }

  /** The shard count of the table (stored in it when it was set up, so every client agrees). */
  private shards(): Promise<number> {
    this.shardCount ??= readMeta(this.db).catch((err: unknown) => {
      this.shardCount = undefined;
      throw err;
    });
    return this.shardCount;
  }

  async migrate(): Promise<void> {
    const shards = await migrateTable(this.db, { create: this.options.createTable ?? true, shards: this.options.shards ?? 4, waitMs: this.options.tableWaitMs ?? 300_000 });
    this.shardCount = Promise.resolve(shards);
  }

  async createRun(run: NewRun): Promise<CreateRunResult> {
    return createRun(this.db, run, await this.shards());
  }

  getRun(runId: string): Promise<RunRecord | undefined> {
    return getRun(this.db, runId);
  }

  getRunByIdempotencyKey(workflow: string, idempotencyKey: string): Promise<RunRecord | undefined> {
    return getRunByKey(this.db, workflow, idempotencyKey);
  }

  async listRuns(filter: RunFilter = {}): Promise<RunPage> {
    return listRuns(this.db, filter, await this.shards());
  }

  async append(request: AppendRequest): Promise<void> {
    return append(this.db, request, await this.shards());
  }

  readEvents(runId: string, fromSeq?: number, limit?: number): Promise<DurablyEvent[]> {
    return readEvents(this.db, runId, fromSeq, limit);
  }

  touchRun(runId: string, at: number): Promise<void> {
    return touchRun(this.db, runId, at);
  }

  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]> {
    return claimDueTimers(this.db, now, options, await this.shards());
  }

  listTimers(runId: string): Promise<Timer[]> {
    return listTimers(this.db, runId);
  }

  getHook(token: string): Promise<HookRecord | undefined> {
    return getHook(this.db, token);
  }

  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    return deleteFinishedRuns(this.db, finishedBefore, limit, await this.shards());
  }

  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean> {
    return saveSchedule(this.db, schedule, expectedVersion, await this.shards());
  }

  getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    return getSchedule(this.db, scheduleId);
  }

  listSchedules(): Promise<ScheduleRecord[]> {
    return listSchedules(this.db);
  }

  deleteSchedule(scheduleId: string): Promise<boolean> {
    return deleteSchedule(this.db, scheduleId);
  }

  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]> {
    return claimDueSchedules(this.db, now, options, await this.shards());
  }

  acquireSlot(key: string, runId: string, limit: number): Promise<boolean> {
    return acquireSlot(this.db, key, runId, limit);
  }

  takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number> {
    return takePermit(this.db, key, limit, periodMs, now);
  }

  putCheckpoint(runId: string, stepId: string, value: string): Promise<void> {
    return putCheckpoint(this.db, runId, stepId, value);
  }

  getCheckpoint(runId: string, stepId: string): Promise<string | undefined> {
    return getCheckpoint(this.db, runId, stepId);
  }

  deleteCheckpoint(runId: string, stepId: string): Promise<void> {
    return deleteCheckpoint(this.db, runId, stepId);
  }

  async close(): Promise<void> {
    if (this.db.closed) return;
    this.db.closed = true;
    if (this.owned) this.db.client.destroy();
  }
}
