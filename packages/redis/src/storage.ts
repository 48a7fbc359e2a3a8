import { Redis, type RedisOptions } from 'ioredis';
import {
  AppendConflictError,
  RunNotFoundError,
  StorageError,
  decodeCursor,
  encodeCursor,
  pageLimit,
  attributeIndexValue,
  attributeFromIndexValue,
  attributesMatch,
  type AppendRequest,
  type CreateRunResult,
  type DurablyEvent,
  type HookRecord,
  type NewRun,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type RunStatus,
  type ScheduleRecord,
  type Storage,
  type Timer,
} from '@durably/contracts';
import * as lua from './scripts.js';
import { openRedis, keyPrefix, type RedisConnection, type RedisConnectionOptions } from './connection.js';

type Scripted = Redis & {
  durablyCreateRun(...args: (string | number)[]): Promise<string[]>;
  durablyAppend(...args: (string | number)[]): Promise<string[]>;
  durablyTouch(...args: (string | number)[]): Promise<number>;
  durablyClaimTimers(...args: (string | number)[]): Promise<string[]>;
  durablyDeleteFinished(...args: (string | number)[]): Promise<number>;
  durablySaveSchedule(...args: (string | number)[]): Promise<number>;
  durablyDeleteSchedule(...args: (string | number)[]): Promise<number>;
  durablyClaimSchedules(...args: (string | number)[]): Promise<string[]>;
  durablyAcquireSlot(...args: (string | number)[]): Promise<number>;
  durablyTakePermit(...args: (string | number)[]): Promise<number>;
  durablyMigrateIdem(...args: (string | number)[]): Promise<number>;
};

/** Hooks stay readable this long past their expiry, so a late resume says "expired", not "not found". */
const HOOK_GRACE_MS = 7 * 86_400_000;

/**
 * Durably storage on Redis. One Lua script per append does the conditional check, the event push, the
 * run hash and index updates, timers, hooks and slot release atomically. All keys share the hash tag
 * `{prefix}` so each script is single-slot (Redis Cluster places one prefix on one shard).
 */
export class RedisStorage implements Storage {
  private readonly redis: Scripted;
  private readonly P: string;
  private readonly owned: boolean;
  private readonly connection: RedisConnection;

  constructor(options: RedisConnectionOptions) {
    const connection = openRedis(options);
    const { redis, owned } = connection;
    this.connection = connection;
    this.owned = owned;
    this.P = keyPrefix(options.prefix);
    this.redis = redis as Scripted;
    const define = (name: string, lua: string, numberOfKeys: number) => {
      if (!(name in this.redis)) this.redis.defineCommand(name, { lua, numberOfKeys });
    };
    define('durablyCreateRun', lua.CREATE_RUN, 1);
    define('durablyAppend', lua.APPEND, 1);
    define('durablyTouch', lua.TOUCH, 1);
    define('durablyClaimTimers', lua.CLAIM_TIMERS, 0);
    define('durablyDeleteFinished', lua.DELETE_FINISHED, 0);
    define('durablySaveSchedule', lua.SAVE_SCHEDULE, 0);
    define('durablyDeleteSchedule', lua.DELETE_SCHEDULE, 0);
    define('durablyClaimSchedules', lua.CLAIM_SCHEDULES, 0);
    define('durablyAcquireSlot', lua.ACQUIRE_SLOT, 0);
    define('durablyTakePermit', lua.TAKE_PERMIT, 0);
    define('durablyMigrateIdem', lua.MIGRATE_IDEM, 0);
  }

  get prefix(): string {
    return this.P;
  }

