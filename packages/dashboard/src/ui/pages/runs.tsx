import { useEffect, useState } from 'preact/hooks';
import { Link, useLocation, useSearch } from 'wouter-preact';
import { RUN_STATUS_LIST, type RunPageResponse, type StatusCountsResponse } from '../../shared/api-types.js';
import { usePoll } from '../api.js';
import { ErrorNotice } from '../components/notice.js';
import { StatusBadge } from '../components/status.js';
import { formatDuration, formatRelative, formatTime, shortId } from '../format.js';

const FILTER_KEYS = ['workflow', 'status', 'tags', 'attributes', 'createdAfter', 'createdBefore', 'parent', 'limit'] as const;
const PAGE_SIZES = ['10', '25', '50', '100'];
type Filters = Partial<Record<(typeof FILTER_KEYS)[number], string>>;

/** Filters live in the address, so a filtered list can be bookmarked, shared and gone back to. */
function readFilters(search: string): Filters {
  const params = new URLSearchParams(search);
  const filters: Filters = {};
  for (const key of FILTER_KEYS) {
    const v = params.get(key);
    if (v) filters[key] = v;
  }
  return filters;
}

function toQuery(filters: Filters, extra: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filters, ...extra })) if (v) params.set(k, v);
  return params.toString();
}

/** A datetime-local value (local time) as ISO 8601, for the API. */
function localToIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function isoToLocal(value: string | undefined): string {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function RunsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const filters = readFilters(search);
  // Cursors of the pages before this one: Previous pops, Next pushes. A new filter starts over.
  const [cursors, setCursors] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  useEffect(() => {
    setCursors([]);
    setCursor(undefined);
  }, [search]);

  const perPage = PAGE_SIZES.includes(filters.limit ?? '') ? filters.limit! : '25';
  const query = toQuery(filters, { cursor, limit: perPage });
  const page = usePoll<RunPageResponse>(`/api/runs?${query}`, 2000);
  const { status: _status, limit: _limit, ...countFilters } = filters;
  const counts = usePoll<StatusCountsResponse>(`/api/runs/counts?${toQuery(countFilters)}`, 5000);

  const apply = (next: Filters) => navigate(`/?${toQuery(next)}`);
  const onSubmit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const text = (k: string) => String(form.get(k) ?? '').trim() || undefined;
    apply({
      workflow: text('workflow'),
      status: text('status'),
      tags: text('tags'),
      attributes: text('attributes'),
      createdAfter: localToIso(String(form.get('createdAfter') ?? '')),
      createdBefore: localToIso(String(form.get('createdBefore') ?? '')),
      parent: text('parent'),
      limit: text('limit') === '25' ? undefined : text('limit'),
    });
  };

  return (
    <>
      <h1 tabIndex={-1}>Runs</h1>
      <nav class="status-counts" aria-label="Runs by status">
        <ul>
          <li>
            <Link href={`/?${toQuery(countFilters)}`} aria-current={!filters.status ? 'page' : undefined} class="count-chip">
              all
            </Link>
          </li>
          {RUN_STATUS_LIST.map((s) => {
            const c = counts.data?.counts[s];
            return (
              <li key={s}>
                <Link href={`/?${toQuery({ ...countFilters, status: s })}`} aria-current={filters.status === s ? 'page' : undefined} class={`count-chip chip-${s}`}>
                  {s} <span class="count">{c ? `${c.count}${c.atLeast ? '+' : ''}` : '…'}</span>
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>

      <form class="filters" onSubmit={onSubmit} aria-label="Filter runs" key={search}>
        <label>
          Workflow
          <input name="workflow" defaultValue={filters.workflow ?? ''} placeholder="any" />
        </label>
        <label>
          Status
          <select name="status" defaultValue={filters.status ?? ''}>
            <option value="">any</option>
            {RUN_STATUS_LIST.map((s) => (
              <option value={s} key={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tags
          <input name="tags" defaultValue={filters.tags ?? ''} placeholder="a,b (all of them)" />
        </label>
        <label>
          Attributes
          <input name="attributes" defaultValue={filters.attributes ?? ''} placeholder='customer=c-42,amount=120' title='key=value pairs, all of them; true/false and numbers are typed, "42" in quotes is a string' />
        </label>
        <label>
          Created after
          <input type="datetime-local" name="createdAfter" defaultValue={isoToLocal(filters.createdAfter)} />
        </label>
        <label>
          Created before
          <input type="datetime-local" name="createdBefore" defaultValue={isoToLocal(filters.createdBefore)} />
        </label>
        <label>
          Parent run
          <input name="parent" defaultValue={filters.parent ?? ''} placeholder="run id" />
        </label>
        <label>
          Per page
          <select name="limit" defaultValue={perPage}>
            {PAGE_SIZES.map((n) => (
              <option value={n} key={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <div class="filter-buttons">
          <button type="submit">Apply filters</button>
          <button type="button" class="secondary" onClick={() => apply({})}>
            Clear
          </button>
        </div>
      </form>

      <ErrorNotice error={page.error} />
      <table class="runs-table">
        <caption class="sr-only">Runs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Workflow</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Duration</th>
            <th scope="col">Events</th>
            <th scope="col">Tags</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.runs.map((r) => (
            <tr key={r.runId}>
              <td>
                <Link href={`/runs/${encodeURIComponent(r.runId)}`} class="mono" title={r.runId}>
                  {shortId(r.runId)}
                </Link>
                {r.parentRunId && <span class="muted small"> child</span>}
              </td>
              <td>{r.workflow}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td title={formatTime(r.createdAt)}>{formatRelative(r.createdAt)}</td>
              <td>{formatDuration((r.finishedAt ?? Date.now()) - r.createdAt)}</td>
              <td>{r.lastSeq}</td>
              <td>
                {r.tags.map((t) => (
                  <span class="tag" key={t}>
                    {t}
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.runs.length === 0 && <p class="empty">No runs match these filters.</p>}
      {page.loading && !page.data && <p class="muted">Loading…</p>}
      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          class="secondary"
          disabled={cursors.length === 0}
          onClick={() => {
            const previous = cursors.slice(0, -1);
            setCursor(cursors.at(-1) || undefined);
            setCursors(previous);
          }}
        >
          ← Newer
        </button>
        <span class="muted">page {cursors.length + 1}</span>
        <button
          type="button"
          class="secondary"
          disabled={!page.data?.nextCursor}
          onClick={() => {
            setCursors([...cursors, cursor ?? '']);
            setCursor(page.data!.nextCursor);
          }}
        >
          Older →
        </button>
      </nav>
    </>
  );
}
