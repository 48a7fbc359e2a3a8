import { afterEach, expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, Worker, jsonLogger, step, workflow, type Storage } from '../src/index.js';

/**
 * A lease renewal is a write like any other: when storage takes more than a third of stepLease to
 * make it, the next slow write lets the lease lapse while the step still runs, and another worker
 * runs it too. The worker says so, with the remedy, before that happens.
 */
const slow = step('slow-renewal.work', async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
});
const flow = workflow('slow-renewal.flow', async (ms: number) => slow(ms));

const workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
});

/** Storage whose appends without events (lease renewals) take `delayMs`. */
function slowRenewals(storage: Storage, delayMs: number): Storage {
  return new Proxy(storage, {
    get(t, prop) {
      if (prop === 'append') {
        return async (req: Parameters<Storage['append']>[0]) => {
          if (req.events.length === 0 && req.setTimers?.length) await new Promise((r) => setTimeout(r, delayMs));
          return t.append(req);
        };
      }
      const value = Reflect.get(t, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}

async function runWith(renewalDelayMs: number): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  const logger = jsonLogger({ level: 'warn', write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const client = new Client({ storage: slowRenewals(new MemoryStorage(), renewalDelayMs), broker: new MemoryBroker() });
  const worker = new Worker(client, { workflows: [flow], stepLease: '3s', logger });
  await worker.start();
  workers.push(worker);
  const run = await client.start(flow, 4000);
  expect(await run.result({ timeout: '10s' })).toBe(4000);
  return lines.filter((l) => String(l.msg).includes('lease renewal took'));
}

it('warns when a lease renewal takes more than a third of stepLease, naming the remedy', async () => {
  const warnings = await runWith(1200);
  expect(warnings).toHaveLength(1); // at most once a minute
  expect(warnings[0].msg).toContain('raise stepLease');
  expect(warnings[0].stepLeaseMs).toBe(3000);
  expect(warnings[0].tookMs).toBeGreaterThan(1000);
});

it('says nothing when renewals are quick', async () => {
  expect(await runWith(0)).toEqual([]);
});
