/**
 * Rounds: every part of the bench runs `--rounds N` times, interleaved with the systems it is compared
 * with (Durably, peer, Durably, peer, ...), so that a change of load on a shared machine falls on both
 * sides of a ratio. Each figure is reported as its median across rounds with its range, and each ratio
 * is computed per round (both sides measured minutes apart at most) and then summarised the same way.
 */
import type { Row } from './shapes.js';
import { URL_BACKENDS } from './url-backends.js';

/** One figure across rounds. */
export interface Summary {
  shape: string;
  system: Row['system'];
  backend: string;
  mode: string;
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  rounds: number;
}

/** A side of a comparison: the rows it takes its figure from. */
export interface Side {
  system: Row['system'];
  backend: string;
  /** When absent, any mode (a peer has one). */
  mode?: string;
  /** When absent, the comparison's metric. */
  shape?: string;
  metric?: string;
}

export interface Comparison {
  shape: string;
  metric: string;
  /** Which way is better for the metric: the ratio is said so that above 1 means Durably ahead. */
  better: 'higher' | 'lower';
  durably: Side;
  other: Side;
  /** What the ratio means, for the table. */
  label: string;
}

export interface Ratio {
  shape: string;
  metric: string;
  label: string;
  durably: Side;
  other: Side;
  /** Per round, in round order: Durably's figure over the other's (inverted when lower is better). */
  perRound: Array<{ round: number; value: number }>;
  median: number;
  min: number;
  max: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const key = (r: Pick<Row, 'shape' | 'system' | 'backend' | 'mode' | 'metric'>) => `${r.shape}\u0000${r.system}\u0000${r.backend}\u0000${r.mode}\u0000${r.metric}`;

/** Median, min and max of each figure over its rounds, in the order the figures first appear. */
export function summarize(rows: Row[]): Summary[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = key(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  return [...groups.values()].map((rs) => {
    const values = rs.map((r) => r.value).filter(Number.isFinite);
    const { shape, system, backend, mode, metric, unit } = rs[0];
    return { shape, system, backend, mode, metric, unit, median: median(values), min: Math.min(...values), max: Math.max(...values), rounds: values.length };
  });
}

function pick(rows: Row[], shape: string, metric: string, side: Side): Map<number, number> {
  const byRound = new Map<number, number>();
  for (const r of rows) {
    if (r.shape !== (side.shape ?? shape) || r.metric !== (side.metric ?? metric) || r.system !== side.system || r.backend !== side.backend) continue;
    if (side.mode !== undefined && r.mode !== side.mode) continue;
    if (Number.isFinite(r.value)) byRound.set(r.round ?? 1, r.value);
  }
  return byRound;
}

/** The ratios of the comparisons whose both sides were measured, round by round. */
export function ratios(rows: Row[], comparisons: Comparison[] = COMPARISONS): Ratio[] {
  const out: Ratio[] = [];
  for (const c of comparisons) {
    const ours = pick(rows, c.shape, c.metric, c.durably);
    const theirs = pick(rows, c.shape, c.metric, c.other);
    const perRound = [...ours.keys()]
      .filter((round) => theirs.has(round) && theirs.get(round)! > 0 && ours.get(round)! > 0)
      .sort((a, b) => a - b)
      .map((round) => ({ round, value: c.better === 'higher' ? ours.get(round)! / theirs.get(round)! : theirs.get(round)! / ours.get(round)! }));
    if (perRound.length === 0) continue;
    const values = perRound.map((p) => p.value);
    out.push({ shape: c.shape, metric: c.metric, label: c.label, durably: c.durably, other: c.other, perRound, median: median(values), min: Math.min(...values), max: Math.max(...values) });
  }
  return out;
}

const durably = (backend: string, mode = 'inline'): Side => ({ system: 'durably', backend, mode });

/** The pairs the bench compares: Durably and the engine (or the raw server) on the same backend. */
export const COMPARISONS: Comparison[] = [
  ...(
    [
      ['postgres', { system: 'dbos', backend: 'postgres' }, 'DBOS Transact'],
      ['redis', { system: 'bullmq', backend: 'redis' }, 'BullMQ 3-job chain'],
      ['local', { system: 'vercel-workflow', backend: 'local world' }, 'Vercel Workflow local world'],
      ['postgres', { system: 'vercel-workflow', backend: 'postgres world' }, 'Vercel Workflow Postgres world'],
      // Restate syncs its log like SQLite synchronous=FULL, and runs in the local group: compared there only.
      ['local', { system: 'restate', backend: 'restate-server' }, 'Restate'],
    ] as Array<[string, Side, string]>
  ).flatMap(([backend, other, name]): Comparison[] => [
    { shape: 'B1', metric: 'workflows_per_s', better: 'higher', durably: durably(backend), other, label: `B1 workflows/s, Durably ${backend} / ${name}` },
    { shape: 'B1', metric: 'latency_p50_ms', better: 'lower', durably: durably(backend), other, label: `B1 p50, ${name} / Durably ${backend}` },
    { shape: 'B2', metric: 'ms_per_step', better: 'lower', durably: durably(backend), other, label: `B2 time per sequential step, ${name} / Durably ${backend}` },
  ]),
  // Group commit makes a server's single-row commit rate on one connection reachable by inline steps.
  { shape: 'B1', metric: 'steps_per_s', better: 'higher', durably: durably('postgres'), other: { system: 'raw', backend: 'postgres', mode: '1 conn', shape: 'B0', metric: 'insert_commits_per_s' }, label: 'B1 inline steps/s on Postgres / raw INSERT commits/s on 1 connection (B0)' },
  { shape: 'B1', metric: 'steps_per_s', better: 'higher', durably: durably('local'), other: { system: 'raw', backend: 'local', mode: '1 conn', shape: 'B0', metric: 'insert_commits_per_s' }, label: 'B1 inline steps/s on local / raw SQLite INSERT commits/s (B0)' },
  // B8: throughput with 2 and 4 worker processes over 1 (the scaling ratio), on every pair and mode.
  ...URL_BACKENDS.flatMap((backend) =>
    (['inline', 'dispatch'] as const).flatMap((mode) =>
      [2, 4].map(
        (n): Comparison => ({
          shape: 'B8',
          metric: 'workflows_per_s',
          better: 'higher',
          durably: durably(backend, `${mode}, ${n} workers`),
          other: { system: 'durably', backend, mode: `${mode}, 1 worker` },
          label: `B8 scaling: workflows/s with ${n} worker processes / 1, ${backend} ${mode}`,
        }),
      ),
    ),
  ),
  // Dispatched steps against inline ones, on every pair.
  ...['memory', 'local', 'redis', 'postgres', 'postgres+redis'].map(
    (backend): Comparison => ({ shape: 'B1', metric: 'steps_per_s', better: 'higher', durably: durably(backend, 'dispatch'), other: { system: 'durably', backend, mode: 'inline' }, label: `B1 dispatched / inline steps/s, ${backend}` }),
  ),
];

/** "1.76x (1.60-2.08x, 3 rounds)": a figure with its spread. */
export function formatSpread(median: number, min: number, max: number, rounds: number, unit = ''): string {
  const f = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
  return rounds > 1 ? `${f(median)}${unit} (${f(min)}-${f(max)}${unit}, ${rounds} rounds)` : `${f(median)}${unit} (1 round: no spread)`;
}
