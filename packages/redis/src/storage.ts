import type { RedisOptions } from 'ioredis';
import {
  AppendConflictError,
  RunNotFoundError,
  StorageError,
  attributeIndexValue,
  type AppendRequest,
  type CreateRunResult,
  type DurablyEvent,
  type HookRecord,
  type NewRun,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type ScheduleRecord,
  type Storage,
  type Timer,
} from '@durably/contracts';
import * as lua from './scripts.js';
import type { Scripted } from './scripts.js';
import { openRedis, type RedisClient, type RedisConnection, type RedisConnectionOptions } from './connection.js';
import { KeyLayout } from './layout.js';
import { listRunsIn, toRecord } from './runs-query.js';
import { ClusterOps } from './cluster-ops.js';


/** Hooks stay readable this long past their expiry, so a late resume says "expired", not "not found". */
const HOOK_GRACE_MS = 7 * 86_400_000;

/**
 * Durably storage on Redis. One Lua script per append does the conditional check, the event push, the
 * run hash and index updates, timers, hooks and slot release atomically. On a single Redis all keys
 * share the hash tag `{prefix}`; on a Redis Cluster each run lives in one of N buckets with its share
 * of the indexes, so the append stays one single-slot script and runs spread over the shards (see
 * KeyLayout, and ClusterOps for what spans slots there).
 */
export class RedisStorage implements Storage {
  private readonly redis: Scripted;
  private readonly L: KeyLayout;
  private readonly owned: boolean;
  private readonly connection: RedisConnection;
  private readonly cluster?: ClusterOps;

  constructor(options: RedisConnectionOptions) {
    const connection = openRedis(options);
    const { redis, owned } = connection;
    this.connection = connection;
    this.owned = owned;
    this.L = new KeyLayout(options.prefix, connection.clustered, options.buckets);
    this.redis = redis as Scripted;
    const define = (name: string, lua: string) => {
      // Every script names one key of its tag first: a cluster client sends it to that key's node.
      if (!(name in this.redis)) this.redis.defineCommand(name, { lua, numberOfKeys: 1 });
    };
    define('durablyCreateRun', lua.CREATE_RUN);
    define('durablyAppend', lua.APPEND);
    define('durablyTouch', lua.TOUCH);
    define('durablyClaimTimers', lua.CLAIM_TIMERS);
    define('durablyDeleteFinished', lua.DELETE_FINISHED);
    define('durablySaveSchedule', lua.SAVE_SCHEDULE);
    define('durablyDeleteSchedule', lua.DELETE_SCHEDULE);
    define('durablyClaimSchedules', lua.CLAIM_SCHEDULES);
    define('durablyAcquireSlot', lua.ACQUIRE_SLOT);
    define('durablyTakePermit', lua.TAKE_PERMIT);
    define('durablyMigrateIdem', lua.MIGRATE_IDEM);
    define('durablyIdemClaim', lua.IDEM_CLAIM);
    define('durablyVoidRun', lua.VOID_RUN);
    define('durablyIdemRelease', lua.IDEM_RELEASE);
    define('durablyReleaseSlots', lua.RELEASE_SLOTS);
    if (this.L.clustered) this.cluster = new ClusterOps(this.redis, this.L, (what, fn) => this.call(what, fn), (id) => this.getRun(id));
  }

  /** The home tag, `{prefix}`. */
  get prefix(): string {
    return this.L.home;
  }

  /** Where the keys live (single Redis, or cluster buckets). */
  get layout(): KeyLayout {
    return this.L;
  }

