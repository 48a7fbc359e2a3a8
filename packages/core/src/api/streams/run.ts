import { context, sleep, type WorkflowContext } from '../context.js';
import { workflow } from '../definitions.js';
import { defineQuery } from '../hooks.js';
import { waitForSignal } from '../signals.js';
import { continueAsNew, shield } from '../flow.js';
import { registerBuiltinWorkflow } from '../../engine/definitions.js';
import { StreamNotDefinedError } from '@durably/contracts';
import {
  DEDUP_WINDOW,
  INBOX,
  STREAM_WORKFLOW,
  type Emitted,
  type InboxMessage,
  type StreamOutcome,
  type StreamRunState,
  type StreamSignal,
  type StreamSnapshot,
  type StreamStatus,
  type StreamStepState,
} from './types.js';
import { getStream } from './define.js';
import { notifyStep } from './reach.js';

export const stateQuery = defineQuery<StreamSnapshot>('durably.stream.state');

// ---------------------------------------------------------------------------------------------
// The stream run itself.

function aggregate(state: StreamRunState): StreamStatus {
  const statuses = Object.values(state.steps).map((s) => s.status);
  if (statuses.every((s) => s === 'completed' || s === 'terminated' || s === 'failed')) return 'completed';
  // Quiescent (no signal left to handle now) with a step waiting for outside input. Active steps with
  // nothing to handle are idle; signals scheduled for later do not keep the stream running.
  if (state.queue.length === 0 && statuses.includes('suspended')) return 'suspended';
  return 'running';
}

function outcomeOf(name: string, streamRunId: string, state: StreamRunState, status: 'completed' | 'suspended'): StreamOutcome {
  return { stream: name, streamRunId, status, seq: state.seq, version: state.version, steps: state.steps, rejected: state.rejected };
}

function describeIssues(error: unknown): string {
  const issues = (error as { issues?: Array<{ path?: unknown[]; message?: string }> })?.issues;
  if (Array.isArray(issues)) return issues.map((i) => `${(i.path ?? []).join('.') || '(root)'}: ${i.message}`).join('; ');
  return error instanceof Error ? error.message : String(error);
}

const TIMER = Symbol('timer');
/** Stands for "no signal has arrived" when the stream looks without waiting. */
const NOTHING = Symbol('nothing');

