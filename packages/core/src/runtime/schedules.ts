import { Cron } from 'croner';
import type { RunStarter } from './host.js';
import { isWorkflow, type CalendarSpec, type ScheduleOptions, type Workflow } from '../engine/definitions.js';

export type { CalendarSpec, ScheduleOptions } from '../engine/definitions.js';
import {
  parseDuration,
  DurablyError,
  InvalidArgumentError,
  ScheduleNotFoundError,
  type Logger,
  checkPayload,
  serialize,
  FINISHED_STATUSES,
  type OverlapPolicy,
  type ScheduleRecord,
  checkQueue,
  checkScheduleId,
  WORKFLOW_REF_PATTERN,
} from '@durably/contracts';

const CALENDAR_RANGES: Record<keyof CalendarSpec, [number, number]> = { minute: [0, 59], hour: [0, 23], dayOfMonth: [1, 31], month: [1, 12], dayOfWeek: [0, 6] };

/** Turns calendar fields into the equivalent cron expression. */
export function calendarToCron(spec: CalendarSpec): string {
  const field = (name: keyof CalendarSpec, fallback: string): string => {
    const value = spec[name];
    if (value === undefined) return fallback;
    const list = Array.isArray(value) ? value : [value];
    const [lo, hi] = CALENDAR_RANGES[name];
    if (list.length === 0 || list.some((v) => !Number.isInteger(v) || v < lo || v > hi)) {
      throw new InvalidArgumentError(`schedule(): calendar.${name} must be whole numbers from ${lo} to ${hi}, got ${JSON.stringify(value)}.`);
    }
    return [...new Set(list)].sort((a, b) => a - b).join(',');
  };
  const onlyMinute = spec.minute !== undefined && spec.hour === undefined && spec.dayOfMonth === undefined && spec.month === undefined && spec.dayOfWeek === undefined;
  return [field('minute', '0'), field('hour', onlyMinute ? '*' : '0'), field('dayOfMonth', '*'), field('month', '*'), field('dayOfWeek', '*')].join(' ');
}

const MAX_CATCH_UP = 1000;
/** With catchUp "none", a slot this late still counts as on time. */
const ON_TIME_MS = 60_000;

function normalizeOverlap(value: ScheduleOptions<unknown[]>['overlap']): OverlapPolicy {
  const v = (value ?? 'skip').replace(' ', '_');
  if (v === 'skip' || v === 'buffer_one' || v === 'buffer_all' || v === 'allow_all' || v === 'cancel_previous') return v;
  throw new InvalidArgumentError(`schedule(): overlap must be "skip", "buffer_one", "buffer_all", "allow_all" or "cancel_previous", got ${JSON.stringify(value)}.`);
}

/** The first slot strictly after `after`, if it is not past the schedule's end. */
function nextSlotOf(s: ScheduleRecord, after: number): number | undefined {
  const next = nextSlot(s.spec, anchorOf(s), after);
  return next !== undefined && s.endAt !== undefined && next > s.endAt ? undefined : next;
}

/** How many slots of a schedule fall in (after, until], counting at most `max + 1` (enough to tell "more than max"). */
export function countSlots(s: ScheduleRecord, after: number, until: number, max: number): number {
  let n = 0;
  for (let slot = nextSlotOf(s, after); slot !== undefined && slot <= until && n <= max; slot = nextSlotOf(s, slot)) n++;
  return n;
}

/** The first slot strictly after `after`. */
export function nextSlot(spec: ScheduleRecord['spec'], anchor: number, after: number): number | undefined {
  if (spec.everyMs !== undefined) {
    if (after < anchor) return anchor;
    return anchor + (Math.floor((after - anchor) / spec.everyMs) + 1) * spec.everyMs;
  }
  const next = new Cron(spec.cron!, { timezone: spec.timezone, paused: true }).nextRun(new Date(after));
  return next ? next.getTime() : undefined;
}

/** An IANA time zone name the runtime knows (Intl); else InvalidArgumentError naming it. */
function checkTimeZone(timezone: unknown): void {
  let known = typeof timezone === 'string' && timezone !== '';
  if (known) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone as string });
    } catch {
      known = false;
    }
  }
  if (!known) {
    throw new InvalidArgumentError(`schedule(): time zone ${JSON.stringify(timezone)} is not an IANA time zone name. Use one such as "UTC", "Europe/Paris" or "America/New_York".`);
  }
}

