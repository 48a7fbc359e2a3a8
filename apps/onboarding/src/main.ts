/**
 * Runs the onboarding workflow with an in-process worker and prints each event of the run as it is
 * recorded. Backends come from DURABLY_STORAGE / DURABLY_BROKER (or durably.config.*); with none
 * set, the embedded default: a SQLite file under ./.durably and the local broker, no server.
 *
 *   npm start                          # sleep 2s
 *   npm start -- --sleep 10s --user ana
 *   npm start -- --sleep 1m --key ana  # Ctrl-C during the sleep; the same command again resumes the run
 *   npm start -- --help
 */
import { connect, createWorker, deserialize, DurablyError, type Client, type DurablyEvent, type RunHandle, type Worker } from '@durably/core';
import { USAGE, UsageError, parseSampleArgs, resumeCommand, type SampleArgs } from './args.js';
import { onboarding } from './workflows.js';

let args: SampleArgs;
try {
  const parsed = parseSampleArgs(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(USAGE);
    process.exit(0);
  }
  args = parsed;
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  // Nothing was started: bad input is refused before any run exists.
  console.error(`${err.message}\n\n${USAGE}`);
  process.exit(2);
}

// Until the run exists, Ctrl-C has nothing to keep: it stops at once.
const early = () => {
  console.log('\nStopped before the run was started: nothing to resume.');
  process.exit(130);
};
process.once('SIGINT', early);

let client: Client | undefined;
let worker: Worker | undefined;
try {
  client = await connect();
  worker = createWorker({ workflows: [onboarding], client });
  await worker.start();
  // With the same --key (after Ctrl-C, say), this attaches to the run started with that key, which
  // the worker resumes from its log, instead of starting another.
  const run = await client.startWith(onboarding, [args.user, args.sleep], { idempotencyKey: args.key });
  process.removeListener('SIGINT', early);
  const interrupted = new Promise<'interrupted'>((resolve) => process.once('SIGINT', () => resolve('interrupted')));
  await header(run);
  const printer = tail(run);
  const outcome = await Promise.race([run.result().then((result) => ({ result }), (error: unknown) => ({ error })), interrupted]);
  await printer.stop();
  if (outcome === 'interrupted') {
    await worker.stop({ grace: '5s' });
    await explainStop(run);
    process.exitCode = 130;
  } else if ('error' in outcome) {
    console.error(`run failed: ${(outcome.error as Error).message}`);
    process.exitCode = 1;
  } else {
    console.log(`result: ${JSON.stringify(outcome.result)}`);
  }
} catch (err) {
  console.error(err instanceof DurablyError ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  await worker?.stop();
  await client?.close();
}

/** The run's own arguments (the first start's, when --key named an existing run) and what happened to ours. */
async function header(run: RunHandle<string>): Promise<void> {
  const [first] = await run.events(1);
  const [user, sleep] = first?.type === 'run_created' ? deserialize<[string, string]>(first.data.args) : [args.user, args.sleep];
  console.log(`run ${run.runId} (onboarding for ${user}, sleep ${sleep})`);
  if (run.argsDiffer) {
    console.log(
      `note: the key "${args.key}" belongs to this earlier run, started for ${user} with sleep ${sleep}; ` +
        `--user ${args.user} --sleep ${args.sleep} are ignored. Use another --key (or none) for a new run.`,
    );
  } else if (run.created === false) {
    console.log(`note: the key "${args.key}" belongs to this run, started before: attaching to it (the worker resumes it where it was).`);
  }
}

/** Prints each event as it is recorded, until stopped (then prints what is left). */
function tail(run: RunHandle<string>): { stop(): Promise<void> } {
  let seq = 1;
  let stopped = false;
  const flush = async () => {
    for (const event of await run.events(seq)) {
      console.log(describe(event));
      seq = event.seq + 1;
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await flush();
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await flush();
    },
  };
}

/** After Ctrl-C: where the run is, and the exact command that resumes it. */
async function explainStop(run: RunHandle<string>): Promise<void> {
  const record = await run.record();
  const events = await run.events();
  if (['completed', 'failed', 'cancelled', 'continued'].includes(record.status)) {
    console.log(`\nStopped. Run ${run.runId} had already finished (${record.status}).`);
    return;
  }
  const sleep = events.findLast((e) => e.type === 'sleep_started');
  const sleeping = sleep?.type === 'sleep_started' && !events.some((e) => e.type === 'sleep_completed' && e.correlationId === sleep.correlationId);
  const where = record.status === 'suspended' && sleeping ? `is suspended, sleeping until ${new Date(sleep.data.wakeAt).toISOString()}` : `is ${record.status}`;
  console.log(`\nStopped. Run ${run.runId} ${where}. It is kept in storage and waits for a worker to carry it on.`);
  console.log(`Resume it with:\n  ${resumeCommand(args)}`);
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