export const streamWorkflow = workflow(STREAM_WORKFLOW, async (name: string, streamRunId: string, input: unknown, carried: StreamRunState | null): Promise<StreamOutcome> => {
  const stream = getStream(name);
  if (!stream) throw new StreamNotDefinedError(name);
  const wctx = context() as WorkflowContext;
  const st: StreamRunState = carried ?? {
    seq: 0,
    version: 0,
    steps: Object.fromEntries([...stream.steps.values()].map((d) => [d.name, { status: 'active', state: d.initialState, handled: 0 } satisfies StreamStepState])),
    queue: [],
    delayed: [],
    watchers: [],
    rejected: [],
    seen: [],
  };
  // Steps added to the stream since this run began start active.
  for (const d of stream.steps.values()) st.steps[d.name] ??= { status: 'active', state: d.initialState, handled: 0 };
  let handledHere = 0;
  stateQuery.handle(() => ({ ...outcomeOf(name, streamRunId, st, 'suspended'), status: aggregate(st) }));

  const accept = (m: Emitted) => {
    if (st.seen.includes(m.id)) return; // a retried emit
    st.seen.push(m.id);
    if (st.seen.length > DEDUP_WINDOW) st.seen.splice(0, st.seen.length - DEDUP_WINDOW);
    if (m.deliverAt !== undefined) st.delayed.push(m);
    else st.queue.push(m);
  };

  const handle = async (m: Emitted) => {
    st.seq += 1;
    handledHere += 1;
    const seq = st.seq;
    const schema = stream.schemas[m.type];
    let payload = m.payload;
    if (schema) {
      const parsed = schema.safeParse(payload);
      if (!parsed.success) {
        const reason = describeIssues(parsed.error);
        st.rejected.push({ seq, type: m.type, id: m.id, reason });
        if (st.rejected.length > 100) st.rejected.shift();
        wctx.logger.warn('stream signal rejected: its payload fails the schema', { stream: name, streamRunId, seq, type: m.type, reason });
        return;
      }
      payload = parsed.data;
    }
    const signal: StreamSignal = { type: m.type, payload, seq, id: m.id };
    const targets = [...stream.steps.values()].filter((d) => d.signals.has(m.type) && ['active', 'suspended'].includes(st.steps[d.name].status));
    if (targets.length > 0) st.version += 1;
    const results = await Promise.all(
      targets.map((d) =>
        d.call(signal, st.steps[d.name].state, streamRunId).then(
          (r) => ({ ok: true as const, r }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      ),
    );
    targets.forEach((d, i) => {
      const s = st.steps[d.name];
      const out = results[i];
      s.handled += 1;
      if (!out.ok) {
        s.status = 'failed';
        s.reason = out.error instanceof Error ? `${out.error.name}: ${out.error.message}` : String(out.error);
        return;
      }
      const { reaction, emits } = out.r;
      if ('state' in reaction && reaction.state !== undefined) s.state = reaction.state;
      if (reaction.action === 'resume') s.status = 'active';
      else if (reaction.action === 'suspend') s.status = 'suspended';
      else if (reaction.action === 'terminate') {
        s.status = 'terminated';
        s.reason = reaction.reason;
      } else {
        s.status = 'completed';
        s.result = reaction.result;
      }
      for (const e of emits) accept(e);
    });
  };

  const notify = async (status: 'completed' | 'suspended') => {
    const due = st.watchers.filter((w) => status === 'completed' || st.version > w.afterVersion);
    if (due.length === 0) return;
    st.watchers = st.watchers.filter((w) => !due.includes(w));
    const outcome = outcomeOf(name, streamRunId, st, status);
    await Promise.all(due.map((w) => notifyStep(w.watcher, w.watchId, outcome)));
  };

  /**
   * A watch sent while the stream run was completing (its final append then lost the race and the run
   * replayed with the watch in its log) sits in the signal buffer, or in the pending wait, unread: the
   * watcher would wait forever. Take what has arrived, without waiting, and tell those watchers too.
   */
  const notifyLateWatchers = async (pending: Promise<InboxMessage> | undefined) => {
    const late: InboxMessage[] = [];
    const now = async (p: Promise<InboxMessage>) => Promise.race([p, Promise.resolve(NOTHING)]);
    if (pending) {
      const got = await now(pending);
      if (got === NOTHING) return; // the pending wait has taken nothing, so nothing is buffered
      late.push(got);
    }
    for (;;) {
      const got = await now(waitForSignal<InboxMessage>(INBOX));
      if (got === NOTHING) break;
      late.push(got);
    }
    for (const m of late) if (m.kind === 'watch') st.watchers.push({ watcher: m.watcher, watchId: m.watchId, afterVersion: m.afterVersion });
    await notify('completed');
  };

  try {
    if (!carried) for (const e of await stream.start(input, streamRunId)) accept(e);
    let next: Promise<InboxMessage> | undefined;
    let timer: { until: number; fired: Promise<typeof TIMER> } | undefined;
    for (;;) {
      while (st.queue.length > 0) await handle(st.queue.shift()!);
      const status = aggregate(st);
      if (status !== 'running') await notify(status);
      if (status === 'completed') {
        await notifyLateWatchers(next);
        return outcomeOf(name, streamRunId, st, 'completed');
      }
      if (!next && handledHere >= stream.signalsPerRun) return continueAsNew(name, streamRunId, input, st);
      next ??= waitForSignal<InboxMessage>(INBOX);
      const due = st.delayed.reduce<number | undefined>((min, e) => (min === undefined || e.deliverAt! < min ? e.deliverAt! : min), undefined);
      if (due !== undefined && timer?.until !== due) timer = { until: due, fired: sleep(new Date(due)).then(() => TIMER) };
      const got = due === undefined ? await next : await Promise.race([next, timer!.fired]);
      if (got === TIMER) {
        timer = undefined;
        const ready = st.delayed.filter((e) => e.deliverAt! <= due!).sort((a, b) => a.deliverAt! - b.deliverAt!);
        st.delayed = st.delayed.filter((e) => !ready.includes(e));
        for (const e of ready) st.queue.push({ id: e.id, type: e.type, payload: e.payload });
        continue;
      }
      next = undefined;
      const message = got as InboxMessage;
      if (message.kind === 'watch') {
        st.watchers.push({ watcher: message.watcher, watchId: message.watchId, afterVersion: message.afterVersion });
        const current = aggregate(st);
        if (current === 'suspended') await notify(current);
      } else {
        accept({ id: message.id, type: message.type, payload: message.payload, deliverAt: message.deliverAt });
      }
    }
  } catch (err) {
    // A failed or cancelled stream run tells its watchers, so none waits forever.
    if (err instanceof Error && st.watchers.length > 0) {
      const watchers = st.watchers;
      st.watchers = [];
      await shield(() => Promise.all(watchers.map((w) => notifyStep(w.watcher, w.watchId, { failed: `${err.name}: ${err.message}` }))));
    }
    throw err;
  }
});

// Every worker runs stream runs: they are runs of this one workflow.
registerBuiltinWorkflow(streamWorkflow);

