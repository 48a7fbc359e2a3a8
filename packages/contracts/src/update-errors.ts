import { DurablyError } from './errors.js';

/** The errors of updates (`client.update()`): refused by the caller's check, failed in the run, or not answered in time. */

/**
 * `client.update()`: the update's schema or `validate` refused the payload in the caller. Only an
 * `update_rejected` event was written; the run never saw the update. `reason` says why.
 */
export class UpdateRejectedError extends DurablyError {
  override readonly code = 'UPDATE_REJECTED' as const;
  constructor(
    /** The run it was sent to; undefined when updateWithStart refused it before any run had its key. */
    readonly runId: string | undefined,
    readonly update: string,
    readonly reason: string,
  ) {
    super(`Update "${update}"${runId === undefined ? '' : ` to run ${runId}`} was rejected: ${reason}`);
  }
}

/**
 * `client.update()`: the update reached the run but has no result: its handler threw (`cause`; the
 * run goes on), or the run ended (or continued as new) before a handler took it. Recorded in the
 * run's log, so a retry with the same updateId gets this same answer.
 */
export class UpdateFailedError extends DurablyError {
  override readonly code = 'UPDATE_FAILED' as const;
  constructor(
    readonly runId: string,
    readonly update: string,
    cause?: unknown,
  ) {
    super(`Update "${update}" to run ${runId} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * `client.update({ timeout })`: no answer came in time. The update stays delivered (the run may
 * still answer it): call again with the same `updateId` to wait for the same answer.
 */
export class UpdateTimeoutError extends DurablyError {
  override readonly code = 'UPDATE_TIMEOUT' as const;
  constructor(
    readonly runId: string,
    readonly update: string,
    readonly updateId: string,
    readonly timeoutMs: number,
  ) {
    super(
      `Update "${update}" (updateId ${updateId}) to run ${runId} got no answer within ${timeoutMs} ms. It was delivered and may still be answered: ` +
        'call update() again with the same updateId to wait for it, and check that the workflow sets a handler for it (update.handle(...)).',
    );
  }
}
