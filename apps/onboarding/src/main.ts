/**
 * Runs the onboarding workflow with an in-process worker and prints each event of the run as it is
 * recorded. Backends come from DURABLY_STORAGE / DURABLY_BROKER (or durably.config.*); with none
 * set, the embedded default: a SQLite file under ./.durably and the local broker, no server.
 *
 *   npm start                          # sleep 2s
 *   npm start -- --sleep 10s --user ana
 *   npm start -- --sleep 1m --key ana  # Ctrl-C during the sleep, run it again: the same run resumes
 */
import { parseArgs } from 'node:util';
import { connect, createWorker, deserialize, type DurablyEvent } from '@durably/core';
import { onboarding } from './workflows.js';

const { values } = parseArgs({
  options: {
    sleep: { type: 'string', default: process.env.ONBOARDING_SLEEP ?? '2s' },
    user: { type: 'string', default: 'user_123' },
    key: { type: 'string' },
  },
});

const client = await connect();
const worker = createWorker({ workflows: [onboarding], client });
await worker.start();

// With --key, starting again (after Ctrl-C, say) attaches to the run started with that key, which
// the worker resumed from its log, instead of starting another.
const run = await client.startWith(onboarding, [values.user!, values.sleep!], { idempotencyKey: values.key });
console.log(`run ${run.runId} (onboarding for ${values.user}, sleep ${values.sleep})`);

let seq = 1;
let done = false;
const tail = (async () => {
  while (!done) {
    for (const event of await run.events(seq)) {
      console.log(describe(event));
      seq = event.seq + 1;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
})();

try {
  const result = await run.result();
  done = true;
  await tail;
  for (const event of await run.events(seq)) console.log(describe(event));
  console.log(`result: ${JSON.stringify(result)}`);
} catch (err) {
  done = true;
  console.error(`run failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await worker.stop();
  await client.close();
}

function describe(e: DurablyEvent): string {
  const at = new Date(e.at).toISOString().slice(11, 23);
  switch (e.type) {
    case 'run_created':
      return `${at}  #${e.seq} run created: ${e.data.workflow}(${JSON.stringify(deserialize(e.data.args)).slice(1, -1)})`;
    case 'step_completed':
      return `${at}  #${e.seq} step ${e.data.name} completed: ${JSON.stringify(deserialize(e.data.result))}`;
    case 'step_failed':
      return `${at}  #${e.seq} step ${e.data.name} attempt ${e.data.attempt} failed: ${e.data.error.message}`;
    case 'sleep_started':
      return `${at}  #${e.seq} sleeping until ${new Date(e.data.wakeAt).toISOString()}`;
    case 'sleep_completed':
      return `${at}  #${e.seq} woke up`;
    case 'run_completed':
      return `${at}  #${e.seq} run completed`;
    default:
      return `${at}  #${e.seq} ${e.type.replace('_', ' ')}`;
  }
}
