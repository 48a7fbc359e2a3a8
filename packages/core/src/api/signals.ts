import { parseDuration, type Duration } from '../duration.js';
import { InvalidArgumentError } from '../errors.js';
import { workflowRuntime } from './context.js';

/**
 * Waits for the next signal named `name` sent to this run with sendSignal (signals that arrived
 * earlier are buffered and taken in order, each once). Rejects with SignalTimeoutError after `timeout`.
 */
export function waitForSignal<T = unknown>(name: string, options: { timeout?: Duration } = {}): Promise<T> {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new InvalidArgumentError('waitForSignal: name must be a non-empty string of at most 200 characters.');
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'waitForSignal({ timeout })');
  return workflowRuntime('waitForSignal()').waitForSignal(name, timeoutMs) as Promise<T>;
}
