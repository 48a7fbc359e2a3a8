import type { Client } from '../client/client.js';
import { parseDuration, type Duration, type Logger } from '@durably/contracts';

/** Options of `worker.stopOnSignals()`: how a SIGTERM or SIGINT stops the worker and the process. */
export interface StopOnSignalsOptions {
  /** The whole shutdown fits in this: tasks in hand may finish until shortly before, the rest is handed back. Default 10s. */
  grace?: Duration;
  /** Close the worker's client (its storage and broker connections) once stopped. Default true: the process is ending. */
  closeClient?: boolean;
  /**
   * End the process at the end of the grace period if something else still keeps it alive (a server
   * of the app's own, say). Default true; false leaves the exit to the app.
   */
  exit?: boolean;
}

/**
 * On SIGTERM or SIGINT (a deploy, a spot reclaim): stop taking work, let what is in hand finish for
 * most of the grace period, hand the rest back (published again, leases voided, so another worker
 * takes it over at once), close the client's connections, which are what would keep the process
 * alive, and let the process exit, at the latest when the grace period ends.
 */
export function installSignalHandlers(worker: { stop(options: { grace?: Duration }): Promise<void> }, client: Client, logger: Logger, options: StopOnSignalsOptions): void {
  const graceMs = parseDuration(options.grace ?? '10s', 'stopOnSignals({ grace })');
  // Left for the hand-back and the closing of connections after the wait.
  const reserveMs = Math.min(1000, Math.floor(graceMs / 4));
  const onSignal = (signal: NodeJS.Signals) => {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    logger.info('signal received, stopping', { signal, graceMs });
    if (options.exit !== false) {
      // Not keeping the process alive itself: it fires only if something else still does.
      setTimeout(() => {
        logger.warn('grace period over and the process is still busy: exiting', { graceMs });
        process.exit(process.exitCode ?? 0);
      }, graceMs).unref();
    }
    void (async () => {
      try {
        await worker.stop({ grace: graceMs - reserveMs });
      } catch (err) {
        logger.error('worker stop failed', { error: String(err) });
        process.exitCode ??= 1;
      }
      if (options.closeClient !== false) await client.close();
      process.exitCode ??= 0;
      logger.info('stopped; exiting', { signal });
    })();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
