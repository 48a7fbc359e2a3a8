import { DurablyError } from './errors.js';

/** The errors of streams (`defineStream`, `runStream`, `emit`). */

/** A stream run was started or emitted to in a process where its stream is not defined. */
export class StreamNotDefinedError extends DurablyError {
  override readonly code = 'STREAM_NOT_DEFINED' as const;
  constructor(readonly stream: string) {
    super(`No stream named "${stream}" is defined in this process. Import the module that calls defineStream("${stream}", ...) (and its streamStep calls) in every worker.`);
  }
}

/** emit() to a stream run that was never started. */
export class StreamRunNotFoundError extends DurablyError {
  override readonly code = 'STREAM_RUN_NOT_FOUND' as const;
  constructor(
    readonly stream: string,
    readonly streamRunId: string,
  ) {
    super(`Stream "${stream}" has no run "${streamRunId}". Start it first with runStream() in a workflow or client.startStream(), then emit to it.`);
  }
}

/** The stream run behind runStream() failed or was cancelled. */
export class StreamFailedError extends DurablyError {
  override readonly code = 'STREAM_FAILED' as const;
  constructor(
    readonly stream: string,
    readonly streamRunId: string,
    readonly status: string,
    detail?: string,
  ) {
    super(`Stream "${stream}" run "${streamRunId}" ended as ${status}${detail ? `: ${detail}` : ''}.`);
  }
}
