import { isDeepStrictEqual } from 'node:util';
import { hookIndexKey, type Broker, type DurablyEvent, type HookRecord, type RunRecord, type ScheduleRecord, type Storage, type Timer } from '@durably/core';

/** Everything of one run the storage contract lets a reader see. */
export interface RunState {
  record: RunRecord;
  events: DurablyEvent[];
  timers: Timer[];
  /** The hook index entries of the tokens its log issued. */
  hooks: Array<HookRecord | undefined>;
}

/**
 * The whole state a bad input could change, as the storage and broker contracts expose it: every run
 * (record, log, timers, hook index entries), every schedule, how many messages the broker accepted
 * and how many it dead-lettered on the queues in use.
 */
export interface StateSnapshot {
  runs: Map<string, RunState>;
  schedules: ScheduleRecord[];
  /** Messages published since the broker was wrapped (the queue depth's inflow). */
  published: number;
  deadLetters: number;
  /** Timers due at the time of the snapshot, and all of them. */
  timersDue: number;
  timersAll: number;
}

/** What differs between two snapshots. */
export interface SnapshotDiff {
  added: string[];
  removed: string[];
  changed: string[];
  schedulesChanged: boolean;
  published: number;
  deadLetters: number;
  before: StateSnapshot;
  after: StateSnapshot;
}

/** A broker that counts the messages it accepts; everything else goes to `inner` unchanged. */
export class CountingBroker implements Broker {
  published = 0;
  constructor(private readonly inner: Broker) {}
  get maxDelayMs(): number {
    return this.inner.maxDelayMs;
  }
  migrate(): Promise<void> {
    return this.inner.migrate();
  }
  async publish(...args: Parameters<Broker['publish']>): Promise<void> {
    await this.inner.publish(...args);
    this.published++;
  }
  consume(...args: Parameters<Broker['consume']>): ReturnType<Broker['consume']> {
    return this.inner.consume(...args);
  }
  deadLetters(queue: string, limit?: number): ReturnType<Broker['deadLetters']> {
    return this.inner.deadLetters(queue, limit);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Reads the snapshot: every page of listRuns, each run's log, timers and hooks. */
export async function snapshot(storage: Storage, brokers: CountingBroker[], queues: string[]): Promise<StateSnapshot> {
  const runs = new Map<string, RunState>();
  let cursor: string | undefined;
  do {
    const page = await storage.listRuns({ limit: 1000, cursor });
    for (const record of page.runs) {
      const events = await storage.readEvents(record.runId);
      const tokens = events.flatMap((e) => (e.type === 'hook_created' && typeof e.data.token === 'string' ? [e.data.token] : []));
      // The index is keyed by the SHA-256 of each token (k + base64url), never the token.
      const hooks = await Promise.all(tokens.map((t) => storage.getHook(hookIndexKey(t))));
      runs.set(record.runId, { record, events, timers: await storage.listTimers(record.runId), hooks });
    }
    cursor = page.nextCursor;
  } while (cursor);
  let deadLetters = 0;
  for (const q of queues) deadLetters += (await brokers[0].deadLetters(q, 1000)).length;
  const now = Date.now();
  const timers = [...runs.values()].flatMap((r) => r.timers);
  return {
    runs,
    schedules: await storage.listSchedules(),
    published: brokers.reduce((n, b) => n + b.published, 0),
    deadLetters,
    timersDue: timers.filter((t) => t.fireAt <= now).length,
    timersAll: timers.length,
  };
}

/** The runs added, removed and changed, and the other counts' differences. */
export function diff(before: StateSnapshot, after: StateSnapshot): SnapshotDiff {
  const added = [...after.runs.keys()].filter((id) => !before.runs.has(id));
  const removed = [...before.runs.keys()].filter((id) => !after.runs.has(id));
  const changed = [...before.runs.keys()].filter((id) => after.runs.has(id) && !isDeepStrictEqual(before.runs.get(id), after.runs.get(id)));
  return {
    added,
    removed,
    changed,
    schedulesChanged: !isDeepStrictEqual(before.schedules, after.schedules),
    published: after.published - before.published,
    deadLetters: after.deadLetters - before.deadLetters,
    before,
    after,
  };
}

/** A one-line account of a diff, for failure messages. */
export function describeDiff(d: SnapshotDiff): string {
  return JSON.stringify({ added: d.added, removed: d.removed, changed: d.changed, schedulesChanged: d.schedulesChanged, published: d.published, deadLetters: d.deadLetters });
}

/** True when nothing differs. */
export function unchanged(d: SnapshotDiff): boolean {
  return d.added.length === 0 && d.removed.length === 0 && d.changed.length === 0 && !d.schedulesChanged && d.published === 0 && d.deadLetters === 0;
}
