import { expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, STREAM_WORKFLOW, Worker, defineStream, emit, runStream, startStream, streamStep, workflow, type AppendRequest, type Storage } from '../src/index.js';

const gate = defineStream('late-watch.gate');
streamStep(gate, { name: 'door', signals: ['open'] }, (_signal, ctx) => ctx.complete('opened'));
const watcher = workflow('late-watch.watcher', async (streamRunId: string) => (await runStream(gate, { streamRunId })).steps.door.result);

/**
 * Holds the stream run's final append (the one with run_completed) until a watch has been written to
 * its log, then lets it go: it loses the race, and the stream run replays with the watch in its log.
 * That is what a runStream does when it reaches a stream run in the instant it completes.
 */
function holdingFinalAppend(inner: MemoryStorage): { storage: Storage; held: Promise<string> } {
  let release!: (runId: string) => void;
  const held = new Promise<string>((r) => (release = r));
  let holding = true;
  const storage = Object.assign(Object.create(inner) as Storage, {
    append: async (r: AppendRequest) => {
      const run = await inner.getRun(r.runId);
      if (holding && run?.workflow === STREAM_WORKFLOW && r.events.some((e) => e.type === 'run_completed')) {
        holding = false;
        release(r.runId);
        const deadline = Date.now() + 10_000;
        while (!(await inner.readEvents(r.runId)).some((e) => e.type === 'signal_received' && JSON.stringify(e.data).includes('watch')) && Date.now() < deadline) {
          await new Promise((res) => setTimeout(res, 10));
        }
      }
      return inner.append(r);
    },
  });
  return { storage, held };
}

it('tells a runStream that reached the stream run while it completed: the watch is not left unread', async () => {
  const { storage, held } = holdingFinalAppend(new MemoryStorage());
  const client = new Client({ storage, broker: new MemoryBroker() });
  const worker = new Worker(client, { workflows: [watcher] });
  await worker.start();
  try {
    await startStream(gate, { streamRunId: 'g1', client });
    await emit(gate, 'open', undefined, { streamRunId: 'g1', client });
    await held; // the stream run is completing now
    const run = await client.start(watcher, 'g1');
    expect(await run.result({ timeout: '15s' })).toBe('opened');
  } finally {
    await worker.stop();
  }
});
