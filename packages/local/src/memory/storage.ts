import {
  type DurablyEvent,
  AppendConflictError,
  RunNotFoundError,
  StorageError,
  type AppendRequest,
  type CreateRunResult,
  type HookRecord,
  type NewRun,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type ScheduleRecord,
  type Storage,
  type Timer,
  decodeCursor,
  encodeCursor,
  pageLimit,
  attributeIndexValue,
  attributesMatch,
  type AttributePatch,
} from '@durably/contracts';

interface StoredRun {
  record: RunRecord;
  events: DurablyEvent[];
  timers: Map<string, { fireAt: number; leaseUntil: number }>;
}

/**
 * In-memory storage: every guarantee of the contract, nothing survives the process. For tests and
 * for `memory:`. All methods are synchronous underneath, so each is atomic with respect to the others.
 */
export class MemoryStorage implements Storage {
  private readonly runs = new Map<string, StoredRun>();
  /** (workflow, idempotency key) -> runId. */
  private readonly byKey = new Map<string, string>();
  private readonly hooks = new Map<string, HookRecord>();
  private readonly schedules = new Map<string, { record: ScheduleRecord; leaseUntil: number }>();
  private readonly slots = new Map<string, Set<string>>();
  private readonly checkpoints = new Map<string, string>();
  private readonly permits = new Map<string, { window: number; used: number }>();
  /** Runs ordered by (createdAt, runId) ascending, for paging; appended in order in the common case. */
  private ordered: RunRecord[] = [];
  /** Search attribute index: `key\ntyped value` -> the runs that have it. */
  private readonly byAttribute = new Map<string, Set<string>>();
  private closed = false;

  async migrate(): Promise<void> {
    this.check();
  }

  async createRun(run: NewRun): Promise<CreateRunResult> {
    this.check();
    if (run.idempotencyKey !== undefined) {
      const existing = this.byKey.get(keyOf(run.workflow, run.idempotencyKey));
      if (existing) return { run: copyRecord(this.runs.get(existing)!.record), created: false };
    }
    const same = this.runs.get(run.runId);
    if (same) return { run: copyRecord(same.record), created: false };
    const record: RunRecord = {
      runId: run.runId,
      workflow: run.workflow,
      status: 'pending',
      queue: run.queue,
      args: run.args,
      createdAt: run.createdAt,
      updatedAt: run.createdAt,
      lastSeq: 1,
    };
    if (run.idempotencyKey !== undefined) record.idempotencyKey = run.idempotencyKey;
    if (run.parentRunId !== undefined) record.parentRunId = run.parentRunId;
    if (run.startAt !== undefined) record.startAt = run.startAt;
    if (run.tags?.length) record.tags = [...run.tags];
    this.runs.set(run.runId, { record, events: [{ ...run.firstEvent, seq: 1 } as DurablyEvent], timers: new Map() });
    if (run.idempotencyKey !== undefined) this.byKey.set(keyOf(run.workflow, run.idempotencyKey), run.runId);
    this.insertOrdered(record);
    return { run: { ...record }, created: true };
  }

  private insertOrdered(record: RunRecord): void {
    const last = this.ordered[this.ordered.length - 1];
    if (!last || compare(last, record) < 0) {
      this.ordered.push(record);
      return;
    }
    let lo = 0;
    let hi = this.ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(this.ordered[mid], record) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.ordered.splice(lo, 0, record);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    this.check();
    const run = this.runs.get(runId);
    return run ? copyRecord(run.record) : undefined;
  }

  async getRunByIdempotencyKey(workflow: string, idempotencyKey: string): Promise<RunRecord | undefined> {
    this.check();
    const runId = this.byKey.get(keyOf(workflow, idempotencyKey));
    return runId === undefined ? undefined : this.getRun(runId);
  }

