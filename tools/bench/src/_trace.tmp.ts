import { Client, Worker } from '@durably/core';
import { RedisStorage, RedisBroker } from '@durably/redis';
import { threeSteps, WORKFLOWS } from './shapes.js';
const url = 'redis://127.0.0.1:56999/0';
const inner = new RedisStorage({ url, prefix: 'trace' });
const mode = (process.argv[2] ?? 'inline') as 'inline' | 'dispatch';
const storage = new Proxy(inner, {
  get(t, k) {
    const v = (t as any)[k];
    if (typeof v !== 'function') return v;
    return (...a: unknown[]) => {
      if (['append', 'createRun', 'getRun', 'readEvents', 'listTimers', 'touchRun'].includes(String(k))) {
        const s = JSON.stringify(a, (key, val) => (key === 'args' || key === 'payload' ? '…' : val));
        console.log('>>', String(k), s.length > 600 ? s.slice(0, 600) + '…' : s);
      }
      return v.apply(t, a);
    };
  },
});
const broker = new RedisBroker({ url, prefix: 'trace' });
const client = new Client({ storage, broker });
const worker = new Worker(client, { workflows: WORKFLOWS, concurrency: 64, stepMode: mode });
await worker.start();
const w = await client.start(threeSteps, 'x'.repeat(10));
await w.result({ timeout: '20s' });
console.log('---- done');
await worker.stop(); await client.close();
process.exit(0);
