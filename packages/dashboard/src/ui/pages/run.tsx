import { useEffect, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import type { ChainResponse, RunDetailResponse } from '../../shared/api-types.js';
import { usePoll } from '../api.js';
import { ErrorBlock } from '../components/error-view.js';
import { ErrorNotice } from '../components/notice.js';
import { StatusBadge } from '../components/status.js';
import { Timeline } from '../components/timeline.js';
import { Value } from '../components/value.js';
import { formatDuration, formatTime, shortId } from '../format.js';
import { EventLog } from './event-log.js';
import { CancelRun, ResumeHook, SendSignal } from './run-actions.js';
import { CallTables } from './run-tables.js';

const FINISHED = new Set(['completed', 'failed', 'cancelled', 'continued']);

function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

/** One run: what it is, where it stands, the picture of its calls, its values, and its whole log. Updates itself. */
export function RunPage({ runId }: { runId: string }) {
  const [finished, setFinished] = useState(false);
  const detail = usePoll<RunDetailResponse>(`/api/runs/${encodeURIComponent(runId)}`, finished ? 10_000 : 1000);
  const data = detail.data;
  useEffect(() => setFinished(data !== undefined && FINISHED.has(data.run.status)), [data?.run.status]);
  const now = useNow(!finished);
  const hasChain = Boolean(data?.run.continuedFrom || data?.run.continuedTo);
  const chain = usePoll<ChainResponse>(hasChain ? `/api/runs/${encodeURIComponent(runId)}/chain` : undefined, 10_000);
  const [highlight, setHighlight] = useState<number | undefined>(undefined);

  useEffect(() => {
    document.title = `${data?.run.workflow ?? 'Run'} ${shortId(runId)} · Durably`;
  }, [data?.run.workflow, runId]);

  const showEvent = (seq: number) => {
    setHighlight(seq);
    requestAnimationFrame(() => {
      const row = document.getElementById(`event-${seq}`);
      if (!row) return;
      row.tabIndex = -1;
      row.scrollIntoView({ block: 'center' });
      row.focus();
    });
  };

  // The heading is the same element while loading and once loaded, so focus put on it stays there.
  const head = (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <Link href="/">Runs</Link> / {data ? <Link href={`/?workflow=${encodeURIComponent(data.run.workflow)}`}>{data.run.workflow}</Link> : '…'} / <span class="mono">{shortId(runId)}</span>
      </nav>
      <div class="run-head">
        <h1 tabIndex={-1}>
          {data ? (
            <>
              {data.run.workflow} <StatusBadge status={data.run.status} />
            </>
          ) : (
            `Run ${shortId(runId)}`
          )}
        </h1>
        <p class="mono run-id">{runId}</p>
        <ErrorNotice error={detail.error} />
      </div>
    </>
  );
  if (!data) {
    return (
      <>
        {head}
        {!detail.error && <p class="muted">Loading…</p>}
      </>
    );
  }
  const { run } = data;
  const open = !FINISHED.has(run.status);
  const waitingHooks = data.hooks.filter((h) => h.status === 'waiting');
  return (
    <>
      {head}

      <dl class="facts run-facts">
        <dt>Created</dt>
        <dd>{formatTime(run.createdAt)}</dd>
        {run.startAt !== undefined && (
          <>
            <dt>Starts at</dt>
            <dd>{formatTime(run.startAt)}</dd>
          </>
        )}
        <dt>{open ? 'Running for' : 'Took'}</dt>
        <dd>{formatDuration((run.finishedAt ?? now) - run.createdAt)}</dd>
        {run.finishedAt !== undefined && (
          <>
            <dt>Finished</dt>
            <dd>{formatTime(run.finishedAt)}</dd>
          </>
        )}
        <dt>Queue</dt>
        <dd>{run.queue}</dd>
        <dt>Events</dt>
        <dd>{run.lastSeq}</dd>
        {run.tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>
              {run.tags.map((t) => (
                <span class="tag" key={t}>
                  {t}
                </span>
              ))}
            </dd>
          </>
        )}
        {run.attributes && (
          <>
            <dt>Attributes</dt>
            <dd>
              {Object.entries(run.attributes).map(([k, v]) => (
                <span class="tag" key={k} title={typeof v}>
                  {k}={typeof v === 'string' ? v : String(v)}
                </span>
              ))}
            </dd>
          </>
        )}
        {run.parentRunId && (
          <>
            <dt>Parent</dt>
            <dd>
              <Link href={`/runs/${encodeURIComponent(run.parentRunId)}`} class="mono">
                {shortId(run.parentRunId)}
              </Link>
            </dd>
          </>
        )}
        {run.continuedFrom && (
          <>
            <dt>Continues</dt>
            <dd>
              <Link href={`/runs/${encodeURIComponent(run.continuedFrom)}`} class="mono">
                {shortId(run.continuedFrom)}
              </Link>
            </dd>
          </>
        )}
        {run.continuedTo && (
          <>
            <dt>Continued as</dt>
            <dd>
              <Link href={`/runs/${encodeURIComponent(run.continuedTo)}`} class="mono">
                {shortId(run.continuedTo)}
              </Link>
            </dd>
          </>
        )}
        {run.scheduleId && (
          <>
            <dt>Schedule</dt>
            <dd>
              <Link href="/schedules">{run.scheduleId}</Link>
              {run.scheduledAt !== undefined && <span class="muted"> slot {formatTime(run.scheduledAt)}</span>}
            </dd>
          </>
        )}
        {run.idempotencyKey && (
          <>
            <dt>Idempotency key</dt>
            <dd class="mono">{run.idempotencyKey}</dd>
          </>
        )}
      </dl>

      {open && (
        <section class="actions" aria-labelledby="actions-title">
          <h2 id="actions-title" class="sr-only">
            Actions
          </h2>
          {waitingHooks.map((h) => (
            <ResumeHook runId={run.runId} hook={h} onDone={detail.refresh} key={h.correlationId} />
          ))}
          <details class="action">
            <summary>Send a signal</summary>
            <SendSignal runId={run.runId} onDone={detail.refresh} />
          </details>
          <CancelRun runId={run.runId} onDone={detail.refresh} />
        </section>
      )}

      <Timeline layout={data.timeline} status={run.status} now={now} onShowEvent={showEvent} />

      <section class="io" aria-labelledby="io-title">
        <h2 id="io-title">Input and output</h2>
        <div class="io-grid">
          <div>
            <h3>Arguments</h3>
            <Value value={run.args} />
          </div>
          <div>
            <h3>{run.error ? 'Error' : 'Result'}</h3>
            {run.error ? <ErrorBlock error={run.error} open /> : run.result ? <Value value={run.result} /> : <p class="muted">{open ? 'Not finished yet.' : 'None.'}</p>}
          </div>
        </div>
      </section>

      <CallTables detail={data} now={now} />

      {chain.data && chain.data.runs.length > 1 && (
        <section aria-labelledby="chain-title">
          <h2 id="chain-title">Continue-as-new chain</h2>
          <ol class="chain">
            {chain.data.runs.map((r) => (
              <li key={r.runId}>
                {r.runId === run.runId ? (
                  <strong class="mono" aria-current="page">
                    {shortId(r.runId)}
                  </strong>
                ) : (
                  <Link href={`/runs/${encodeURIComponent(r.runId)}`} class="mono">
                    {shortId(r.runId)}
                  </Link>
                )}{' '}
                <StatusBadge status={r.status} /> <span class="muted small">{formatTime(r.createdAt)}</span>
              </li>
            ))}
          </ol>
        </section>
      )}

      <EventLog events={data.events} start={run.createdAt} highlight={highlight} />
    </>
  );
}
