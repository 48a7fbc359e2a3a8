import { afterEach, expect, it } from 'vitest';
import { BrokerError, Client, MemoryBroker, MemoryStorage, Worker, step, workflow, type Broker, type Delivery, type MessageHandler } from '../src/index.js';
import { brokerQueue, decodeTask, encodeTask, runTask, type TaskMessage } from '../src/runtime/tasks/messages.js';

/**
 * A run's advance fails after it wrote to the log (its next publish failed: the broker was away too
 * long) and what would have retried it is gone too. Nothing may be left waiting for a message that
 * no one sends: the storage sweeps are off here, so only the worker itself can save the run.
 */
const first = step('failed-advance.first', async (n: number) => n + 1);
const second = step('failed-advance.second', async (n: number) => n * 10);
const twoSteps = workflow('failed-advance.two', async (n: number) => second(await first(n)));

/** A broker whose publishes can be held and failed, and whose handlers' failures can be swallowed. */
function controlled(inner: Broker) {
  const rules: Array<(task: TaskMessage) => Promise<void> | undefined> = [];
  const swallow: Array<(task: TaskMessage) => boolean> = [];
  const handled: TaskMessage[] = [];
  const broker = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'publish') {
        return async (queue: string, body: string, options?: Parameters<Broker['publish']>[2]) => {
          const task = decodeTask(body);
          for (const rule of rules) await rule(task);
          return target.publish(queue, body, options);
        };
      }
      if (prop === 'consume') {
        return (queue: string, handler: MessageHandler, options: Parameters<Broker['consume']>[2]) =>
          target.consume(
            queue,
            async (d: Delivery) => {
              const task = decodeTask(d.body);
              try {
                await handler(d);
              } catch (err) {
                // As if this delivery's connection had died: the broker neither retries it nor keeps it.
                if (swallow.some((s) => s(task))) return;
                throw err;
              } finally {
                handled.push(task);
              }
            },
            options,
          );
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { broker, rules, swallow, handled };
}

const workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
});

async function setup() {
  const memory = new MemoryBroker();
  const ctl = controlled(memory);
  const client = new Client({ storage: new MemoryStorage(), broker: ctl.broker });
  // No sweep would find the run: every wake-up must come from the worker or the broker.
  const worker = new Worker(client, { workflows: [twoSteps], stepMode: 'dispatch', localTimerWindow: 0, timerSweepInterval: '1h', recoveryInterval: '1h', staleAfter: '1h' });
  await worker.start();
  workers.push(worker);
  return { client, memory, ...ctl };
}

async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const by = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > by) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

it('a task for a run that came while its advance failed is not lost with it', async () => {
  const { client, memory, rules, swallow, handled } = await setup();
  // The first step's task: held until the test lets it fail.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held = false;
  rules.push((task) => {
    if (task.kind !== 'step' || held) return undefined;
    held = true;
    return gate.then(() => {
      throw new BrokerError('not confirmed within 30000 ms');
    });
  });
  swallow.push((task) => task.kind === 'run' && task.reason === 'start');
  const handle = await client.start(twoSteps, 4);
  await until(() => held);
  // Another task for the run (a redelivery, say) comes while the advance waits: it is merged into
  // that advance and acked.
  await memory.publish(brokerQueue('default'), encodeTask(runTask(handle.runId, 'signal')));
  await until(() => handled.some((t) => t.kind === 'run' && t.reason === 'signal'));
  release();
  expect(await handle.result({ timeout: '10s' })).toBe(50);
});

it('a redelivered step task whose outcome is recorded wakes a run that was not woken', async () => {
  const { client, rules } = await setup();
  // After the first step, both follow-ups fail: the second step's task, then the run task sent in
  // its place. The first step's task then fails, and the broker delivers it again.
  let failures = 0;
  rules.push((task) => {
    const followUp = (task.kind === 'step' && task.name === 'failed-advance.second') || (task.kind === 'run' && task.reason !== 'start');
    if (!followUp || failures >= 2) return undefined;
    failures++;
    return Promise.reject(new BrokerError('not confirmed within 30000 ms'));
  });
  const handle = await client.start(twoSteps, 2);
  expect(await handle.result({ timeout: '15s' })).toBe(30);
  expect(failures).toBe(2);
  const events = await handle.events();
  expect(events.filter((e) => e.type === 'step_completed')).toHaveLength(2);
});

it('a step whose next step could not be sent has the run recovered, which sends it', async () => {
  const { client, rules } = await setup();
  let failed = false;
  rules.push((task) => {
    if (failed || task.kind !== 'step' || task.name !== 'failed-advance.second') return undefined;
    failed = true;
    return Promise.reject(new BrokerError('not confirmed within 30000 ms'));
  });
  const handle = await client.start(twoSteps, 3);
  expect(await handle.result({ timeout: '10s' })).toBe(40);
  expect(failed).toBe(true);
});
