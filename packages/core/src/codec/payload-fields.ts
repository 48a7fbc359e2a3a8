import type { DurablyEvent, EventDataMap, EventType, NewRun, RunPatch, RunRecord, ScheduleRecord, SerializedError } from '@durably/contracts';

/**
 * Where the payloads are: the one list of the fields a payload codec encrypts, per event type and
 * per record. Everything else (ids, names, seq, statuses, times, queues, tags, idempotency keys,
 * cancel reasons, trace context) stays in clear for indexes, listings and filters.
 *
 * The map is exhaustive over EventType: an event type added to EventDataMap does not compile until
 * it says here which of its fields hold payloads (`null`: none).
 */

/** One direction of the codec (encode or decode), applied to one payload. */
export interface PayloadCoder {
  /** A serialized value (or a hook token). */
  text(value: string): Promise<string>;
  /** An error as stored. */
  error(value: SerializedError): Promise<SerializedError>;
}

type DataCoder<K extends EventType> = ((data: EventDataMap[K], c: PayloadCoder) => Promise<EventDataMap[K]>) | null;

const result = async <D extends { result: string }>(d: D, c: PayloadCoder): Promise<D> => ({ ...d, result: await c.text(d.result) });
const error = async <D extends { error: SerializedError }>(d: D, c: PayloadCoder): Promise<D> => ({ ...d, error: await c.error(d.error) });
const payload = async <D extends { payload: string }>(d: D, c: PayloadCoder): Promise<D> => ({ ...d, payload: await c.text(d.payload) });

export const EVENT_PAYLOADS: { [K in EventType]: DataCoder<K> } = {
  run_created: async (d, c) => {
    const out = { ...d, args: await c.text(d.args) };
    if (d.carriedSignals) out.carriedSignals = await Promise.all(d.carriedSignals.map((s) => payload(s, c)));
    return out;
  },
  run_started: null,
  // Search attributes stay in clear: the storages index them for listRuns (see docs/guides/encryption.md).
  attributes_set: null,
  run_interrupted: null,
  run_waiting: null,
  run_completed: result,
  run_failed: error,
  run_cancelled: null,
  run_continued: null,
  step_scheduled: async (d, c) => ({ ...d, args: await c.text(d.args) }),
  step_started: null,
  step_failed: error,
  step_completed: result,
  sleep_started: null,
  sleep_completed: null,
  value_recorded: async (d, c) => ({ ...d, value: await c.text(d.value) }),
  cancel_requested: null,
  hook_created: async (d, c) => ({ ...d, token: await c.text(d.token) }),
  hook_closed: null,
  scope_cancelled: null,
  hook_received: payload,
  hook_timed_out: null,
  signal_received: payload,
  signal_waiting: null,
  signal_timed_out: null,
  signal_wait_cancelled: null,
  condition_waiting: null,
  condition_timed_out: null,
  patch_marker: null,
  child_started: null,
  child_completed: result,
  child_failed: error,
  update_requested: payload,
  update_completed: result,
  update_failed: error,
  // The validator's words about a refused payload may quote it.
  update_rejected: async (d, c) => ({ ...d, reason: await c.text(d.reason) }),
};

/** The event with its payload fields passed through `c` (the same object when it has none). */
export async function codeEvent(event: DurablyEvent, c: PayloadCoder): Promise<DurablyEvent> {
  const coder = EVENT_PAYLOADS[event.type] as DataCoder<EventType>;
  if (!coder) return event;
  return { ...event, data: await coder(event.data as never, c) } as DurablyEvent;
}

/** Every event of a list passed through `c`. */
export function codeEvents(events: DurablyEvent[], c: PayloadCoder): Promise<DurablyEvent[]> {
  return Promise.all(events.map((e) => codeEvent(e, c)));
}

/** A run record's payloads (args, result, error) passed through `c`. */
export async function codeRun<R extends Pick<RunRecord, 'args' | 'result' | 'error'>>(run: R, c: PayloadCoder): Promise<R> {
  const out = { ...run, args: await c.text(run.args) };
  if (run.result !== undefined) out.result = await c.text(run.result);
  if (run.error !== undefined) out.error = await c.error(run.error);
  return out;
}

/** A new run's payloads: its args and its first event. */
export async function codeNewRun(run: NewRun, c: PayloadCoder): Promise<NewRun> {
  return { ...run, args: await c.text(run.args), firstEvent: await codeEvent(run.firstEvent, c) };
}

/** A run patch's payloads (result, error). */
export async function codePatch(patch: RunPatch, c: PayloadCoder): Promise<RunPatch> {
  const out = { ...patch };
  if (patch.result !== undefined) out.result = await c.text(patch.result);
  if (patch.error !== undefined) out.error = await c.error(patch.error);
  return out;
}

/** A schedule's payload: the arguments of the runs it starts. */
export async function codeSchedule(schedule: ScheduleRecord, c: PayloadCoder): Promise<ScheduleRecord> {
  return { ...schedule, args: await c.text(schedule.args) };
}
