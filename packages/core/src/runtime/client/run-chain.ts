/**
 * The chain of runs that continueAsNew links: each run's first event names the run it continues
 * (`run_created.continuedFrom`), each continued run's last event the run that continues it
 * (`run_continued.nextRunId`).
 */
import { RunNotFoundError, type RunRecord, type Storage } from '@durably/contracts';

/** The runs linked by continueAsNew that `runId` belongs to, oldest first (runs deleted by retention end it). */
export async function runChain(storage: Storage, runId: string): Promise<RunRecord[]> {
  const start = await storage.getRun(runId);
  if (!start) throw new RunNotFoundError(runId);
  const chain: RunRecord[] = [start];
  for (let first = (await storage.readEvents(runId, 1, 1))[0]; first?.type === 'run_created' && first.data.continuedFrom; ) {
    const previous = await storage.getRun(first.data.continuedFrom);
    if (!previous) break; // deleted by retention
    chain.unshift(previous);
    first = (await storage.readEvents(previous.runId, 1, 1))[0];
  }
  for (let current = start; ; ) {
    const nextId = await nextInChain(storage, current);
    const next = nextId === undefined ? undefined : await storage.getRun(nextId);
    if (!next) break;
    chain.push(next);
    current = next;
  }
  return chain;
}

/** The run that continues `run` (continueAsNew), read from its final event; undefined if it did not continue. */
export async function nextInChain(storage: Storage, run: RunRecord): Promise<string | undefined> {
  if (run.status !== 'continued') return undefined;
  const [last] = await storage.readEvents(run.runId, run.lastSeq, 1);
  return last?.type === 'run_continued' ? last.data.nextRunId : undefined;
}
