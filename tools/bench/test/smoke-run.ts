import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Row } from '../src/shapes.js';
import type { Ratio } from '../src/rounds.js';
import { ensurePeers } from '../src/peers-install.js';

export const benchDir = resolve(import.meta.dirname, '..');

/** The server backends and the peers join in CI (where the servers always run) or with DURABLY_BENCH_SERVERS=1. */
export const servers = Boolean(process.env.CI || process.env.DURABLY_BENCH_SERVERS);

/**
 * The set-up of a smoke test file: a temp directory, and the peers (tools/bench/peers, outside the
 * root install) installed from their lockfile before the bench starts, so that the bench's own time
 * bound measures the bench.
 */
export function smokeSetup(): { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'durably-bench-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(() => {
    if (servers) ensurePeers();
  }, 600_000);
  return { dir };
}

export interface BenchOutput {
  stdout: string;
  rows: Row[];
  rounds: number;
  ratios: Ratio[];
}

/**
 * Runs the bench at tiny size, one round, as `npm run bench -- --size tiny` does, with `args` (shapes,
 * a chart), writing its JSON into `dir`; without the servers, only the embedded backends and Durably.
 */
export async function runTinyBench(dir: string, name: string, args: string[]): Promise<BenchOutput> {
  const out = join(dir, `${name}.json`);
  const scope = servers ? [] : ['--backend', 'memory', '--backend', 'local', '--system', 'durably'];
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--conditions=@durably/source', 'src/main.ts', '--size', 'tiny', '--rounds', '1', '--out', out, ...args, ...scope], {
    cwd: benchDir,
    // DynamoDB + SQS on their emulators add about a minute (a JVM to start, a slower store).
    timeout: 420_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (!stdout.includes(`wrote ${out}`)) throw new Error(`the bench did not write ${out}:\n${stdout.slice(-2000)}`);
  const { rows, rounds, ratios } = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[]; rounds: number; ratios: Ratio[] };
  return { stdout, rows, rounds, ratios };
}

/** One round's rows, each a { shape, system, backend, mode, metric, value, unit, round } with a finite value, covering `shapes`. */
export function expectRows(rows: Row[], rounds: number, shapes: string[]): void {
  expect(rounds).toBe(1);
  for (const r of rows) {
    expect(Object.keys(r).sort()).toEqual(['backend', 'metric', 'mode', 'round', 'shape', 'system', 'unit', 'value']);
    expect(r.round).toBe(1);
    expect(Number.isFinite(r.value), `${r.shape} ${r.system} ${r.backend} ${r.mode} ${r.metric}`).toBe(true);
  }
  const seen = new Set(rows.map((r) => r.shape));
  for (const s of shapes) expect(seen, s).toContain(s);
}
