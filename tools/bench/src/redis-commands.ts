/**
 * Where B1's Redis commands go: `count` runs of three no-op steps (after 50 warm-up runs) on a Redis
 * of its own, with the server's `INFO commandstats` read around the measured part, per step and per
 * command (commands run inside Lua scripts are counted by the server too). The counts are
 * server-wide: point it at a private Redis, e.g.
 *
 *   redis-server --port 56999 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes
 *   DURABLY_BENCH_REDIS_URL=redis://127.0.0.1:56999/0 npm run redis-commands -w @durably/bench -- --mode inline --workflows 200
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { BACKENDS, REDIS_URL, threeStepRuns, withEngine } from './shapes.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', multiple: true },
    workflows: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '50' },
  },
});
const count = Number(values.workflows);
const concurrency = Number(values.concurrency);
const modes = (values.mode ?? ['inline', 'dispatch']) as Array<'inline' | 'dispatch'>;

async function commandStats(r: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await r.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

const admin = new Redis(REDIS_URL);
for (const mode of modes) {
  let before = new Map<string, number>();
  const after = await withEngine(BACKENDS.redis, mode, async (client) => {
    await threeStepRuns(client, count, concurrency, async () => {
      before = await commandStats(admin);
    });
    return commandStats(admin);
  });
  // The two INFO calls of this script are not Durably's.
  after.set('info', (after.get('info') ?? 0) - 1);
  const rows = [...after].map(([name, calls]) => [name, calls - (before.get(name) ?? 0)] as const).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((sum, [, n]) => sum + n, 0);
  console.log(`\nB1 ${mode}, ${count} runs x 3 steps, concurrency ${concurrency}: ${(total / count).toFixed(1)} commands per run, ${(total / (count * 3)).toFixed(2)} per step`);
  for (const [name, n] of rows) console.log(`  ${name.padEnd(14)} ${(n / count).toFixed(2).padStart(7)} per run`);
}
admin.disconnect();
