import { Link } from 'wouter-preact';
import type { DeadLettersResponse } from '../../shared/api-types.js';
import { usePoll } from '../api.js';
import { ErrorNotice } from '../components/notice.js';
import { formatTime, shortId } from '../format.js';

/** Messages the broker gave up on, per queue, with the reason and the run they were for. */
export function DeadLettersPage() {
  const res = usePoll<DeadLettersResponse>('/api/dead-letters', 5000);
  return (
    <>
      <h1 tabIndex={-1}>Dead letters</h1>
      <p class="muted">
        Messages the broker stopped delivering: undecodable, or failing past the delivery limit. The truth is in storage, so a run whose message died is still
        resumed by the workers' sweeps; these are for finding what went wrong.
      </p>
      <ErrorNotice error={res.error} />
      {res.data?.queues.map((q) => (
        <section key={q.queue} aria-labelledby={`dl-${q.queue}`}>
          <h2 id={`dl-${q.queue}`}>
            Queue {q.queue} <span class="muted">({q.deadLetters.length})</span>
          </h2>
          {q.error && <p class="notice notice-error">The broker could not list this queue: {q.error}</p>}
          {q.deadLetters.length === 0 && !q.error ? (
            <p class="empty">None.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Deliveries</th>
                  <th scope="col">Task</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {q.deadLetters.map((d) => (
                  <tr key={d.id}>
                    <td>{formatTime(d.at)}</td>
                    <td class="error-message">{d.reason}</td>
                    <td>{d.deliveryCount}</td>
                    <td>
                      {d.task ? (
                        <>
                          {d.task.kind}
                          {d.task.name && ` ${d.task.name}`}
                          {d.task.runId && (
                            <>
                              {' of '}
                              <Link href={`/runs/${encodeURIComponent(d.task.runId)}`} class="mono">
                                {shortId(d.task.runId)}
                              </Link>
                            </>
                          )}
                        </>
                      ) : (
                        <span class="muted">not a task</span>
                      )}
                    </td>
                    <td>
                      <details>
                        <summary>body</summary>
                        <pre class="stack">{d.body}</pre>
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
    </>
  );
}
