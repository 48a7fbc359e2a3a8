import { useState } from 'preact/hooks';
import type { EventView } from '../../shared/api-types.js';
import { ErrorBlock } from '../components/error-view.js';
import { Value } from '../components/value.js';
import { formatClock, formatDuration, formatTime } from '../format.js';

const PAGE = 500;
const TIME_FIELDS = new Set(['wakeAt', 'retryAt', 'expiresAt', 'timeoutAt', 'startAt', 'scheduledAt', 'leaseUntil']);

function fieldText(key: string, value: unknown): string {
  if (TIME_FIELDS.has(key) && typeof value === 'number') return formatTime(value);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The run's whole log, in order, every field shown; filterable by type, call id or text. */
export function EventLog({ events, start, highlight }: { events: EventView[]; start: number; highlight?: number }) {
  const [filter, setFilter] = useState('');
  const [limit, setLimit] = useState(PAGE);
  const needle = filter.trim().toLowerCase();
  const matching = needle
    ? events.filter((e) => e.type.includes(needle) || e.correlationId === needle || JSON.stringify(e.fields).toLowerCase().includes(needle) || String(e.seq) === needle)
    : events;
  // A long log is shown a page at a time (the highlighted event is always included), so the page stays quick.
  const shown = matching.length <= limit ? matching : matching.filter((e, i) => i < limit || e.seq === highlight);
  return (
    <section aria-labelledby="events-title">
      <div class="section-head">
        <h2 id="events-title">
          Event log <span class="muted">({events.length})</span>
        </h2>
        <label class="inline-label">
          Filter
          <input type="search" value={filter} placeholder="type, call id or text" onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      <table class="events-table">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Time</th>
            <th scope="col">Type</th>
            <th scope="col">Call</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr id={`event-${e.seq}`} key={e.seq} class={highlight === e.seq ? 'highlight' : undefined}>
              <td class="mono">{e.seq}</td>
              <td class="mono" title={formatTime(e.at)}>
                {formatClock(e.at)}
                <span class="muted small"> +{formatDuration(e.at - start)}</span>
              </td>
              <td>
                <span class={`etype etype-${e.type.split('_')[0]}`}>{e.type}</span>
              </td>
              <td class="mono">{e.correlationId ?? ''}</td>
              <td class="event-details">
                {Object.entries(e.fields).map(([k, v]) => (
                  <span class="field" key={k}>
                    <span class="v-key">{k}</span>={fieldText(k, v)}
                  </span>
                ))}
                {e.values &&
                  Object.entries(e.values).map(([k, v]) => (
                    <div class="field-value" key={k}>
                      <span class="v-key">{k}</span>: <Value value={v} />
                    </div>
                  ))}
                {e.error && <ErrorBlock error={e.error} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {matching.length > shown.length && (
        <p>
          <button type="button" class="secondary" onClick={() => setLimit(limit + PAGE)}>
            Show {Math.min(PAGE, matching.length - shown.length)} more of {matching.length - shown.length} events
          </button>
        </p>
      )}
      {matching.length === 0 && <p class="empty">No event matches “{filter}”.</p>}
    </section>
  );
}
