import { DurablyError } from '@durably/contracts';

/**
 * Control flow that workflow and step code throw to the engine. They are not failures: the replay
 * loop (and the step runners) recognise them and act. They live here, below the API that throws
 * them, so that the engine never imports the API.
 */

/** Thrown by continueAsNew to end the workflow function; the engine starts the next run. */
export class ContinueAsNew {
  constructor(readonly args: unknown[]) {}
}

/**
 * Thrown out of a step body by `stepHook` when its payload has not arrived: the engine records the
 * hook and suspends the step (this is not a failure and uses no attempt).
 */
export class StepSuspended extends DurablyError {
  constructor(
    readonly hookName: string,
    readonly token: string,
    readonly timeoutMs?: number,
  ) {
    super(`step suspended on hook "${hookName}"`);
  }
}

/** An attempt's (or a hook's) outcome: a value or an error. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Outcomes of a step's hooks, by hook name, handed to each attempt. */
export type StepHookOutcomes = Map<string, Outcome>;