/** Builds and validates a schedule record (not yet saved). */
export function buildSchedule<A extends unknown[]>(
  scheduleId: string,
  wf: Workflow<A, unknown> | string,
  options: ScheduleOptions<A>,
  now: number,
  maxPayloadBytes: number,
): ScheduleRecord {
  checkScheduleId(scheduleId, 'schedule()');
  // By name (the CLI, the dashboard): the workers that run it hold its definition.
  const def = typeof wf === 'string' ? { name: wf, queue: 'default' } : isWorkflow(wf) ? wf.definition : undefined;
  if (!def || !WORKFLOW_REF_PATTERN.test(def.name)) throw new InvalidArgumentError('schedule(): the second argument must be a workflow made with workflow(name, fn), or its name.');
  const given = [options.cron, options.every, options.calendar].filter((x) => x !== undefined).length;
  if (given !== 1) {
    throw new InvalidArgumentError('schedule(): give exactly one of "cron" (with an optional "timezone"), "calendar" (with an optional "timezone") or "every".');
  }
  const spec: ScheduleRecord['spec'] = {};
  const cron = options.calendar !== undefined ? calendarToCron(options.calendar) : options.cron;
  if (cron !== undefined) {
    if (options.timezone !== undefined) checkTimeZone(options.timezone);
    try {
      new Cron(cron, { timezone: options.timezone, paused: true }).nextRun();
    } catch (err) {
      throw new InvalidArgumentError(
        `schedule(): cron ${JSON.stringify(cron)} is invalid: ${(err as Error).message.replace(/\.$/, '')}. ` +
          'Use 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, such as "0 9 * * MON-FRI".',
      );
    }
    spec.cron = cron;
    if (options.timezone !== undefined) spec.timezone = options.timezone;
  } else {
    if (options.timezone !== undefined) {
      throw new InvalidArgumentError(`schedule(): "timezone" (${JSON.stringify(options.timezone)}) applies to "cron" and "calendar"; an "every" interval does not depend on a time zone. Remove "timezone", or use "cron".`);
    }
    spec.everyMs = parseDuration(options.every!, 'schedule({ every })');
    if (spec.everyMs < 10) throw new InvalidArgumentError('schedule(): "every" must be at least 10 ms.');
  }
  const catchUp = options.catchUp ?? 'latest';
  if (!['none', 'latest', 'all'].includes(catchUp)) throw new InvalidArgumentError(`schedule(): catchUp must be "none", "latest" or "all", got ${JSON.stringify(catchUp)}.`);
  const anchor = options.startAt?.getTime() ?? now;
  if (Number.isNaN(anchor)) throw new InvalidArgumentError('schedule(): startAt is an invalid Date.');
  const args = checkPayload(serialize(options.args ?? [], `the arguments of schedule "${scheduleId}"`), `The arguments of schedule "${scheduleId}"`, { maxPayloadBytes });
  const record: ScheduleRecord = {
    scheduleId,
    workflow: def.name,
    queue: options.queue === undefined ? def.queue : checkQueue(options.queue, 'schedule()'),
    args,
    spec,
    overlap: normalizeOverlap(options.overlap),
    catchUp,
    paused: false,
    // An interval's first slot is one interval from now (or startAt itself when given).
    nextFireAt: spec.everyMs !== undefined ? (options.startAt ? anchor : anchor + spec.everyMs) : nextSlot(spec, anchor, anchor - 1),
    createdAt: now,
    updatedAt: now,
    version: 1,
    stats: { fired: 0, skipped: 0, running: [] },
    history: [{ at: now, action: 'created' }],
  };
  if (options.endAt !== undefined) {
    record.endAt = options.endAt.getTime();
    if (Number.isNaN(record.endAt)) throw new InvalidArgumentError('schedule(): endAt is an invalid Date.');
    if (record.nextFireAt !== undefined && record.nextFireAt > record.endAt) record.nextFireAt = undefined;
  }
  if (options.jitter !== undefined) record.jitterMs = parseDuration(options.jitter, 'schedule({ jitter })');
  if (record.nextFireAt === undefined && record.endAt === undefined) throw new InvalidArgumentError(`schedule(): cron ${JSON.stringify(cron)} never fires.`);
  return record;
}

