/**
 * Renders the headline figures of a bench run as an SVG: horizontal bars, one panel per figure,
 * Durably and its peers side by side. No dependency: the chart is a few rectangles and labels.
 */
import type { Row } from './shapes.js';

interface Panel {
  title: string;
  unit: string;
  /** Lower is better (latency, time): said in the title. */
  lowerIsBetter: boolean;
  bars: Array<{ label: string; value: number; system: Row['system'] }>;
}

const COLORS: Record<Row['system'], string> = {
  durably: '#2563eb',
  dbos: '#9333ea',
  bullmq: '#dc2626',
  'vercel-workflow': '#111827',
  raw: '#6b7280',
};

const NAMES: Record<Row['system'], string> = { durably: 'Durably', dbos: 'DBOS Transact', bullmq: 'BullMQ', 'vercel-workflow': 'Vercel Workflow', raw: 'raw' };

function panels(rows: Row[]): Panel[] {
  const pick = (shape: string, metric: string, filter: (r: Row) => boolean = () => true) =>
    rows
      .filter((r) => r.shape === shape && r.metric === metric && filter(r) && Number.isFinite(r.value))
      .map((r) => ({ label: `${NAMES[r.system]} · ${r.backend}${r.mode && r.mode !== 'inline' ? ` · ${r.mode}` : ''}`, value: r.value, system: r.system }));
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

export function renderChart(rows: Row[], subtitle: string): string {
  const width = 900;
  const labelWidth = 300;
  const barArea = width - labelWidth - 110;
  const barHeight = 16;
  const gap = 4;
  let y = 50;
  const parts: string[] = [];
  for (const panel of panels(rows)) {
    parts.push(`<text x="10" y="${y}" font-size="14" font-weight="600">${escape(panel.title)}</text>`);
    y += 12;
    // Log scale when the values span more than two orders of magnitude, so small bars stay visible.
    const max = Math.max(...panel.bars.map((b) => b.value));
    const min = Math.min(...panel.bars.map((b) => b.value).filter((v) => v > 0));
    const log = max / Math.max(min, 1e-9) > 100;
    const scale = (v: number) => (log ? (Math.log10(Math.max(v, min)) - Math.log10(min) + 0.3) / (Math.log10(max) - Math.log10(min) + 0.3) : v / max) * barArea;
    for (const bar of panel.bars) {
      const w = Math.max(1, scale(bar.value));
      parts.push(`<text x="${labelWidth - 8}" y="${y + barHeight - 4}" font-size="12" text-anchor="end">${escape(bar.label)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[bar.system]}" rx="2"/>`);
      parts.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + barHeight - 4}" font-size="12">${format(bar.value)} ${panel.unit}</text>`);
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
