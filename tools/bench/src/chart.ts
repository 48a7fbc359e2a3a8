/**
 * Renders the headline figures of a bench run as an SVG: first the ratios of Durably to the system on
 * the same backend (bars from 1x to the median across rounds, a whisker over the range), then one panel
 * per figure, each bar the median across rounds with its range. No dependency: rectangles and labels.
 */
import type { Row } from './shapes.js';
import { ratios, summarize, type Ratio } from './rounds.js';

interface Panel {
  title: string;
  unit: string;
  /** Lower is better (latency, time): said in the title. */
  lowerIsBetter: boolean;
  bars: Array<{ label: string; value: number; min: number; max: number; rounds: number; system: Row['system'] }>;
}

const COLORS: Record<Row['system'], string> = {
  durably: '#2563eb',
  dbos: '#9333ea',
  bullmq: '#dc2626',
  'vercel-workflow': '#111827',
  restate: '#ea580c',
  raw: '#6b7280',
};

const NAMES: Record<Row['system'], string> = { durably: 'Durably', dbos: 'DBOS Transact', bullmq: 'BullMQ', 'vercel-workflow': 'Vercel Workflow', restate: 'Restate', raw: 'raw' };

function panels(rows: Row[]): Panel[] {
  const summaries = summarize(rows);
  const pick = (shape: string, metric: string) =>
    summaries
      .filter((r) => r.shape === shape && r.metric === metric && Number.isFinite(r.median))
      .map((r) => ({ label: `${NAMES[r.system]} · ${r.backend}${r.mode && r.mode !== 'inline' ? ` · ${r.mode}` : ''}`, value: r.median, min: r.min, max: r.max, rounds: r.rounds, system: r.system }));
  return [
    { title: 'B1 throughput: 3-step workflows per second (higher is better)', unit: 'wf/s', lowerIsBetter: false, bars: pick('B1', 'workflows_per_s') },
    { title: 'B1 latency p50, start to result (lower is better)', unit: 'ms', lowerIsBetter: true, bars: pick('B1', 'latency_p50_ms') },
    { title: 'B2 one workflow of sequential steps, total time (lower is better)', unit: 'ms', lowerIsBetter: true, bars: pick('B2', 'total_ms') },
    { title: 'B3 timer wake-up lateness p99 (lower is better)', unit: 'ms', lowerIsBetter: true, bars: pick('B3', 'lateness_p99_ms') },
  ].filter((p) => p.bars.length > 0);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function format(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A range line with end ticks, centred on `y`. */
function whisker(x0: number, x1: number, y: number): string {
  return `<path d="M${x0.toFixed(1)} ${y - 4}v8M${x0.toFixed(1)} ${y}H${x1.toFixed(1)}M${x1.toFixed(1)} ${y - 4}v8" stroke="#111827" stroke-width="1.2" fill="none"/>`;
}

/** Ratios on a log scale around 1x: a bar from 1x to the median, a whisker over the rounds' range. */
function ratioPanel(measured: Ratio[], parts: string[], y: number, g: { width: number; labelWidth: number; barArea: number; barHeight: number; gap: number }): number {
  const rounds = Math.max(...measured.map((r) => r.perRound.length));
  parts.push(`<text x="10" y="${y}" font-size="14" font-weight="600">${escape(`Durably ÷ the system on the same backend, median of ${rounds} interleaved round${rounds > 1 ? 's' : ''} and range (above 1x = Durably ahead)`)}</text>`);
  y += 12;
  const lo = Math.log10(Math.min(0.5, ...measured.map((r) => r.min)));
  const hi = Math.log10(Math.max(2, ...measured.map((r) => r.max)));
  const x = (v: number) => g.labelWidth + ((Math.log10(v) - lo) / (hi - lo)) * g.barArea;
  const top = y;
  for (const r of measured) {
    const color = r.median >= 1 ? COLORS.durably : COLORS[r.other.system];
    const [a, b] = [x(Math.min(1, r.median)), x(Math.max(1, r.median))];
    parts.push(`<text x="${g.labelWidth - 8}" y="${y + g.barHeight - 4}" font-size="12" text-anchor="end">${escape(r.label)}</text>`);
    parts.push(`<rect x="${a.toFixed(1)}" y="${y}" width="${Math.max(1, b - a).toFixed(1)}" height="${g.barHeight}" fill="${color}" fill-opacity="0.8" rx="2"/>`);
    parts.push(whisker(x(r.min), x(r.max), y + g.barHeight / 2));
    const text = r.perRound.length > 1 ? `${format(r.median)}x (${format(r.min)}-${format(r.max)}x)` : `${format(r.median)}x (1 round)`;
    parts.push(`<text x="${(Math.max(b, x(r.max)) + 6).toFixed(1)}" y="${y + g.barHeight - 4}" font-size="12">${text}</text>`);
    y += g.barHeight + g.gap;
  }
  parts.push(`<line x1="${x(1).toFixed(1)}" y1="${top - 4}" x2="${x(1).toFixed(1)}" y2="${y}" stroke="#6b7280" stroke-dasharray="3 3"/>`);
  parts.push(`<text x="${x(1).toFixed(1)}" y="${y + 10}" font-size="10" fill="#6b7280" text-anchor="middle">1x (log scale)</text>`);
  return y + 36;
}

export function renderChart(rows: Row[], subtitle: string): string {
  const width = 1100;
  const labelWidth = 430;
  const barArea = width - labelWidth - 190;
  const barHeight = 16;
  const gap = 4;
  let y = 50;
  const parts: string[] = [];
  const measured = ratios(rows).filter((r) => r.other.system !== 'durably');
  if (measured.length > 0) y = ratioPanel(measured, parts, y, { width, labelWidth, barArea, barHeight, gap });
  for (const panel of panels(rows)) {
    parts.push(`<text x="10" y="${y}" font-size="14" font-weight="600">${escape(panel.title)}</text>`);
    y += 12;
    // Log scale when the values span more than two orders of magnitude, so small bars stay visible.
    const max = Math.max(...panel.bars.map((b) => b.max));
    const min = Math.min(...panel.bars.map((b) => b.min).filter((v) => v > 0));
    const log = max / Math.max(min, 1e-9) > 100;
    const scale = (v: number) => (log ? (Math.log10(Math.max(v, min)) - Math.log10(min) + 0.3) / (Math.log10(max) - Math.log10(min) + 0.3) : v / max) * barArea;
    for (const bar of panel.bars) {
      const w = Math.max(1, scale(bar.value));
      parts.push(`<text x="${labelWidth - 8}" y="${y + barHeight - 4}" font-size="12" text-anchor="end">${escape(bar.label)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[bar.system]}" rx="2"/>`);
      const [x0, x1] = [labelWidth + Math.max(1, scale(bar.min)), labelWidth + Math.max(1, scale(bar.max))];
      parts.push(whisker(x0, x1, y + barHeight / 2));
      const spread = bar.rounds > 1 ? ` (${format(bar.min)}-${format(bar.max)})` : ' (1 round)';
      parts.push(`<text x="${(Math.max(labelWidth + w, x1) + 6).toFixed(1)}" y="${y + barHeight - 4}" font-size="12">${format(bar.value)} ${panel.unit}${spread}</text>`);
      y += barHeight + gap;
    }
    if (log) {
      parts.push(`<text x="${labelWidth}" y="${y + 10}" font-size="10" fill="#6b7280">log scale</text>`);
      y += 12;
    }
    y += 24;
  }
  const legend = (Object.keys(COLORS) as Row['system'][])
    .filter((s) => rows.some((r) => r.system === s))
    .map((s, i) => `<rect x="${10 + i * 150}" y="${y}" width="12" height="12" fill="${COLORS[s]}"/><text x="${28 + i * 150}" y="${y + 11}" font-size="12">${NAMES[s]}</text>`)
    .join('');
  y += 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="24" font-size="16" font-weight="700">Durably bench</text>`,
    `<text x="160" y="24" font-size="12" fill="#6b7280">${escape(subtitle)}</text>`,
    ...parts,
    legend,
    `</svg>`,
    '',
  ].join('\n');
}