/**
 * Starts the run of one slot. The idempotency key is the slot's, so the scheduler, a backfill and a
 * racing scheduler all start at most one run per slot; the run sees the slot as context().scheduledAt.
 */
function startSlot(client: RunStarter, s: ScheduleRecord, slot: number) {
  const jitter = s.jitterMs ? Math.floor(Math.random() * s.jitterMs) : 0;
  return client.startSerialized(s.workflow, s.queue, s.args, {
    idempotencyKey: `schedule:${s.scheduleId}:${slot}`,
    scheduledAt: slot,
    scheduleId: s.scheduleId,
    startAt: jitter > 0 ? client.clock() + jitter : undefined,
  });
}

function noteHistory(s: ScheduleRecord, at: number, action: string, detail?: string): void {
  s.history = [...(s.history ?? []), detail === undefined ? { at, action } : { at, action, detail }].slice(-100);
}

/** Interval schedules count slots from their first slot; cron schedules from the calendar. */
function anchorOf(s: ScheduleRecord): number {
  return s.spec.everyMs !== undefined ? (s.lastFireAt ?? s.nextFireAt ?? s.createdAt) : s.createdAt;
}

/**
 * Fires due schedule slots. Every worker runs one; storage leases keep two from working on one
 * schedule at once, and each slot's run is created with the idempotency key `schedule:<id>:<slot>`,
 * so even a scheduler that lost its lease cannot fire a slot twice.
 */
export class Scheduler {
  constructor(
    private readonly client: RunStarter,
    private readonly logger: Logger,
  ) {}

  async tick(): Promise<number> {
    const now = this.client.clock();
    const due = await this.client.storage.claimDueSchedules(now, { limit: 50, leaseMs: 30_000 });
    let fired = 0;
    for (const schedule of due) {
      try {
        fired += await this.advance(schedule, now);
      } catch (err) {
        this.logger.error('schedule failed to fire', { scheduleId: schedule.scheduleId, error: String(err) });
      }
    }
    return fired;
  }

  private async advance(s: ScheduleRecord, now: number): Promise<number> {
    const version = s.version;
    let fired = 0;
    await this.pruneRunning(s);
    if (s.bufferedSlot !== undefined && !(await this.previousRunning(s))) {
      const slot = s.bufferedSlot;
      s.bufferedSlot = undefined;
      fired += await this.start(s, slot);
    }
    if (s.bufferedSlots?.length && !(await this.previousRunning(s))) {
      fired += await this.start(s, s.bufferedSlots.shift()!);
      if (s.bufferedSlots.length === 0) s.bufferedSlots = undefined;
    }
    if (s.nextFireAt !== undefined && s.nextFireAt <= now) {
      const missed: number[] = [];
      for (let slot: number | undefined = s.nextFireAt; slot !== undefined && slot <= now && missed.length < MAX_CATCH_UP; slot = nextSlotOf(s, slot)) {
        missed.push(slot);
      }
      const slots = s.catchUp === 'all' ? missed : s.catchUp === 'latest' ? missed.slice(-1) : missed.filter((t) => now - t <= ON_TIME_MS).slice(-1);
      for (const slot of slots) fired += await this.fire(s, slot);
      s.nextFireAt = nextSlotOf(s, Math.max(now, missed.at(-1) ?? now));
    }
    s.version = version + 1;
    s.updatedAt = now;
    if (!(await this.client.storage.saveSchedule(s, version))) {
      // Changed meanwhile (paused, edited, or advanced by another scheduler): its write wins.
      this.logger.info('schedule changed while firing; keeping the newer version', { scheduleId: s.scheduleId });
    }
    return fired;
  }

  /** Statistics stay true: runs that finished leave the running list. */
  private async pruneRunning(s: ScheduleRecord): Promise<void> {
    s.stats ??= { fired: 0, skipped: 0, running: [] };
    const still: string[] = [];
    for (const runId of s.stats.running) {
      const run = await this.client.storage.getRun(runId);
      if (run && !FINISHED_STATUSES.has(run.status)) still.push(runId);
    }
    s.stats.running = still;
  }

