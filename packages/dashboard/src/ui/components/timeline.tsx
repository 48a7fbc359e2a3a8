import { Fragment } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import type { RunStatus, TimelineBar, TimelineLane, TimelineLayout } from '../../shared/api-types.js';
import { formatDuration, formatTime } from '../format.js';
import { drawnEnd, timeScale } from '../timeline-scale.js';

const KIND_LABEL: Record<TimelineLane['kind'], string> = { step: 'step', sleep: 'sleep', hook: 'hook', signal: 'signal', child: 'child' };
const STATE_LABEL: Record<TimelineBar['state'], string> = {
  completed: 'completed',
  failed: 'failed',
  retrying: 'failed, will retry',
  open: 'in progress',
  timed_out: 'timed out',
  cancelled: 'ended with the run',
};
const MIN_WIDTH_PCT = 0.4;

interface Selected {
  lane: TimelineLane;
  bar: TimelineBar;
}

/**
 * The run as a picture: one row per durable call, each step attempt a bar on a shared time axis,
 * waits (sleeps, hooks, signals, retry backoffs, children) as spans, failures marked. Every bar is
 * a button: choosing one shows its details below, so the picture works with the keyboard too.
 */
export function Timeline({ layout, status, now, onShowEvent }: { layout: TimelineLayout; status: RunStatus; now: number; onShowEvent: (seq: number) => void }) {
  const [compress, setCompress] = useState(true);
  const [selected, setSelected] = useState<{ laneId: string; index: number } | undefined>(undefined);
  const scale = useMemo(() => timeScale(layout, now, { compress }), [layout, now, compress]);
  const hasBreaks = scale.segments.some((s) => s.compressed);
  const current: Selected | undefined = useMemo(() => {
    const lane = selected && layout.lanes.find((l) => l.id === selected.laneId);
    const bar = lane?.bars[selected!.index];
    return lane && bar ? { lane, bar } : undefined;
  }, [layout, selected]);
  const runEnd = layout.end ?? now;

  return (
    <section class="timeline" aria-labelledby="timeline-title">
      <div class="section-head">
        <h2 id="timeline-title">Timeline</h2>
        <label class="check">
          <input type="checkbox" checked={compress} onChange={(e) => setCompress((e.target as HTMLInputElement).checked)} />
          Compress long waits
        </label>
      </div>
      <div class="tl-grid">
        <div class="tl-axis" aria-hidden="true">
          <span class="tl-label-col" />
          <div class="tl-track">
            {scale.ticks.map((t) => (
              <span class="tl-tick" style={{ left: `${t.pct}%` }} key={t.at}>
                {t.label}
              </span>
            ))}
            {scale.segments
              .filter((s) => s.compressed)
              .map((s) => (
                <span class="tl-break" style={{ left: `${s.offset * 100}%`, width: `${s.share * 100}%` }} key={s.from} title={`${formatDuration(s.to - s.from)} compressed`}>
                  ≈ {formatDuration(s.to - s.from)}
                </span>
              ))}
          </div>
        </div>
        <ol class="tl-lanes">
          <li class="tl-lane tl-lane-run">
            <span class="tl-label-col">
              <span class="tl-kind">run</span>
              <span class="tl-name">workflow</span>
            </span>
            <div class="tl-track">
              <span class={`tl-runbar tl-run-${status}`} style={barStyle(scale.pct(layout.start), scale.pct(runEnd))} aria-hidden="true" />
              {layout.markers
                .filter((m) => m.laneId === undefined)
                .map((m) => (
                  <span class={`tl-marker tl-marker-${m.kind}`} style={{ left: `${scale.pct(m.at)}%` }} key={`${m.seq}-${m.kind}`} title={`${m.label} at ${formatTime(m.at)}`} role="img" aria-label={m.label} />
                ))}
              {layout.end === undefined && <span class="tl-now" style={{ left: `${scale.pct(now)}%` }} title="now" aria-hidden="true" />}
            </div>
          </li>
          {layout.lanes.map((lane) => (
            <li class={`tl-lane tl-lane-${lane.kind}`} key={lane.id}>
              <span class="tl-label-col" title={lane.label}>
                <span class="tl-kind">{KIND_LABEL[lane.kind]}</span>
                <span class="tl-name">{lane.label.replace(/^(sleep|hook|signal|child) /, '')}</span>
              </span>
              <div class="tl-track">
                {lane.bars.map((bar, index) => {
                  const end = drawnEnd(bar, now);
                  const isSelected = selected?.laneId === lane.id && selected.index === index;
                  const planned = bar.end === undefined && bar.plannedEnd !== undefined && bar.plannedEnd > end;
                  return (
                    <Fragment key={index}>
                      {planned && <span class="tl-planned" style={barStyle(scale.pct(end), scale.pct(bar.plannedEnd!))} aria-hidden="true" />}
                      <button
                        type="button"
                        class={`tl-bar tl-bar-${bar.kind} tl-state-${bar.state}${bar.estimatedStart ? ' tl-estimated' : ''}${isSelected ? ' tl-selected' : ''}`}
                        style={barStyle(scale.pct(bar.start), scale.pct(end))}
                        aria-pressed={isSelected}
                        aria-label={`${bar.label}: ${STATE_LABEL[bar.state]}, ${formatDuration(end - bar.start)}${bar.error ? `, ${bar.error}` : ''}`}
                        title={`${bar.label} (${STATE_LABEL[bar.state]}, ${formatDuration(end - bar.start)})`}
                        onClick={() => setSelected(isSelected ? undefined : { laneId: lane.id, index })}
                      >
                        {bar.state === 'failed' || bar.state === 'retrying' ? <span class="tl-x" aria-hidden="true">✕</span> : null}
                      </button>
                    </Fragment>
                  );
                })}
                {layout.markers
                  .filter((m) => m.laneId === lane.id && m.kind !== 'failure')
                  .map((m) => (
                    <span class={`tl-marker tl-marker-${m.kind}`} style={{ left: `${scale.pct(m.at)}%` }} key={m.seq} title={m.label} role="img" aria-label={m.label} />
                  ))}
              </div>
            </li>
          ))}
        </ol>
      </div>
      <Legend hasBreaks={hasBreaks} />
      <div class="tl-detail" aria-live="polite">
        {current ? <BarDetail {...current} now={now} onShowEvent={onShowEvent} /> : <p class="muted">Choose a bar to see its details.</p>}
      </div>
    </section>
  );
}