  private runKey(runId: string): string {
    return `${this.L.runTag(runId)}:run:${runId}`;
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
   * batches, each one atomic; creates meanwhile read both. On a cluster it records the layout (the
   * bucket count) and refuses a client whose layout differs from the recorded one.
   */
  async migrate(): Promise<void> {
    await this.call('connect', () => this.redis.ping());
    if (this.cluster) return this.cluster.checkLayout();
    for (let left = 1; left > 0; ) left = await this.call('migrate idempotency keys', () => this.redis.durablyMigrateIdem(`${this.L.home}:idem`, this.L.home, 500));
  }

  /** The arguments of CREATE_RUN (KEYS[1] first); `claimed` when the idempotency key was claimed apart (cluster). */
  private createArgs(run: NewRun, claimed: boolean): (string | number)[] {
    return [
      this.runKey(run.runId),
      this.L.runTag(run.runId),
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
      claimed ? '1' : '',
    ];
  }

  async createRun(run: NewRun): Promise<CreateRunResult> {
    if (this.cluster && run.idempotencyKey !== undefined) {
      const existing = await this.cluster.createWithKey(run, () => this.call('create a run', () => this.redis.durablyCreateRun(...this.createArgs(run, true))));
      return existing ? { run: existing, created: false } : { run: createdRecord(run), created: true };
    }
    for (let attempt = 0; ; attempt++) {
      const [status, existing] = await this.call('create a run', () => this.redis.durablyCreateRun(...this.createArgs(run, false)));
      if (status !== 'exists') return { run: createdRecord(run), created: true };
      const found = await this.getRun(existing);
      if (found) return { run: found, created: false };
      // Deleted by retention since the script saw it: the next create may succeed.
      if (attempt >= 5) throw new StorageError(`Create run ${run.runId}: its id is taken by a run that cannot be read (an idempotent create that was given up); use another run id.`);
    }
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const h = await this.call('read a run', () => this.redis.hgetall(this.runKey(runId)));
    return toRecord(runId, h);
  }

  async getRunByIdempotencyKey(workflow: string, idempotencyKey: string): Promise<RunRecord | undefined> {
    let runId: string | null;
    if (this.cluster) {
      runId = await this.cluster.idemEntry(workflow, idempotencyKey);
    } else {
      // The per-workflow hash, then the unscoped one of releases before keys were scoped (until migrate() has moved it).
      const P = this.L.home;
      runId =
        (await this.call('read an idempotency key', () => this.redis.hget(`${P}:idem:${workflow}`, idempotencyKey))) ??
        (await this.call('read an idempotency key', () => this.redis.hget(`${P}:idem`, idempotencyKey)));
    }
    if (runId === null) return undefined;
    const run = await this.getRun(runId);
    return run?.workflow === workflow && run.idempotencyKey === idempotencyKey ? run : undefined;
  }

  async listRuns(filter: RunFilter = {}): Promise<RunPage> {
    return listRunsIn(this.redis, this.L.allBuckets(), (what, fn) => this.call(what, fn), filter);
  }

  async append(request: AppendRequest): Promise<void> {
    const { runId, expectedSeq, events } = request;
    events.forEach((e, i) => {
      if (e.seq !== expectedSeq + 1 + i) throw new StorageError(`Append to run ${runId}: event ${i} has seq ${e.seq}, expected ${expectedSeq + 1 + i}.`);
    });
    const p = request.run ?? {};
    // An expiring hook's entry lives on for a grace period, so a late resume says "expired", not "not found".
    const hooks = (request.setHooks ?? []).map((h) => [h.token, JSON.stringify(h), h.expiresAt !== undefined ? Math.max(h.expiresAt, Date.now()) + HOOK_GRACE_MS : 0] as const);
    const control: Record<string, unknown> = {
      updatedAt: events.length > 0 ? Math.max(...events.map((e) => e.at)) : Date.now(),
      // Times as strings: the run's timers field keeps them so (see timer-scripts.ts).
      setTimers: (request.setTimers ?? []).map((t) => [t.timerId, String(t.fireAt)]),
      clearTimers: request.clearTimers ?? [],
      hooks,
      // On a cluster the slots live in the home slot: released by a command of their own once the append is in.
      releaseSlots: request.releaseSlots === true && !this.cluster,
      channel: `${this.L.home}:finished`,
    };
    if (p.status !== undefined) control.status = p.status;
    if (p.result !== undefined) control.result = p.result;
    if (p.error !== undefined) control.error = JSON.stringify(p.error);
    if (p.finishedAt !== undefined) control.finishedAt = p.finishedAt;
    // Typed values are encoded here (Lua would print numbers with 14 digits): the encoding is also what the hash keeps.
    if (p.attributes && Object.keys(p.attributes).length > 0) control.attributes = Object.entries(p.attributes).map(([k, v]) => [k, v === null ? '' : attributeIndexValue(v)]);
    // Cluster: a hook's locator (token -> run) is written before the append that makes the hook, so no hook is ever unfindable.
    if (this.cluster && hooks.length > 0) await this.cluster.locateHooks(runId, hooks);
    // cjson turns [] into {}: empty arrays are sent as such and read back as empty tables either way.
    const [status, last] = await this.call('append events', () =>
      this.redis.durablyAppend(this.runKey(runId), this.L.runTag(runId), runId, expectedSeq, JSON.stringify(control), ...events.map((e) => JSON.stringify(e))),
    );
    if (status === 'ok') {
      if (this.cluster && request.releaseSlots) await this.cluster.releaseSlots(runId);
      return;
    }
    if (status === 'missing') throw new RunNotFoundError(runId);
    throw new AppendConflictError(runId, expectedSeq, Number(last));
  }

  async readEvents(runId: string, fromSeq = 1, limit?: number): Promise<DurablyEvent[]> {
    const from = Math.max(0, fromSeq - 1);
    const to = limit === undefined ? -1 : from + limit - 1;
    if (limit !== undefined && limit <= 0) return [];
    const items = await this.call('read events', () => this.redis.lrange(`${this.L.runTag(runId)}:ev:${runId}`, from, to));
    return items.map((s) => JSON.parse(s) as DurablyEvent);
  }

  async touchRun(runId: string, at: number): Promise<void> {
    await this.call('touch a run', () => this.redis.durablyTouch(this.runKey(runId), this.L.runTag(runId), runId, at));
  }

  /** Claims due timers of one tag (the only one on a single Redis, a bucket on a cluster). */
  async claimTimersIn(P: string, now: number, limit: number, leaseMs: number): Promise<Timer[]> {
    const flat = await this.call('claim timers', () => this.redis.durablyClaimTimers(`${P}:timers`, P, now, limit, now + leaseMs));
    const timers: Timer[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const [runId, timerId] = splitMember(flat[i]);
      timers.push({ runId, timerId, fireAt: Number(flat[i + 1]) });
    }
    return timers;
  }

  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]> {
    if (this.cluster) return this.cluster.claimDueTimers(now, options, (P, n, limit, leaseMs) => this.claimTimersIn(P, n, limit, leaseMs));
    return this.claimTimersIn(this.L.home, now, options.limit, options.leaseMs);
  }

