import { parseDuration, type Duration, checkSignalName, InvalidArgumentError } from '@durably/contracts';
import { workflowRuntime } from './context.js';

/**
 * A pending waitForSignal: a promise of the signal's payload, with `cancel()`. A cancelled wait
 * rejects with CancelledError and takes no later signal (the cancellation is recorded in the log).
 * `cancel()` returns false when the wait had already ended.
 */
export type SignalWait<T> = Promise<T> & { cancel(): boolean };

/**
 * Waits for the next signal named `name` sent to this run with sendSignal (signals that arrived
 * earlier are buffered and taken in order, each once). Rejects with SignalTimeoutError after `timeout`.
 * Call `cancel()` on a wait that lost a race, so that it does not take the next signal.
 */
export function waitForSignal<T = unknown>(name: string, options: { timeout?: Duration } = {}): SignalWait<T> {
  checkSignalName(name, 'waitForSignal');
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'waitForSignal({ timeout })');
  return workflowRuntime('waitForSignal()').waitForSignal(name, timeoutMs) as SignalWait<T>;
}

/**
 * Sets the handler of the signals named `name` for this run: it runs for every one, in arrival order,
 * starting with those that arrived before it was set, and may call steps, sleep and wait like the
 * workflow function. A handler that throws fails the run. While it is set, waitForSignal(name)
 * rejects (use condition() on the state it sets). Setting another handler for the name replaces
 * it; the function returned removes it (later signals are buffered again).
 */
export function onSignal<T = unknown>(name: string, handler: (payload: T) => void | Promise<void>): () => void {
  checkSignalName(name, 'onSignal');
  if (typeof handler !== 'function') throw new InvalidArgumentError(`onSignal("${name}", handler): the handler must be a function, got ${typeof handler}.`);
  return workflowRuntime('onSignal()').onSignal(name, handler as (payload: unknown) => unknown);
}

/**
 * Resolves true once `predicate` returns true, tested each time the workflow's code has run (a
 * signal handler, a step's outcome, a timer); at once when it holds already. With `timeout`, resolves
 * false if the timeout (a durable timer) passes first. The predicate must read only workflow state.
 */
export function condition(predicate: () => boolean, options: { timeout?: Duration } = {}): Promise<boolean> {
  if (typeof predicate !== 'function') throw new InvalidArgumentError(`condition(predicate): the predicate must be a function returning a boolean, got ${typeof predicate}.`);
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'condition({ timeout })');
  return workflowRuntime('condition()').condition(predicate, timeoutMs);
}