function barStyle(from: number, to: number) {
  const width = Math.max(to - from, MIN_WIDTH_PCT);
  return { left: `${Math.min(from, 100 - width)}%`, width: `${width}%` };
}

function BarDetail({ lane, bar, now, onShowEvent }: Selected & { now: number; onShowEvent: (seq: number) => void }) {
  const end = drawnEnd(bar, now);
  return (
    <dl class="facts">
      <dt>{lane.kind}</dt>
      <dd>
        <strong>{bar.label}</strong> · {STATE_LABEL[bar.state]}
      </dd>
      <dt>Started</dt>
      <dd>
        {formatTime(bar.start)}
        {bar.estimatedStart && <span class="muted"> (estimated from the log: this attempt's start is not recorded)</span>}
      </dd>
      <dt>{bar.end === undefined ? 'So far' : 'Took'}</dt>
      <dd>
        {formatDuration(end - bar.start)}
        {bar.plannedEnd !== undefined && bar.end === undefined && <span class="muted"> · due {formatTime(bar.plannedEnd)}</span>}
      </dd>
      {bar.error && (
        <>
          <dt>Error</dt>
          <dd class="error-message">{bar.error}</dd>
        </>
      )}
      {bar.childRunId && (
        <>
          <dt>Child run</dt>
          <dd>
            <Link href={`/runs/${encodeURIComponent(bar.childRunId)}`}>{bar.childRunId}</Link>
          </dd>
        </>
      )}
      {(bar.startSeq !== undefined || bar.endSeq !== undefined) && (
        <>
          <dt>Events</dt>
          <dd class="inline-buttons">
            {[bar.startSeq, bar.endSeq]
              .filter((s): s is number => s !== undefined)
              .map((seq) => (
                <button type="button" class="link-button" key={seq} onClick={() => onShowEvent(seq)}>
                  #{seq}
                </button>
              ))}
          </dd>
        </>
      )}
    </dl>
  );
}

function Legend({ hasBreaks }: { hasBreaks: boolean }) {
  return (
    <ul class="tl-legend" aria-label="Legend">
      <li>
        <span class="sw tl-state-completed" /> attempt completed
      </li>
      <li>
        <span class="sw tl-state-failed" /> attempt failed
      </li>
      <li>
        <span class="sw tl-bar-retry_wait" /> retry backoff
      </li>
      <li>
        <span class="sw tl-bar-sleep" /> sleep
      </li>
      <li>
        <span class="sw tl-bar-hook_wait" /> hook or signal wait
      </li>
      <li>
        <span class="sw tl-bar-child" /> child run
      </li>
      <li>
        <span class="sw tl-estimated" /> start estimated
      </li>
      {hasBreaks && <li>≈ compressed wait</li>}
    </ul>
  );
}
