/**
 * Durably benchmarks on the built-in backends.
 *
 *   npm run bench                       # every shape on memory and local, default sizes
 *   npm run bench -- --shape B1 --backend local
 *   npm run bench -- --size tiny        # smoke run
 *
 * Prints one table per shape and writes tools/bench/results/latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKENDS, b1, b2, b3, b4, b5, type Row } from './shapes.js';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', multiple: true },
    backend: { type: 'string', multiple: true },
    size: { type: 'string', default: 'full' },
    out: { type: 'string', default: join(import.meta.dirname, '../results/latest.json') },
  },
});

const tiny = values.size === 'tiny';
const sizes = {
  b1: tiny ? 40 : 2000,
  b2: tiny ? 50 : 1000,
  b3: tiny ? 20 : 1000,
  b4: tiny ? 100 : 10_000,
  b5: tiny ? 10 : 100,
};
const shapes = new Set((values.shape ?? ['B1', 'B2', 'B3', 'B4', 'B5']).map((s) => s.toUpperCase()));
const backends = (values.backend ?? Object.keys(BACKENDS)).map((b) => {
  const backend = BACKENDS[b];
  if (!backend) throw new Error(`Unknown backend "${b}". Known: ${Object.keys(BACKENDS).join(', ')}`);
  return backend;
});

const rows: Row[] = [];
async function measure(label: string, fn: () => Promise<Row[]>) {
  process.stderr.write(`… ${label}\n`);
  const t0 = Date.now();
  const result = await fn();
  rows.push(...result);
  process.stderr.write(`  done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

for (const backend of backends) {
  for (const mode of ['inline', 'dispatch'] as const) {
    if (shapes.has('B1')) await measure(`B1 ${backend.name} ${mode}: ${sizes.b1} x 3 steps at concurrency 50`, () => b1(backend, mode, sizes.b1, 50));
    if (shapes.has('B2')) await measure(`B2 ${backend.name} ${mode}: ${sizes.b2} sequential steps`, () => b2(backend, mode, sizes.b2));
    if (shapes.has('B5')) await measure(`B5 ${backend.name} ${mode}: ${sizes.b5} parallel steps`, () => b5(backend, mode, sizes.b5));
  }
  if (shapes.has('B3')) await measure(`B3 ${backend.name}: ${sizes.b3} sleeps of 1 s`, () => b3(backend, sizes.b3, 1000));
  if (shapes.has('B4')) await measure(`B4 ${backend.name}: ${sizes.b4} runs suspended on a 1 h sleep`, () => b4(backend, sizes.b4));
}

for (const shape of [...new Set(rows.map((r) => r.shape))]) {
  console.log(`\n${shape}`);
  console.table(rows.filter((r) => r.shape === shape).map((r) => ({ backend: r.backend, mode: r.mode, metric: r.metric, value: Number(r.value.toFixed(3)), unit: r.unit })));
}
mkdirSync(join(values.out!, '..'), { recursive: true });
writeFileSync(values.out!, JSON.stringify({ at: new Date().toISOString(), node: process.version, size: values.size, rows }, null, 2) + '\n');
console.log(`\nwrote ${values.out}`);
