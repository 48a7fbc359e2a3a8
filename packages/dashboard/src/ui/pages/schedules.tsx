import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import type { ScheduleView } from '../../shared/api-types.js';
import { postJson, usePoll } from '../api.js';
import { DoneNotice, ErrorNotice } from '../components/notice.js';
import { StatusBadge } from '../components/status.js';
import { Value } from '../components/value.js';
import { formatDuration, formatRelative, formatTime, shortId } from '../format.js';

function describeSpec(s: ScheduleView): string {
  if (s.spec.everyMs !== undefined) return `every ${formatDuration(s.spec.everyMs)}`;
  return `cron ${s.spec.cron}${s.spec.timezone ? ` (${s.spec.timezone})` : ''}`;
}

/** Every schedule: its clock, its next and last slot, its counters; pause, resume, or start a run now. */
export function SchedulesPage() {
  const list = usePoll<{ schedules: ScheduleView[] }>('/api/schedules', 3000);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const act = async (s: ScheduleView, action: 'pause' | 'resume' | 'trigger') => {
    setBusy(`${s.scheduleId}:${action}`);
    setError(undefined);
    setDone(undefined);
    try {
      const res = await postJson<{ runId?: string }>(`/api/schedules/${encodeURIComponent(s.scheduleId)}/${action}`);
      setDone(action === 'trigger' ? `Schedule ${s.scheduleId} started run ${res.runId}.` : `Schedule ${s.scheduleId} ${action === 'pause' ? 'paused' : 'resumed'}.`);
      list.refresh();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(undefined);
    }
  };
  const now = Date.now();
  return (
    <>
      <h1 tabIndex={-1}>Schedules</h1>
      <ErrorNotice error={list.error ?? error} />
      <DoneNotice message={done} />
      {list.data && list.data.schedules.length === 0 && <p class="empty">No schedules. Create one with client.schedules.create(...) or declare one on a workflow.</p>}
      <ul class="cards">
        {list.data?.schedules.map((s) => (
          <li class="card" key={s.scheduleId}>
            <div class="card-head">
              <h2>{s.scheduleId}</h2>
              <StatusBadge status={s.paused ? 'paused' : 'active'} />
            </div>
            <dl class="facts">
              <dt>Workflow</dt>
              <dd>
                <Link href={`/?workflow=${encodeURIComponent(s.workflow)}`}>{s.workflow}</Link> <span class="muted">on {s.queue}</span>
              </dd>
              <dt>Clock</dt>
              <dd>{describeSpec(s)}</dd>
              <dt>Next slot</dt>
              <dd>{s.paused ? 'paused' : s.nextFireAt === undefined ? 'none (ended)' : `${formatTime(s.nextFireAt)} (${formatRelative(s.nextFireAt, now)})`}</dd>
              <dt>Last run</dt>
              <dd>
                {s.lastRunId ? (
                  <Link href={`/runs/${encodeURIComponent(s.lastRunId)}`} class="mono">
                    {shortId(s.lastRunId)}
                  </Link>
                ) : (
                  'none yet'
                )}
                {s.lastFireAt !== undefined && <span class="muted"> slot {formatTime(s.lastFireAt)}</span>}
              </dd>
              <dt>Policies</dt>
              <dd>
                overlap {s.overlap.replace('_', ' ')}, catch-up {s.catchUp}
                {s.jitterMs ? `, jitter ${formatDuration(s.jitterMs)}` : ''}
                {s.endAt !== undefined ? `, ends ${formatTime(s.endAt)}` : ''}
              </dd>
              <dt>Counters</dt>
              <dd>
                {s.stats.fired} fired, {s.stats.skipped} skipped, {s.stats.running.length} running
              </dd>
              <dt>Arguments</dt>
              <dd>
                <Value value={s.args} />
              </dd>
            </dl>
            <div class="card-actions">
              {s.paused ? (
                <button type="button" disabled={busy !== undefined} onClick={() => act(s, 'resume')}>
                  Resume
                </button>
              ) : (
                <button type="button" class="secondary" disabled={busy !== undefined} onClick={() => act(s, 'pause')}>
                  Pause
                </button>
              )}
              <button type="button" disabled={busy !== undefined} onClick={() => act(s, 'trigger')}>
                Trigger now
              </button>
            </div>
            {s.history.length > 0 && (
              <details>
                <summary>History ({s.history.length})</summary>
                <ol class="history">
                  {[...s.history].reverse().map((h, i) => (
                    <li key={i}>
                      {formatTime(h.at)} {h.action}
                      {h.detail ? `: ${h.detail}` : ''}
                    </li>
                  ))}
                </ol>
              </details>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}