  private async previousRunning(s: ScheduleRecord): Promise<boolean> {
    if (!s.lastRunId) return false;
    const run = await this.client.storage.getRun(s.lastRunId);
    return run !== undefined && !FINISHED_STATUSES.has(run.status);
  }

  /** Applies the overlap policy to one slot. */
  private async fire(s: ScheduleRecord, slot: number): Promise<number> {
    if (s.overlap !== 'allow_all' && (await this.previousRunning(s))) {
      if (s.overlap === 'skip') {
        this.logger.info('schedule slot skipped: the previous run is still running', { scheduleId: s.scheduleId, slot: new Date(slot).toISOString() });
        s.stats!.skipped++;
        return 0;
      }
      if (s.overlap === 'buffer_one') {
        if (s.bufferedSlot !== undefined) s.stats!.skipped++;
        s.bufferedSlot = slot;
        return 0;
      }
      if (s.overlap === 'buffer_all') {
        (s.bufferedSlots ??= []).push(slot);
        return 0;
      }
      await this.client.cancel(s.lastRunId!, `schedule ${s.scheduleId}: a new slot started`).catch(() => undefined);
    }
    return this.start(s, slot);
  }

  private async start(s: ScheduleRecord, slot: number): Promise<number> {
    const { runId, created } = await startSlot(this.client, s, slot);
    s.lastRunId = runId;
    s.lastFireAt = Math.max(s.lastFireAt ?? 0, slot);
    if (created) {
      s.stats ??= { fired: 0, skipped: 0, running: [] };
      s.stats.fired++;
      s.stats.running.push(runId);
    }
    return created ? 1 : 0;
  }
}

/** Client-side schedule management (create or replace, pause, resume, trigger, delete, list). */
export class Schedules {
  constructor(private readonly client: RunStarter) {}

  /** `wf`: the workflow, or its name (runs go to `options.queue`, default "default"). */
  async create<A extends unknown[]>(scheduleId: string, wf: Workflow<A, unknown> | string, options: ScheduleOptions<A>): Promise<ScheduleRecord> {
    await this.client.ensureReady();
    const record = buildSchedule(scheduleId, wf, options, this.client.clock(), this.client.limits.maxPayloadBytes);
    const existing = await this.client.storage.getSchedule(scheduleId);
    if (existing) {
      record.version = existing.version + 1;
      record.lastRunId = existing.lastRunId;
      record.lastFireAt = existing.lastFireAt;
      record.createdAt = existing.createdAt;
      record.stats = existing.stats ?? record.stats;
      record.history = existing.history ?? [];
      noteHistory(record, this.client.clock(), 'updated');
    }
    await this.client.storage.saveSchedule(record);
    return record;
  }

  get(scheduleId: string): Promise<ScheduleRecord | undefined> {
    return this.client.storage.getSchedule(scheduleId);
  }

  list(): Promise<ScheduleRecord[]> {
    return this.client.storage.listSchedules();
  }

  async pause(scheduleId: string): Promise<void> {
    await this.update(scheduleId, (s) => {
      s.paused = true;
      noteHistory(s, this.client.clock(), 'paused');
    });
  }

  /** Resumes from now: slots that passed while paused are not fired. */
  async resume(scheduleId: string): Promise<void> {
    const now = this.client.clock();
    await this.update(scheduleId, (s) => {
      s.paused = false;
      s.nextFireAt = nextSlotOf(s, now);
      noteHistory(s, now, 'resumed');
    });
  }

  /** Starts a run now, outside the slots (the next slot is unchanged). */
  async trigger(scheduleId: string): Promise<string> {
    const s = await this.require(scheduleId);
    const now = this.client.clock();
    // The run knows its schedule, and the trigger time as its slot (context().scheduledAt).
    const { runId } = await this.client.startSerialized(s.workflow, s.queue, s.args, { idempotencyKey: `schedule:${scheduleId}:manual:${now}`, scheduledAt: now, scheduleId });
    await this.update(scheduleId, (rec) => {
      rec.lastRunId = runId;
      rec.stats ??= { fired: 0, skipped: 0, running: [] };
      rec.stats.fired++;
      rec.stats.running.push(runId);
      noteHistory(rec, now, 'triggered', runId);
    });
    return runId;
  }

