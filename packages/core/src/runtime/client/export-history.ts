import { createRequire } from 'node:module';
import { HISTORY_FORMAT, HISTORY_FORMAT_VERSION, InvalidArgumentError, RunNotFoundError, type RunHistory, type RunHistoryEntry, type Storage } from '@durably/contracts';

/** The version of @durably/core, recorded in every exported history (package.json sits three levels up from src/ and dist/ alike). */
export const DURABLY_VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** Options of {@link exportHistory}. */
export interface ExportHistoryOptions {
  /** Also export the runs that continued this one (continueAsNew), in order, up to `maxContinuations`. Default false. */
  followContinuations?: boolean;
  /** The most continuations followed. Default 100. */
  maxContinuations?: number;
}

/**
 * A run's history for a file: its record and its whole log as storage holds them (payloads stay
 * Serialized strings), with the format version and the Durably version that wrote it. Reads only.
 * `durably runs export` writes it; `replayHistory` in @durably/testing replays it against the code.
 * Throws RunNotFoundError for an unknown run.
 *
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * import { exportHistory, getDefaultClient } from '@durably/core';
 *
 * const history = await exportHistory(getDefaultClient().storage, 'run-id');
 * await writeFile('run-id.history.json', JSON.stringify(history, null, 2));
 * ```
 */
export async function exportHistory(storage: Storage, runId: string, options: ExportHistoryOptions = {}): Promise<RunHistory> {
  const first = await readEntry(storage, runId);
  if (!first) throw new RunNotFoundError(runId);
  const history: RunHistory = { format: HISTORY_FORMAT, formatVersion: HISTORY_FORMAT_VERSION, durablyVersion: DURABLY_VERSION, exportedAt: Date.now(), ...first };
  if (!options.followContinuations) return history;
  const max = options.maxContinuations ?? 100;
  if (!Number.isInteger(max) || max < 1) throw new InvalidArgumentError(`exportHistory(): maxContinuations must be a whole number >= 1, got ${String(max)}.`);
  history.continuations = [];
  let entry = first;
  for (let i = 0; i < max; i++) {
    const last = entry.events[entry.events.length - 1];
    if (last?.type !== 'run_continued') break;
    const next = await readEntry(storage, last.data.nextRunId);
    if (!next) break; // removed by retention: the chain ends here
    history.continuations.push(next);
    entry = next;
  }
  return history;
}

async function readEntry(storage: Storage, runId: string): Promise<RunHistoryEntry | undefined> {
  const run = await storage.getRun(runId);
  if (!run) return undefined;
  return { run, events: await storage.readEvents(runId) };
}
