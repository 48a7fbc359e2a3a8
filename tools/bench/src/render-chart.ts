/**
 * Renders docs/performance.svg from a results file without running the bench again:
 *   npm run chart -w @durably/bench [-- results.json [out.svg]]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import type { Row } from './shapes.js';

const input = process.argv[2] ?? join(import.meta.dirname, '../results/latest.json');
const output = process.argv[3] ?? join(import.meta.dirname, '../../../docs/performance.svg');
const { at, node, rows } = JSON.parse(readFileSync(input, 'utf8')) as { at: string; node: string; rows: Row[] };
writeFileSync(output, renderChart(rows, `${at.slice(0, 10)} · Node ${node} · 2 cores · same machine, same servers`));
console.log(`wrote ${output}`);