  async listTimers(runId: string): Promise<Timer[]> {
    const P = this.L.runTag(runId);
    const [inline, spilled] = await this.call('list timers', () => this.redis.hmget(this.runKey(runId), 'timers', 'to'));
    const timers: Timer[] = [];
    // cjson writes an empty table as {} (never []): either way no entries.
    for (const [timerId, e] of Object.entries(JSON.parse(inline ?? '{}') as Record<string, [string, string?]>)) timers.push({ runId, timerId, fireAt: Number(e[0]) });
    // Timers past the ones kept in the run's hash, and every timer of a run of an older release (see timer-scripts.ts).
    if (inline === null || Number(spilled) > 0) {
      const ids = await this.call('list timers', () => this.redis.smembers(`${P}:rt:${runId}`));
      for (const timerId of ids) {
        const score = await this.call('list timers', () => this.redis.zscore(`${P}:timers`, `${runId}|${timerId}`));
        if (score !== null) timers.push({ runId, timerId, fireAt: Number(score) });
      }
    }
    return timers.sort((a, b) => a.fireAt - b.fireAt);
  }

  async getHook(token: string): Promise<HookRecord | undefined> {
    let P = this.L.home;
    if (this.cluster) {
      const runId = await this.call('read a hook', () => this.redis.get(this.L.hookLocator(token)));
      // No locator: no such hook. A locator whose run has no record: a hook whose append never happened.
      if (runId === null) return undefined;
      P = this.L.runTag(runId);
    }
    const raw = await this.call('read a hook', () => this.redis.get(`${P}:hook:${token}`));
    return raw ? (JSON.parse(raw) as HookRecord) : undefined;
  }

  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    if (this.cluster) return this.cluster.deleteFinishedRuns(finishedBefore, limit);
    return Number(await this.call('delete finished runs', () => this.redis.durablyDeleteFinished(`${this.L.home}:idx:finished`, this.L.home, finishedBefore, limit, '')));
  }

  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean> {
    const buffered = schedule.bufferedSlot !== undefined || (schedule.bufferedSlots?.length ?? 0) > 0;
    const score = buffered ? 0 : (schedule.nextFireAt ?? '');
    const P = this.L.home;
    const ok = await this.call('save a schedule', () =>
      this.redis.durablySaveSchedule(`${P}:sched:ids`, P, schedule.scheduleId, JSON.stringify(schedule), schedule.version, expectedVersion ?? '', schedule.paused ? '1' : '0', score),
    );
    return ok === 1;
  }

  async getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    const raw = await this.call('read a schedule', () => this.redis.hget(`${this.L.home}:sched:${scheduleId}`, 'json'));
    return raw ? (JSON.parse(raw) as ScheduleRecord) : undefined;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const ids = (await this.call('list schedules', () => this.redis.smembers(`${this.L.home}:sched:ids`))).sort();
    const out: ScheduleRecord[] = [];
    for (const id of ids) {
      const s = await this.getSchedule(id);
      if (s) out.push(s);
    }
    return out;
  }

  async deleteSchedule(scheduleId: string): Promise<boolean> {
    const P = this.L.home;
    return (await this.call('delete a schedule', () => this.redis.durablyDeleteSchedule(`${P}:sched:ids`, P, scheduleId))) === 1;
  }

  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]> {
    const P = this.L.home;
    const raws = await this.call('claim schedules', () => this.redis.durablyClaimSchedules(`${P}:sched:due`, P, now, options.limit, now + options.leaseMs));
    return raws.map((r) => JSON.parse(r) as ScheduleRecord);
  }

  async putCheckpoint(runId: string, stepId: string, value: string): Promise<void> {
    await this.call('save a checkpoint', () => this.redis.hset(`${this.L.runTag(runId)}:cp:${runId}`, stepId, value));
  }

  async getCheckpoint(runId: string, stepId: string): Promise<string | undefined> {
    return (await this.call('read a checkpoint', () => this.redis.hget(`${this.L.runTag(runId)}:cp:${runId}`, stepId))) ?? undefined;
  }

  async deleteCheckpoint(runId: string, stepId: string): Promise<void> {
    await this.call('delete a checkpoint', () => this.redis.hdel(`${this.L.runTag(runId)}:cp:${runId}`, stepId));
  }

  async acquireSlot(key: string, runId: string, limit: number): Promise<boolean> {
    const P = this.L.home;
    const acquire = async () => (await this.call('acquire a slot', () => this.redis.durablyAcquireSlot(`${P}:slot:${key}`, P, key, runId, limit))) === 1;
    if (await acquire()) return true;
    // Cluster: a run that finished without its slots released (the process died between the two writes) gives them back now.
    return this.cluster ? (await this.cluster.repairSlot(key, runId)) && acquire() : false;
  }

  async takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number> {
    const win = Math.floor(now / periodMs);
    if (limit < 1) return (win + 1) * periodMs - now;
    const P = this.L.home;
    const granted = await this.call('take a permit', () => this.redis.durablyTakePermit(`${P}:permit:${key}`, P, key, limit, win));
    return granted === 1 ? 0 : (win + 1) * periodMs - now;
  }

  /** The Redis server's clock (`TIME`: seconds and microseconds), for the client's clock synchronisation. */
  async serverTime(): Promise<number> {
    const [seconds, micros] = await this.call('read the server time', () => this.redis.time());
    return Number(seconds) * 1000 + Number(micros) / 1000;
  }

  private subscriber?: RedisClient;
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
        await sub.subscribe(`${this.L.home}:finished`);
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

/** A run created as given: the record is known without reading it back. */
function createdRecord(run: NewRun): RunRecord {
  const created: RunRecord = { runId: run.runId, workflow: run.workflow, status: 'pending', queue: run.queue, args: run.args, createdAt: run.createdAt, updatedAt: run.createdAt, lastSeq: 1 };
  if (run.idempotencyKey !== undefined) created.idempotencyKey = run.idempotencyKey;
  if (run.parentRunId !== undefined) created.parentRunId = run.parentRunId;
  if (run.startAt !== undefined) created.startAt = run.startAt;
  if (run.tags?.length) created.tags = [...new Set(run.tags)];
  return created;
}

function splitMember(member: string): [string, string] {
  const i = member.indexOf('|');
  return [member.slice(0, i), member.slice(i + 1)];
}

export type { RedisOptions };