  private runKey(runId: string): string {
    return `${this.P}:run:${runId}`;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StorageError(this.connection.describe(what, err), { cause: err });
    }
  }

  /**
   * Redis needs no schema: this checks the connection, then upgrades keys written by older releases
   * in place (idempotency keys kept for all workflows in one hash move to one hash per workflow), in
   * batches, each one atomic; creates meanwhile read both.
   */
  async migrate(): Promise<void> {
    await this.call('connect', () => this.redis.ping());
    for (let left = 1; left > 0; ) left = await this.call('migrate idempotency keys', () => this.redis.durablyMigrateIdem(this.P, 500));
  }

  async createRun(run: NewRun): Promise<CreateRunResult> {
    const [status, existing] = await this.call('create a run', () =>
      this.redis.durablyCreateRun(
        this.runKey(run.runId),
        this.P,
        run.runId,
        run.idempotencyKey ?? '',
        run.workflow,
        run.queue,
        run.args,
        run.parentRunId ?? '',
        run.createdAt,
        run.startAt ?? '',
        JSON.stringify({ ...run.firstEvent, seq: 1 }),
        run.tags?.length ? JSON.stringify([...new Set(run.tags)]) : '',
      ),
    );
    if (status === 'exists') {
      const found = await this.getRun(existing);
      // Deleted by retention since the script saw it: the next create may succeed.
      if (!found) return this.createRun(run);
      return { run: found, created: false };
    }
    // Created as given: the record is known without reading it back.
    const created: RunRecord = { runId: run.runId, workflow: run.workflow, status: 'pending', queue: run.queue, args: run.args, createdAt: run.createdAt, updatedAt: run.createdAt, lastSeq: 1 };
    if (run.idempotencyKey !== undefined) created.idempotencyKey = run.idempotencyKey;
    if (run.parentRunId !== undefined) created.parentRunId = run.parentRunId;
    if (run.startAt !== undefined) created.startAt = run.startAt;
    if (run.tags?.length) created.tags = [...new Set(run.tags)];
    return { run: created, created: true };
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const h = await this.call('read a run', () => this.redis.hgetall(this.runKey(runId)));
    return toRecord(runId, h);
  }

  async getRunByIdempotencyKey(workflow: string, idempotencyKey: string): Promise<RunRecord | undefined> {
    // The per-workflow hash, then the unscoped one of releases before keys were scoped (until migrate() has moved it).
    const runId =
      (await this.call('read an idempotency key', () => this.redis.hget(`${this.P}:idem:${workflow}`, idempotencyKey))) ??
      (await this.call('read an idempotency key', () => this.redis.hget(`${this.P}:idem`, idempotencyKey)));
    if (runId === null) return undefined;
    const run = await this.getRun(runId);
    return run?.workflow === workflow && run.idempotencyKey === idempotencyKey ? run : undefined;
  }

  async listRuns(filter: RunFilter = {}): Promise<RunPage> {
    const limit = pageLimit(filter.limit);
    const statuses = filter.status === undefined ? undefined : Array.isArray(filter.status) ? filter.status : [filter.status];
    const attributeFilter = Object.entries(filter.attributes ?? {});
    // The most selective index drives the walk; the other filters are checked on each record.
    const indexes =
      filter.parentRunId !== undefined
        ? [`${this.P}:idx:parent:${filter.parentRunId}`]
        : attributeFilter.length > 0
          ? [`${this.P}:idx:attr:${attributeFilter[0][0]}:${attributeIndexValue(attributeFilter[0][1])}`]
          : filter.workflow !== undefined
          ? [`${this.P}:idx:wf:${filter.workflow}`]
          : filter.tags?.length
            ? [`${this.P}:idx:tag:${filter.tags[0]}`]
            : statuses
              ? statuses.map((s) => `${this.P}:idx:st:${s}`)
              : [`${this.P}:idx:all`];
    const cursor = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    const start = cursor ? `(${String(cursor.createdAt).padStart(16, '0')}:${cursor.runId}` : '+';
    const matches = (r: RunRecord) =>
      (filter.workflow === undefined || r.workflow === filter.workflow) &&
      (!statuses || statuses.includes(r.status)) &&
      (filter.parentRunId === undefined || r.parentRunId === filter.parentRunId) &&
      (filter.createdAfter === undefined || r.createdAt >= filter.createdAfter) &&
      (filter.createdBefore === undefined || r.createdAt < filter.createdBefore) &&
      (filter.updatedBefore === undefined || r.updatedAt < filter.updatedBefore) &&
      (!filter.tags?.length || filter.tags.every((t) => r.tags?.includes(t))) &&
      attributesMatch(r.attributes, filter.attributes);
    const found: RunRecord[] = [];
    for (const index of indexes) {
      let from = start;
      let taken = 0;
      for (;;) {
        const members = await this.call('list runs', () => this.redis.zrevrangebylex(index, from, '-', 'LIMIT', 0, Math.max(100, limit + 1)));
        if (members.length === 0) break;
        const pipeline = this.redis.pipeline();
        for (const m of members) pipeline.hgetall(this.runKey(m.slice(17)));
        const results = (await this.call('list runs', () => pipeline.exec())) ?? [];
        results.forEach(([, h], i) => {
          const record = toRecord(members[i].slice(17), h as Record<string, string>);
          if (record && matches(record)) {
            found.push(record);
            taken++;
          }
        });
        if (taken > limit) break;
        from = `(${members[members.length - 1]}`;
        if (filter.createdAfter !== undefined && Number(members[members.length - 1].slice(0, 16)) < filter.createdAfter) break;
      }
    }
    found.sort((a, b) => b.createdAt - a.createdAt || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
    const runs = found.slice(0, limit);
    const last = runs[runs.length - 1];
    return found.length > limit && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.runId) } : { runs };
  }

  async append(request: AppendRequest): Promise<void> {
    const { runId, expectedSeq, events } = request;
    events.forEach((e, i) => {
      if (e.seq !== expectedSeq + 1 + i) throw new StorageError(`Append to run ${runId}: event ${i} has seq ${e.seq}, expected ${expectedSeq + 1 + i}.`);
    });
    const p = request.run ?? {};
    const control: Record<string, unknown> = {
      updatedAt: events.length > 0 ? Math.max(...events.map((e) => e.at)) : Date.now(),
      setTimers: (request.setTimers ?? []).map((t) => [t.timerId, t.fireAt]),
      clearTimers: request.clearTimers ?? [],
      // An expiring hook's entry lives on for a grace period, so a late resume says "expired", not "not found".
      hooks: (request.setHooks ?? []).map((h) => [h.token, JSON.stringify(h), h.expiresAt !== undefined ? Math.max(h.expiresAt, Date.now()) + HOOK_GRACE_MS : 0]),
      releaseSlots: request.releaseSlots === true,
    };
    if (p.status !== undefined) control.status = p.status;
    if (p.result !== undefined) control.result = p.result;
    if (p.error !== undefined) control.error = JSON.stringify(p.error);
    if (p.finishedAt !== undefined) control.finishedAt = p.finishedAt;
    // Typed values are encoded here (Lua would print numbers with 14 digits): the encoding is also what the hash keeps.
    if (p.attributes && Object.keys(p.attributes).length > 0) control.attributes = Object.entries(p.attributes).map(([k, v]) => [k, v === null ? '' : attributeIndexValue(v)]);
    // cjson turns [] into {}: empty arrays are sent as such and read back as empty tables either way.
    const [status, last] = await this.call('append events', () =>
      this.redis.durablyAppend(this.runKey(runId), this.P, runId, expectedSeq, JSON.stringify(control), ...events.map((e) => JSON.stringify(e))),
    );
    if (status === 'ok') return;
    if (status === 'missing') throw new RunNotFoundError(runId);
    throw new AppendConflictError(runId, expectedSeq, Number(last));
  }

  async readEvents(runId: string, fromSeq = 1, limit?: number): Promise<DurablyEvent[]> {
    const from = Math.max(0, fromSeq - 1);
    const to = limit === undefined ? -1 : from + limit - 1;
    if (limit !== undefined && limit <= 0) return [];
    const items = await this.call('read events', () => this.redis.lrange(`${this.P}:ev:${runId}`, from, to));
    return items.map((s) => JSON.parse(s) as DurablyEvent);
  }

  async touchRun(runId: string, at: number): Promise<void> {
    await this.call('touch a run', () => this.redis.durablyTouch(this.runKey(runId), this.P, runId, at));
  }

  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]> {
    const flat = await this.call('claim timers', () => this.redis.durablyClaimTimers(this.P, now, options.limit, now + options.leaseMs));
    const timers: Timer[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const [runId, timerId] = splitMember(flat[i]);
      timers.push({ runId, timerId, fireAt: Number(flat[i + 1]) });
    }
    return timers;
  }

  async listTimers(runId: string): Promise<Timer[]> {
    const ids = await this.call('list timers', () => this.redis.smembers(`${this.P}:rt:${runId}`));
    const timers: Timer[] = [];
    for (const timerId of ids) {
      const score = await this.redis.zscore(`${this.P}:timers`, `${runId}|${timerId}`);
      if (score !== null) timers.push({ runId, timerId, fireAt: Number(score) });
    }
    return timers.sort((a, b) => a.fireAt - b.fireAt);
  }

  async getHook(token: string): Promise<HookRecord | undefined> {
    const raw = await this.call('read a hook', () => this.redis.get(`${this.P}:hook:${token}`));
    return raw ? (JSON.parse(raw) as HookRecord) : undefined;
  }

  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    return this.call('delete finished runs', () => this.redis.durablyDeleteFinished(this.P, finishedBefore, limit));
  }

  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean> {
    const buffered = schedule.bufferedSlot !== undefined || (schedule.bufferedSlots?.length ?? 0) > 0;
    const score = buffered ? 0 : (schedule.nextFireAt ?? '');
    const ok = await this.call('save a schedule', () =>
      this.redis.durablySaveSchedule(this.P, schedule.scheduleId, JSON.stringify(schedule), schedule.version, expectedVersion ?? '', schedule.paused ? '1' : '0', score),
    );
    return ok === 1;
  }

  async getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    const raw = await this.call('read a schedule', () => this.redis.hget(`${this.P}:sched:${scheduleId}`, 'json'));
    return raw ? (JSON.parse(raw) as ScheduleRecord) : undefined;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const ids = (await this.call('list schedules', () => this.redis.smembers(`${this.P}:sched:ids`))).sort();
    const out: ScheduleRecord[] = [];
    for (const id of ids) {
      const s = await this.getSchedule(id);
      if (s) out.push(s);
    }
    return out;
  }

  async deleteSchedule(scheduleId: string): Promise<boolean> {
    return (await this.call('delete a schedule', () => this.redis.durablyDeleteSchedule(this.P, scheduleId))) === 1;
  }

  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]> {
    const raws = await this.call('claim schedules', () => this.redis.durablyClaimSchedules(this.P, now, options.limit, now + options.leaseMs));
    return raws.map((r) => JSON.parse(r) as ScheduleRecord);
  }

  async putCheckpoint(runId: string, stepId: string, value: string): Promise<void> {
    await this.call('save a checkpoint', () => this.redis.hset(`${this.P}:cp:${runId}`, stepId, value));
  }

  async getCheckpoint(runId: string, stepId: string): Promise<string | undefined> {
    return (await this.call('read a checkpoint', () => this.redis.hget(`${this.P}:cp:${runId}`, stepId))) ?? undefined;
  }

  async deleteCheckpoint(runId: string, stepId: string): Promise<void> {
    await this.call('delete a checkpoint', () => this.redis.hdel(`${this.P}:cp:${runId}`, stepId));
  }

  async acquireSlot(key: string, runId: string, limit: number): Promise<boolean> {
    return (await this.call('acquire a slot', () => this.redis.durablyAcquireSlot(this.P, key, runId, limit))) === 1;
  }

  async takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number> {
    const win = Math.floor(now / periodMs);
    if (limit < 1) return (win + 1) * periodMs - now;
    const granted = await this.call('take a permit', () => this.redis.durablyTakePermit(this.P, key, limit, win));
    return granted === 1 ? 0 : (win + 1) * periodMs - now;
  }

  /** The Redis server's clock (`TIME`: seconds and microseconds), for the client's clock synchronisation. */
  async serverTime(): Promise<number> {
    const [seconds, micros] = await this.call('read the server time', () => this.redis.time());
    return Number(seconds) * 1000 + Number(micros) / 1000;
  }

  private subscriber?: Redis;
  private readonly finishedListeners = new Set<(runId: string) => void>();

  /** One subscriber connection per storage, on the channel the append script publishes finished run ids to. */
  async subscribeFinished(listener: (runId: string) => void): Promise<() => void> {
    this.finishedListeners.add(listener);
    if (!this.subscriber) {
      const sub = this.redis.duplicate();
      sub.on('error', () => undefined); // ioredis reconnects and re-subscribes by itself
      sub.on('message', (_channel: string, runId: string) => {
        for (const l of this.finishedListeners) l(runId);
      });
      this.subscriber = sub;
      try {
        await sub.subscribe(`${this.P}:finished`);
      } catch (err) {
        this.subscriber = undefined;
        this.finishedListeners.delete(listener);
        sub.disconnect();
        throw new StorageError(this.connection.describe('subscribe to finished runs', err), { cause: err });
      }
    }
    return () => void this.finishedListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
    this.subscriber = undefined;
    if (this.owned) this.redis.disconnect();
  }
}

