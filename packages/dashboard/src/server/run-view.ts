import { RunNotFoundError, type Client, type DurablyEvent, type RunRecord, type RunStatus as CoreRunStatus, type Timer } from '@durably/core';
import type { ChildView, EventView, HookView, RunDetailResponse, RunStatus, RunSummary, SignalView, StepView, TimerView } from '../shared/api-types.js';
import { deriveSteps, type LogEvent } from '../shared/steps.js';
import { layoutTimeline } from '../shared/timeline.js';
import { renderSerialized, serializedErrorView } from './render.js';

// The page's copy of the run statuses (it cannot import core) must be core's: the build fails otherwise.
type SameStatuses = [CoreRunStatus] extends [RunStatus] ? ([RunStatus] extends [CoreRunStatus] ? true : never) : never;
const sameStatuses: SameStatuses = true;
void sameStatuses;

/** The run record without its payloads: what tables and lists show. */
export function summarize(run: RunRecord): RunSummary {
  const s: RunSummary = {
    runId: run.runId,
    workflow: run.workflow,
    status: run.status,
    queue: run.queue,
    tags: run.tags ?? [],
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    lastSeq: run.lastSeq,
  };
  if (run.startAt !== undefined) s.startAt = run.startAt;
  if (run.finishedAt !== undefined) s.finishedAt = run.finishedAt;
  if (run.parentRunId !== undefined) s.parentRunId = run.parentRunId;
  if (run.idempotencyKey !== undefined) s.idempotencyKey = run.idempotencyKey;
  if (run.attributes !== undefined) s.attributes = { ...run.attributes };
  return s;
}

/** Fields that hold devalue text in every event type that has them. */
const SERIALIZED_FIELDS = new Set(['args', 'result', 'payload', 'value']);

/**
 * One event as the page shows it. Fields are handled by name, not by event type, so that event
 * types added to the engine later (step_started, say) are shown whole without a change here:
 * serialized payloads are rendered, `error` becomes an ErrorView, a hook `token` is redacted.
 */
export function eventView(ev: LogEvent): EventView {
  const view: EventView = { seq: ev.seq, type: ev.type, at: ev.at, fields: {} };
  if (ev.correlationId !== undefined) view.correlationId = ev.correlationId;
  const values: Record<string, ReturnType<typeof renderSerialized>> = {};
  for (const [key, raw] of Object.entries((ev.data ?? {}) as Record<string, unknown>)) {
    if (SERIALIZED_FIELDS.has(key) && typeof raw === 'string') {
      values[key] = renderSerialized(raw);
    } else if (key === 'error' && raw && typeof raw === 'object') {
      view.error = serializedErrorView(raw as never);
    } else if (key === 'token' && typeof raw === 'string') {
      view.fields.tokenHint = tokenHint(raw);
    } else if (key === 'carriedSignals' && Array.isArray(raw)) {
      view.fields.carriedSignals = raw.map((s: { name?: unknown }) => s?.name);
      raw.forEach((s: { payload?: unknown }, i) => {
        if (typeof s?.payload === 'string') values[`carriedSignals[${i}]`] = renderSerialized(s.payload);
      });
    } else {
      view.fields[key] = raw;
    }
  }
  if (Object.keys(values).length > 0) view.values = values;
  return view;
}

/** Enough of a hook token to tell two hooks apart, far too little to resume one. */
export function tokenHint(token: string): string {
  return `…${token.slice(-4)}`;
}

export async function buildRunDetail(client: Client, runId: string): Promise<RunDetailResponse> {
  const run = await client.storage.getRun(runId);
  if (!run) throw new RunNotFoundError(runId);
  const [events, timers, childPage] = await Promise.all([
    client.storage.readEvents(runId),
    client.storage.listTimers(runId),
    client.storage.listRuns({ parentRunId: runId, limit: 1000 }),
  ]);
  const log = events as LogEvent[];
  const first = events[0]?.type === 'run_created' ? events[0] : undefined;
  const last = events.at(-1);
  const detail: RunDetailResponse = {
    run: { ...summarize(run), args: renderSerialized(run.args) },
    events: log.map(eventView),
    steps: stepViews(log),
    timers: timers.map(timerView).sort((a, b) => a.fireAt - b.fireAt),
    hooks: hookViews(events),
    signals: signalViews(events),
    children: childViews(events, new Map(childPage.runs.map((r) => [r.runId, r]))),
    timeline: layoutTimeline(log),
  };
  if (run.result !== undefined) detail.run.result = renderSerialized(run.result);
  const error = serializedErrorView(run.error);
  if (error) detail.run.error = error;
  if (first?.data.continuedFrom) detail.run.continuedFrom = first.data.continuedFrom;
  if (first?.data.scheduleId) detail.run.scheduleId = first.data.scheduleId;
  if (first?.data.scheduledAt !== undefined) detail.run.scheduledAt = first.data.scheduledAt;
  if (last?.type === 'run_continued') detail.run.continuedTo = last.data.nextRunId;
  return detail;
}

