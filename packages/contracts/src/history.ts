import { InvalidArgumentError } from './errors.js';
import type { DurablyEvent } from './events.js';
import type { RunRecord } from './storage.js';

/** The `format` field of a run history file (`durably runs export`). */
export const HISTORY_FORMAT = 'durably.run-history';

/**
 * The version of the history file layout. A reader accepts the versions it knows (this one and
 * older); a file written by a newer release names a version this one refuses with a clear error.
 */
export const HISTORY_FORMAT_VERSION = 1;

/** One run in a history file: its record and its whole log, with payloads as stored (Serialized strings). */
export interface RunHistoryEntry {
  run: RunRecord;
  events: DurablyEvent[];
}

/**
 * A run's history as `durably runs export` writes it: the run record and its events exactly as
 * storage holds them, so that `replayHistory` (@durably/testing) replays them against the current
 * code. `continuations` holds the runs that continued it (continueAsNew), in order, when the export
 * followed the chain.
 */
export interface RunHistory extends RunHistoryEntry {
  format: typeof HISTORY_FORMAT;
  formatVersion: number;
  /** The version of @durably/core that exported the file. */
  durablyVersion: string;
  /** Epoch ms of the export. */
  exportedAt: number;
  continuations?: RunHistoryEntry[];
}

/**
 * Reads a history file's content (its JSON text or the parsed value), checking its shape: the format,
 * a known version, a run record and a log that starts with `run_created` at seq 1 and has no gap.
 * Throws InvalidArgumentError naming what is wrong and where (`source`: the file, for the message).
 *
 * @example
 * ```ts
 * import { parseHistory } from '@durably/core';
 *
 * const history = parseHistory('{"format":"durably.run-history","formatVersion":1,"durablyVersion":"0.1.0","exportedAt":0,' +
 *   '"run":{"runId":"r1","workflow":"wf","status":"pending","queue":"default","args":"[[1],[]]","createdAt":0,"updatedAt":0,"lastSeq":1},' +
 *   '"events":[{"runId":"r1","seq":1,"type":"run_created","at":0,"data":{"workflow":"wf","args":"[[1],[]]","queue":"default"}}]}');
 * console.log(history.run.workflow); // 'wf'
 * ```
 */
export function parseHistory(content: string | unknown, source = 'the history'): RunHistory {
  let value: unknown = content;
  if (typeof content === 'string') {
    try {
      value = JSON.parse(content);
    } catch (err) {
      throw new InvalidArgumentError(`${source} is not JSON (${(err as Error).message}); export one with \`durably runs export <runId>\`.`);
    }
  }
  const h = value as Partial<RunHistory> | null;
  if (!h || typeof h !== 'object' || h.format !== HISTORY_FORMAT) {
    throw new InvalidArgumentError(`${source} is not a Durably run history (its "format" must be "${HISTORY_FORMAT}"); export one with \`durably runs export <runId>\`.`);
  }
  if (typeof h.formatVersion !== 'number' || !Number.isInteger(h.formatVersion) || h.formatVersion < 1) {
    throw new InvalidArgumentError(`${source}: "formatVersion" must be a whole number >= 1, got ${JSON.stringify(h.formatVersion)}.`);
  }
  if (h.formatVersion > HISTORY_FORMAT_VERSION) {
    throw new InvalidArgumentError(
      `${source} has format version ${h.formatVersion} (written by Durably ${String(h.durablyVersion)}); this release reads versions up to ${HISTORY_FORMAT_VERSION}. Upgrade @durably/core to replay it.`,
    );
  }
  checkEntry(h as RunHistoryEntry, source);
  if (h.continuations !== undefined) {
    if (!Array.isArray(h.continuations)) throw new InvalidArgumentError(`${source}: "continuations" must be an array of { run, events }.`);
    h.continuations.forEach((entry, i) => checkEntry(entry, `${source} (continuation ${i + 1})`));
  }
  return h as RunHistory;
}

function checkEntry(entry: RunHistoryEntry, source: string): void {
  const run = entry?.run;
  if (!run || typeof run !== 'object' || typeof run.runId !== 'string' || typeof run.workflow !== 'string') {
    throw new InvalidArgumentError(`${source}: "run" must be a run record with a runId and a workflow.`);
  }
  if (!Array.isArray(entry.events) || entry.events.length === 0) {
    throw new InvalidArgumentError(`${source}: "events" must be the run's log, a non-empty array.`);
  }
  entry.events.forEach((ev, i) => {
    if (!ev || typeof ev !== 'object' || typeof ev.type !== 'string' || ev.seq !== i + 1 || typeof ev.data !== 'object') {
      throw new InvalidArgumentError(`${source}: event ${i + 1} must be an event { seq: ${i + 1}, type, at, data } (got ${JSON.stringify(ev)?.slice(0, 200)}).`);
    }
  });
  if (entry.events[0].type !== 'run_created') throw new InvalidArgumentError(`${source}: the log must start with run_created, not ${entry.events[0].type}.`);
}