function splitMember(member: string): [string, string] {
  const i = member.indexOf('|');
  return [member.slice(0, i), member.slice(i + 1)];
}

function toRecord(runId: string, h: Record<string, string>): RunRecord | undefined {
  if (!h || h.workflow === undefined) return undefined;
  const record: RunRecord = {
    runId,
    workflow: h.workflow,
    status: h.status as RunStatus,
    queue: h.queue,
    args: h.args,
    createdAt: Number(h.createdAt),
    updatedAt: Number(h.updatedAt),
    lastSeq: Number(h.lastSeq),
  };
  if (h.result !== undefined) record.result = h.result;
  if (h.error !== undefined) record.error = JSON.parse(h.error);
  if (h.idempotencyKey !== undefined) record.idempotencyKey = h.idempotencyKey;
  if (h.parentRunId !== undefined) record.parentRunId = h.parentRunId;
  if (h.startAt !== undefined) record.startAt = Number(h.startAt);
  if (h.finishedAt !== undefined) record.finishedAt = Number(h.finishedAt);
  if (h.tags !== undefined) record.tags = JSON.parse(h.tags) as string[];
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith('a:')) (record.attributes ??= {})[field.slice(2)] = attributeFromIndexValue(value);
  }
  return record;
}

export type { RedisOptions };
