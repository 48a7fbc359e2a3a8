import type { Logger } from '@durably/contracts';
import type { Instrumentation } from './instrumentation.js';

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * One log line per run start, completion and failure, step failure and retry, dead letter and
 * recovery, each with the run, workflow, step and attempt it is about. Never a hook token or a
 * payload: arguments, results and payloads stay in storage.
 */
export function logInstrumentation(logger: Logger): Instrumentation {
  return {
    runExecution(info) {
      const run = { runId: info.runId, workflow: info.workflow };
      if (info.firstStart) logger.info('run started', { ...run, queue: info.queue });
      else logger.debug('run resumed', { ...run, replayedEvents: info.replayedEvents });
      return {
        end({ outcome, error }) {
          const durationMs = Date.now() - info.createdAt;
          switch (outcome) {
            case 'completed':
              return logger.info('run completed', { ...run, durationMs });
            case 'failed':
              return logger.error('run failed', { ...run, durationMs, error: describeError(error) });
            case 'cancelled':
              return logger.info('run cancelled', { ...run, durationMs });
            case 'continued':
              return logger.info('run continued as new', run);
            case 'suspended':
              return logger.debug('run suspended', run);
            case 'superseded':
              return logger.debug('run advanced by another writer; replaying', run);
            case 'error':
              return logger.warn('advancing the run failed; its task will be delivered again', { ...run, error: describeError(error) });
          }
        },
      };
    },
    stepAttempt(info) {
      const fields = { runId: info.runId, workflow: info.workflow, step: info.step, stepId: info.stepId, attempt: info.attempt };
      return {
        end({ outcome, durationMs, error }) {
          if (outcome === 'retry') logger.warn('step attempt failed; it will be retried', { ...fields, maxAttempts: info.maxAttempts, durationMs, error: describeError(error) });
          else if (outcome === 'failed') logger.error('step failed', { ...fields, maxAttempts: info.maxAttempts, durationMs, error: describeError(error) });
          else logger.debug(outcome === 'completed' ? 'step completed' : 'step waits for its hook', { ...fields, durationMs });
        },
      };
    },
    deadLetter(info) {
      logger.error('message dead-lettered', { queue: info.queue, messageId: info.messageId, runId: info.runId, reason: info.reason });
    },
    recovery(info) {
      if (info.kind === 'worker_lost' && info.detail?.handedBack === true) {
        logger.info('taking over a step attempt its worker handed back', { runId: info.runId, ...info.detail });
        return;
      }
      const message =
        info.kind === 'stale_run' ? 'resuming a run with no progress' : info.kind === 'overdue_timer' ? 'overdue timer found in storage; waking the run' : 'run lost its worker; resuming it here';
      logger.warn(message, { runId: info.runId, ...info.detail });
    },
  };
}
