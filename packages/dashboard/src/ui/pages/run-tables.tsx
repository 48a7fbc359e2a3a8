import { Link } from 'wouter-preact';
import type { AttemptView, RunDetailResponse, StepView } from '../../shared/api-types.js';
import { ErrorBlock } from '../components/error-view.js';
import { StatusBadge } from '../components/status.js';
import { Value } from '../components/value.js';
import { formatDuration, formatRelative, formatTime, shortId } from '../format.js';

const FINISHED = new Set(['completed', 'failed', 'cancelled', 'continued']);

const START_SOURCE: Record<AttemptView['startSource'], string> = {
  step_started: 'recorded',
  retry_at: 'estimated: the retry time',
  step_scheduled: 'estimated: when it was queued',
  previous_event: 'estimated: the event before it',
};

/** Steps, hooks, signals, children and timers of a run, each as a table. */
export function CallTables({ detail, now }: { detail: RunDetailResponse; now: number }) {
  return (
    <>
      <section aria-labelledby="steps-title">
        <h2 id="steps-title">
          Steps <span class="muted">({detail.steps.length})</span>
        </h2>
        {detail.steps.length === 0 ? <p class="empty">No step recorded yet.</p> : <Steps steps={detail.steps} now={now} />}
      </section>

      {detail.hooks.length > 0 && (
        <section aria-labelledby="hooks-title">
          <h2 id="hooks-title">Hooks</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Hook</th>
                <th scope="col">Call</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Token</th>
                <th scope="col">Payload</th>
              </tr>
            </thead>
            <tbody>
              {detail.hooks.map((h) => (
                <tr key={h.correlationId}>
                  <td>
                    {h.name}
                    {h.inStep && <span class="muted small"> (in a step)</span>}
                  </td>
                  <td class="mono">{h.correlationId}</td>
                  <td>
                    <StatusBadge status={h.status} />
                  </td>
                  <td>{formatTime(h.createdAt)}</td>
                  <td>{h.expiresAt === undefined ? 'never' : `${formatTime(h.expiresAt)} (${formatRelative(h.expiresAt, now)})`}</td>
                  <td class="mono" title="The token itself is not shown">
                    {h.tokenHint}
                  </td>
                  <td>{h.payload ? <Value value={h.payload} /> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      {detail.signals.length > 0 && (
        <section aria-labelledby="signals-title">
          <h2 id="signals-title">Signals received</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Signal</th>
                <th scope="col">At</th>
                <th scope="col">Payload</th>
              </tr>
            </thead>
            <tbody>
              {detail.signals.map((s) => (
                <tr key={s.seq}>
                  <td>
                    {s.name}
                    {s.carried && <span class="muted small"> (carried over)</span>}
                  </td>
                  <td>{formatTime(s.at)}</td>
                  <td>
                    <Value value={s.payload} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      {detail.children.length > 0 && (
        <section aria-labelledby="children-title">
          <h2 id="children-title">Child runs</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Workflow</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Took</th>
                <th scope="col">When the parent ends</th>
              </tr>
            </thead>
            <tbody>
              {detail.children.map((c) => (
                <tr key={c.childRunId}>
                  <td>
                    <Link href={`/runs/${encodeURIComponent(c.childRunId)}`} class="mono">
                      {shortId(c.childRunId)}
                    </Link>
                  </td>
                  <td>{c.workflow}</td>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td>{formatTime(c.startedAt)}</td>
                  <td>{formatDuration((c.endedAt ?? now) - c.startedAt)}</td>
                  <td>{c.parentClosePolicy.replace('_', ' ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      {detail.timers.length > 0 && (
        <section aria-labelledby="timers-title">
          <h2 id="timers-title">{FINISHED.has(detail.run.status) ? 'Timers left in storage' : 'Pending timers'}</h2>
          {FINISHED.has(detail.run.status) && <p class="muted small">The run has ended: these fire and find nothing to do.</p>}
          <table>
            <thead>
              <tr>
                <th scope="col">Timer</th>
                <th scope="col">Kind</th>
                <th scope="col">Fires</th>
              </tr>
            </thead>
            <tbody>
              {detail.timers.map((t) => (
                <tr key={t.timerId}>
                  <td class="mono">{t.timerId}</td>
                  <td>{t.kind}</td>
                  <td>
                    {formatTime(t.fireAt)} <span class="muted">({formatRelative(t.fireAt, now)})</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </>
  );
}

function Steps({ steps, now }: { steps: StepView[]; now: number }) {
  return (
    <ol class="steps">
      {steps.map((s) => {
        const last = s.attempts.at(-1);
        const took = s.attempts.reduce((sum, a) => sum + ((a.end ?? now) - a.start), 0);
        return (
          <li key={s.correlationId} class="step">
            <details open={s.status === 'failed'}>
              <summary>
                <span class="step-name">{s.name}</span> <StatusBadge status={s.status} />{' '}
                <span class="muted small">
                  call {s.correlationId} · {s.attempts.length} attempt{s.attempts.length === 1 ? '' : 's'} · {formatDuration(took)}
                  {s.queue ? ` · queue ${s.queue}` : ''}
                </span>
                {last?.error && <span class="error-message small"> {last.error.message}</span>}
              </summary>
              <table class="attempts">
                <thead>
                  <tr>
                    <th scope="col">Attempt</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">Started</th>
                    <th scope="col">Took</th>
                    <th scope="col">Retry at</th>
                  </tr>
                </thead>
                <tbody>
                  {s.attempts.map((a) => (
                    <tr key={a.attempt}>
                      <td>#{a.attempt}</td>
                      <td>
                        <StatusBadge status={a.outcome} />
                        {a.error && <ErrorBlock error={a.error} />}
                      </td>
                      <td>
                        {formatTime(a.start)} <span class="muted small">({START_SOURCE[a.startSource]})</span>
                      </td>
                      <td>{a.end === undefined ? `${formatDuration(now - a.start)} so far` : formatDuration(a.end - a.start)}</td>
                      <td>{a.retryAt === undefined ? '' : formatTime(a.retryAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div class="io-grid">
                {s.args && (
                  <div>
                    <h3>Arguments</h3>
                    <Value value={s.args} />
                  </div>
                )}
                {s.result && (
                  <div>
                    <h3>Result</h3>
                    <Value value={s.result} />
                  </div>
                )}
              </div>
            </details>
          </li>
        );
      })}
    </ol>
  );
}
