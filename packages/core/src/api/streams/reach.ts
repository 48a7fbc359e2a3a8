import { currentScope } from '../../engine/scope.js';
import { step } from '../definitions.js';
import { getDefaultClient } from '../default-client.js';
import {
  DurablyError,
  RunAlreadyFinishedError,
  RunNotFoundError,
  StreamRunNotFoundError,
  serialize,
} from '@durably/contracts';
import type { Client } from '../../runtime/client/client.js';
import { STREAM_WORKFLOW, INBOX, type InboxMessage, type Stream, type StreamOutcome } from './types.js';
import { tagOf } from './define.js';

// ---------------------------------------------------------------------------------------------
// Reaching stream runs from clients and steps.

export function clientHere(explicit: Client | undefined, what: string): Client {
  if (explicit) return explicit;
  const scope = currentScope();
  if (scope?.kind === 'step' && scope.context.client) return scope.context.client;
  if (scope?.kind === 'step') throw new DurablyError(`${what} in a step needs a worker's client; outside a worker pass { client }.`);
  return getDefaultClient();
}

/** The run that currently holds a stream run (the last of its continueAsNew chain), if it exists. */
export async function currentRunOf(client: Client, name: string, streamRunId: string): Promise<{ runId: string; status: string; result?: string } | undefined> {
  await client.ensureReady();
  const page = await client.storage.listRuns({ workflow: STREAM_WORKFLOW, tags: [tagOf(name, streamRunId)], limit: 1 });
  let run = page.runs[0];
  for (let nextId = run && (await client.nextInChain(run)); nextId; nextId = await client.nextInChain(run)) {
    const next = await client.storage.getRun(nextId);
    if (!next) break;
    run = next;
  }
  return run;
}

/** Starts the stream run if it does not exist yet (idempotent); returns the id of its first run. */
export async function ensureStreamRun(client: Client, stream: Stream<any>, streamRunId: string, input: unknown): Promise<string> {
  const args = serialize([stream.name, streamRunId, input, null], `the input of stream "${stream.name}"`);
  const { runId } = await client.startSerialized(STREAM_WORKFLOW, stream.queue, args, {
    idempotencyKey: `stream:${stream.name}:${streamRunId}`,
    tags: [tagOf(stream.name, streamRunId)],
  });
  return runId;
}

export async function sendToStream(client: Client, name: string, streamRunId: string, message: InboxMessage): Promise<void> {
  const run = await currentRunOf(client, name, streamRunId);
  if (!run) throw new StreamRunNotFoundError(name, streamRunId);
  await client.sendSignal(run.runId, INBOX, message);
}

export const notifyStep = step(
  'durably.stream.notify',
  async (watcher: string, watchId: string, outcome: StreamOutcome | { failed: string }) => {
    const client = clientHere(undefined, 'stream notify');
    try {
      await client.sendSignal(watcher, `durably.stream.outcome:${watchId}`, outcome);
    } catch (err) {
      if (err instanceof RunAlreadyFinishedError || err instanceof RunNotFoundError) return;
      throw err;
    }
  },
  { retries: 10 },
);

