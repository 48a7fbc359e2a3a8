/**
 * One world of Vercel Workflow in its own process (the world is chosen once per process, from
 * WORKFLOW_TARGET_WORLD). Prints `ROWS <json>` as its last line. Run by vercel.ts.
 */
import { runVercelShapes } from './vercel.js';

process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'MaxListenersExceededWarning' && w.name !== 'DeprecationWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});
const [world, shapes, count, concurrency, steps, maxMs] = process.argv.slice(2);
const rows = await runVercelShapes(world, new Set(shapes.split(',')), Number(count), Number(concurrency), Number(steps), Number(maxMs));
console.log(`ROWS ${JSON.stringify(rows)}`);
process.exit(0);