function stepViews(log: LogEvent[]): StepView[] {
  return deriveSteps(log).map((s) => {
    const view: StepView = {
      correlationId: s.correlationId,
      name: s.name,
      status: s.status,
      attempts: s.attempts.map(({ startSeq: _s, endSeq: _e, error, ...a }) => (error ? { ...a, error: serializedErrorView(error) } : a)),
    };
    if (s.queue !== undefined) view.queue = s.queue;
    if (s.args !== undefined) view.args = renderSerialized(s.args);
    if (s.result !== undefined) view.result = renderSerialized(s.result);
    return view;
  });
}

export function timerView(t: Timer): TimerView {
  const colon = t.timerId.indexOf(':');
  const view: TimerView = { timerId: t.timerId, fireAt: t.fireAt, kind: colon < 0 ? t.timerId : t.timerId.slice(0, colon) };
  if (colon >= 0) view.correlationId = t.timerId.slice(colon + 1);
  return view;
}

function hookViews(events: DurablyEvent[]): HookView[] {
  const hooks = new Map<string, HookView>();
  for (const ev of events) {
    const cid = ev.correlationId;
    if (cid === undefined) continue;
    if (ev.type === 'hook_created') {
      const view: HookView = { correlationId: cid, name: ev.data.name, tokenHint: tokenHint(ev.data.token), createdAt: ev.at, status: 'waiting', inStep: cid.includes('/') };
      if (ev.data.expiresAt !== undefined) view.expiresAt = ev.data.expiresAt;
      if (ev.data.multiUse) view.multiUse = true;
      hooks.set(cid, view);
    } else if (ev.type === 'hook_received' || ev.type === 'hook_timed_out' || ev.type === 'hook_closed') {
      const view = hooks.get(cid);
      if (!view) continue;
      if (ev.type === 'hook_closed') {
        view.status = 'closed';
        continue;
      }
      // A multi-use hook stays open for more payloads.
      if (ev.type === 'hook_timed_out') view.status = 'timed_out';
      else if (!view.multiUse) view.status = 'received';
      if (ev.type === 'hook_received') {
        view.receivedAt = ev.at;
        view.payload = renderSerialized(ev.data.payload);
        view.received = (view.received ?? 0) + 1;
      }
    }
  }
  return [...hooks.values()];
}

function signalViews(events: DurablyEvent[]): SignalView[] {
  const out: SignalView[] = [];
  for (const ev of events) {
    if (ev.type === 'signal_received') out.push({ seq: ev.seq, name: ev.data.name, at: ev.at, payload: renderSerialized(ev.data.payload), carried: ev.data.carried === true });
  }
  return out;
}

function childViews(events: DurablyEvent[], records: Map<string, RunRecord>): ChildView[] {
  const children = new Map<string, ChildView>();
  for (const ev of events) {
    if (ev.type === 'child_started') {
      const record = records.get(ev.data.childRunId);
      const view: ChildView = {
        correlationId: ev.correlationId ?? '',
        childRunId: ev.data.childRunId,
        workflow: ev.data.workflow,
        parentClosePolicy: ev.data.parentClosePolicy,
        startedAt: ev.at,
        status: record?.status ?? 'unknown',
      };
      if (record?.finishedAt !== undefined) view.endedAt = record.finishedAt;
      children.set(ev.data.childRunId, view);
    } else if (ev.type === 'child_completed' || ev.type === 'child_failed') {
      const view = children.get(ev.data.childRunId);
      if (!view) continue;
      view.endedAt ??= ev.at;
      if (view.status === 'unknown') view.status = ev.type === 'child_completed' ? 'completed' : 'failed';
    }
  }
  return [...children.values()];
}