  /**
   * Starts one run per slot of the schedule in [from, to] (inclusive), each receiving its slot as
   * context().scheduledAt. Slots that already have a run (fired or backfilled before) get none.
   * Returns the ids of the runs started. At most 1,000 slots.
   */
  async backfill(scheduleId: string, from: Date, to: Date): Promise<string[]> {
    const s = await this.require(scheduleId);
    const start = from.getTime();
    const end = to.getTime();
    if (Number.isNaN(start) || Number.isNaN(end) || end < start) throw new InvalidArgumentError('backfill(): "from" and "to" must be valid Dates with from <= to.');
    const slots: number[] = [];
    for (let slot = nextSlot(s.spec, anchorOf(s), start - 1); slot !== undefined && slot <= end; slot = nextSlot(s.spec, anchorOf(s), slot)) {
      if (slots.length >= MAX_CATCH_UP) throw new InvalidArgumentError(`backfill(): more than ${MAX_CATCH_UP} slots between ${from.toISOString()} and ${to.toISOString()}; backfill a shorter window.`);
      slots.push(slot);
    }
    const started: string[] = [];
    for (const slot of slots) {
      const { runId, created } = await startSlot(this.client, s, slot);
      if (created) started.push(runId);
    }
    await this.update(scheduleId, (rec) => {
      rec.stats ??= { fired: 0, skipped: 0, running: [] };
      rec.stats.fired += started.length;
      rec.stats.running.push(...started);
      noteHistory(rec, this.client.clock(), 'backfilled', `${from.toISOString()}..${to.toISOString()}: ${started.length} runs`);
    });
    return started;
  }

  /**
   * Activates a schedule declared on a workflow (`workflow(..., { schedule })`), under the id
   * `workflow:<name>`. Creates it when missing and updates it when the declaration changed; leaves it
   * (and its progress) alone otherwise, so any number of workers can call it on start.
   */
  async ensureDeclared(wf: Workflow<any[], unknown>, options: ScheduleOptions<unknown[]>): Promise<ScheduleRecord> {
    const id = `workflow:${wf.definition.name}`;
    const now = this.client.clock();
    const wanted = buildSchedule(id, wf, options, now, this.client.limits.maxPayloadBytes);
    const same = (a: ScheduleRecord, b: ScheduleRecord) =>
      JSON.stringify([a.spec, a.args, a.overlap, a.catchUp, a.queue, a.endAt, a.jitterMs]) === JSON.stringify([b.spec, b.args, b.overlap, b.catchUp, b.queue, b.endAt, b.jitterMs]);
    let existing = await this.client.storage.getSchedule(id);
    if (!existing) {
      // Created only if absent: of workers starting together, one creates it and the others find it.
      if (await this.client.storage.saveSchedule(wanted, 0)) return wanted;
      existing = await this.client.storage.getSchedule(id);
    }
    if (existing && same(existing, wanted)) return existing;
    return this.create(id, wf, options);
  }

  async delete(scheduleId: string): Promise<void> {
    if (!(await this.client.storage.deleteSchedule(scheduleId))) throw new ScheduleNotFoundError(scheduleId);
  }

  private async require(scheduleId: string): Promise<ScheduleRecord> {
    await this.client.ensureReady();
    const s = await this.client.storage.getSchedule(scheduleId);
    if (!s) throw new ScheduleNotFoundError(scheduleId);
    return s;
  }

  /** Read-modify-write with the version check, retried when a scheduler wrote in between. */
  private async update(scheduleId: string, change: (s: ScheduleRecord) => void): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const s = await this.require(scheduleId);
      const version = s.version;
      change(s);
      s.version = version + 1;
      s.updatedAt = this.client.clock();
      if (await this.client.storage.saveSchedule(s, version)) return;
    }
    throw new DurablyError(`Schedule "${scheduleId}" kept changing while being updated; try again.`);
  }
}