  async listRuns(filter: RunFilter = {}): Promise<RunPage> {
    this.check();
    const limit = pageLimit(filter.limit);
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    const statuses = filter.status === undefined ? undefined : new Set(Array.isArray(filter.status) ? filter.status : [filter.status]);
    // Walk newest first, starting below the cursor.
    let i = this.ordered.length - 1;
    if (after) {
      let lo = 0;
      let hi = this.ordered.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compare(this.ordered[mid], after) < 0) lo = mid + 1;
        else hi = mid;
      }
      i = lo - 1;
    }
    const runs: RunRecord[] = [];
    let more = false;
    // With attributes, walk the runs of the rarest (key, value) index entry instead of every run.
    const candidates = filter.attributes && Object.keys(filter.attributes).length > 0 ? this.attributeCandidates(filter.attributes, after) : undefined;
    if (candidates) i = candidates.length - 1;
    for (; i >= 0; i--) {
      const r = candidates ? candidates[i] : this.ordered[i];
      if (!attributesMatch(r.attributes, filter.attributes)) continue;
      if (filter.workflow !== undefined && r.workflow !== filter.workflow) continue;
      if (statuses && !statuses.has(r.status)) continue;
      if (filter.parentRunId !== undefined && r.parentRunId !== filter.parentRunId) continue;
      if (filter.createdAfter !== undefined && r.createdAt < filter.createdAfter) continue;
      if (filter.createdBefore !== undefined && r.createdAt >= filter.createdBefore) continue;
      if (filter.updatedBefore !== undefined && r.updatedAt >= filter.updatedBefore) continue;
      if (filter.tags?.length && !filter.tags.every((t) => r.tags?.includes(t))) continue;
      if (runs.length === limit) {
        more = true;
        break;
      }
      runs.push(copyRecord(r));
    }
    const last = runs[runs.length - 1];
    return more && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.runId) } : { runs };
  }

  /** The runs indexed under every (key, value) of `filter`, oldest first, below the cursor. */
  private attributeCandidates(filter: Record<string, string | number | boolean>, after: { createdAt: number; runId: string } | undefined): RunRecord[] {
    let smallest: Set<string> | undefined;
    for (const [key, value] of Object.entries(filter)) {
      const set = this.byAttribute.get(attributeKey(key, value));
      if (!set) return [];
      if (!smallest || set.size < smallest.size) smallest = set;
    }
    const records = [...smallest!].map((id) => this.runs.get(id)!.record);
    return records.filter((r) => !after || compare(r, after) < 0).sort(compare);
  }

  /** Merges a patch into the record's attributes and moves the run's index entries with it. */
  private patchAttributes(r: RunRecord, patch: AttributePatch): void {
    const next = { ...r.attributes };
    for (const [key, value] of Object.entries(patch)) {
      const old = next[key];
      if (old !== undefined) this.unindex(r.runId, key, old);
      if (value === null) {
        delete next[key];
        continue;
      }
      next[key] = value;
      const k = attributeKey(key, value);
      let set = this.byAttribute.get(k);
      if (!set) this.byAttribute.set(k, (set = new Set()));
      set.add(r.runId);
    }
    if (Object.keys(next).length > 0) r.attributes = next;
    else delete r.attributes;
  }

  /** Takes the run out of the index entry of (key, value), and drops the entry once empty. */
  private unindex(runId: string, key: string, value: string | number | boolean): void {
    const k = attributeKey(key, value);
    const set = this.byAttribute.get(k);
    set?.delete(runId);
    if (set?.size === 0) this.byAttribute.delete(k);
  }

  async append(request: AppendRequest): Promise<void> {
    this.check();
    const run = this.runs.get(request.runId);
    if (!run) throw new RunNotFoundError(request.runId);
    if (run.record.lastSeq !== request.expectedSeq) throw new AppendConflictError(request.runId, request.expectedSeq, run.record.lastSeq);
    request.events.forEach((e, i) => {
      if (e.seq !== request.expectedSeq + 1 + i) throw new StorageError(`Append to run ${request.runId}: event ${i} has seq ${e.seq}, expected ${request.expectedSeq + 1 + i}.`);
    });
    for (const e of request.events) run.events.push(structuredClone(e));
    const r = run.record;
    if (request.run) {
      const { status, result, error, finishedAt } = request.run;
      if (status !== undefined) r.status = status;
      if (result !== undefined) r.result = result;
      if (error !== undefined) r.error = structuredClone(error);
      if (finishedAt !== undefined) r.finishedAt = finishedAt;
      if (request.run.attributes) this.patchAttributes(r, request.run.attributes);
    }
    r.lastSeq = request.expectedSeq + request.events.length;
    r.updatedAt = request.events.length > 0 ? Math.max(...request.events.map((e) => e.at)) : Date.now();
    for (const t of request.setTimers ?? []) run.timers.set(t.timerId, { fireAt: t.fireAt, leaseUntil: 0 });
    for (const id of request.clearTimers ?? []) run.timers.delete(id);
    for (const h of request.setHooks ?? []) this.hooks.set(h.token, { ...h });
    if (request.releaseSlots) for (const holders of this.slots.values()) holders.delete(request.runId);
  }

  async putCheckpoint(runId: string, stepId: string, value: string): Promise<void> {
    this.check();
    this.checkpoints.set(`${runId}\n${stepId}`, value);
  }

  async getCheckpoint(runId: string, stepId: string): Promise<string | undefined> {
    this.check();
    return this.checkpoints.get(`${runId}\n${stepId}`);
  }

  async deleteCheckpoint(runId: string, stepId: string): Promise<void> {
    this.check();
    this.checkpoints.delete(`${runId}\n${stepId}`);
  }

  async acquireSlot(key: string, runId: string, limit: number): Promise<boolean> {
    this.check();
    let holders = this.slots.get(key);
    if (!holders) this.slots.set(key, (holders = new Set()));
    if (holders.has(runId)) return true;
    if (holders.size >= limit) return false;
    holders.add(runId);
    return true;
  }

  async takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number> {
    this.check();
    const window = Math.floor(now / periodMs);
    const entry = this.permits.get(key);
    if (!entry || entry.window !== window) {
      this.permits.set(key, { window, used: 1 });
      return limit >= 1 ? 0 : (window + 1) * periodMs - now;
    }
    if (entry.used < limit) {
      entry.used++;
      return 0;
    }
    return (window + 1) * periodMs - now;
  }

  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    this.check();
    const doomed: string[] = [];
    for (const [runId, run] of this.runs) {
      if (doomed.length >= limit) break;
      const f = run.record.finishedAt;
      if (f !== undefined && f < finishedBefore && FINISHED.has(run.record.status)) doomed.push(runId);
    }
    for (const runId of doomed) {
      const run = this.runs.get(runId)!;
      this.runs.delete(runId);
      if (run.record.idempotencyKey !== undefined) this.byKey.delete(keyOf(run.record.workflow, run.record.idempotencyKey));
      for (const [token, hook] of this.hooks) if (hook.runId === runId) this.hooks.delete(token);
      for (const key of this.checkpoints.keys()) if (key.startsWith(`${runId}\n`)) this.checkpoints.delete(key);
      for (const [key, value] of Object.entries(run.record.attributes ?? {})) this.unindex(runId, key, value);
    }
    if (doomed.length > 0) {
      const gone = new Set(doomed);
      this.ordered = this.ordered.filter((r) => !gone.has(r.runId));
    }
    return doomed.length;
  }

  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean> {
    this.check();
    const existing = this.schedules.get(schedule.scheduleId);
    if (expectedVersion === 0 ? existing !== undefined : expectedVersion !== undefined && existing?.record.version !== expectedVersion) return false;
    this.schedules.set(schedule.scheduleId, { record: structuredClone(schedule), leaseUntil: 0 });
    return true;
  }

  async getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    this.check();
    const s = this.schedules.get(scheduleId);
    return s ? structuredClone(s.record) : undefined;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    this.check();
    return [...this.schedules.values()].map((s) => structuredClone(s.record)).sort((a, b) => (a.scheduleId < b.scheduleId ? -1 : 1));
  }

  async deleteSchedule(scheduleId: string): Promise<boolean> {
    this.check();
    return this.schedules.delete(scheduleId);
  }

  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]> {
    this.check();
    const due = [...this.schedules.values()]
      .filter((s) => !s.record.paused && s.leaseUntil <= now && ((s.record.nextFireAt !== undefined && s.record.nextFireAt <= now) || isBuffered(s.record)))
      .sort((a, b) => (a.record.nextFireAt ?? 0) - (b.record.nextFireAt ?? 0))
      .slice(0, options.limit);
    for (const s of due) s.leaseUntil = now + options.leaseMs;
    return due.map((s) => structuredClone(s.record));
  }

  async getHook(token: string): Promise<HookRecord | undefined> {
    this.check();
    const h = this.hooks.get(token);
    return h ? { ...h } : undefined;
  }

  async readEvents(runId: string, fromSeq = 1, limit?: number): Promise<DurablyEvent[]> {
    this.check();
    const run = this.runs.get(runId);
    if (!run) return [];
    const start = Math.max(0, fromSeq - 1);
    const end = limit === undefined ? undefined : start + limit;
    return structuredClone(run.events.slice(start, end));
  }

  async touchRun(runId: string, at: number): Promise<void> {
    this.check();
    const run = this.runs.get(runId);
    if (run) run.record.updatedAt = at;
  }

  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]> {
    this.check();
    // A scan over all timers: fine for tests and small in-process use, which is what memory: is for.
    const due: Array<Timer & { entry: { leaseUntil: number } }> = [];
    for (const [runId, run] of this.runs) {
      for (const [timerId, entry] of run.timers) {
        if (entry.fireAt <= now && entry.leaseUntil <= now) due.push({ runId, timerId, fireAt: entry.fireAt, entry });
      }
    }
    due.sort((a, b) => a.fireAt - b.fireAt);
    return due.slice(0, options.limit).map(({ entry, ...timer }) => {
      entry.leaseUntil = now + options.leaseMs;
      return timer;
    });
  }

  async listTimers(runId: string): Promise<Timer[]> {
    this.check();
    const run = this.runs.get(runId);
    if (!run) return [];
    return [...run.timers].map(([timerId, t]) => ({ runId, timerId, fireAt: t.fireAt })).sort((a, b) => a.fireAt - b.fireAt);
  }

  /** The machine's clock: every client of an in-memory storage lives in this process and shares it. */
  async serverTime(): Promise<number> {
    this.check();
    return Date.now();
  }

  async close(): Promise<void> {
    // Clients share one MemoryStorage; closing is a no-op so that one client closing does not break the others.
  }

  private check(): void {
    if (this.closed) throw new StorageError('This MemoryStorage is closed.');
  }
}

/** Idempotency keys are unique per workflow. */
function keyOf(workflow: string, idempotencyKey: string): string {
  return `${workflow}\n${idempotencyKey}`;
}

function attributeKey(key: string, value: string | number | boolean): string {
  return `${key}\n${attributeIndexValue(value)}`;
}

function isBuffered(s: ScheduleRecord): boolean {
  return s.bufferedSlot !== undefined || (s.bufferedSlots?.length ?? 0) > 0;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled', 'continued']);

function compare(a: { createdAt: number; runId: string }, b: { createdAt: number; runId: string }): number {
  return a.createdAt - b.createdAt || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0);
}

function copyRecord(r: RunRecord): RunRecord {
  const copy = { ...r };
  if (r.tags) copy.tags = [...r.tags];
  if (r.attributes) copy.attributes = { ...r.attributes };
  if (r.error) copy.error = structuredClone(r.error);
  return copy;
}
