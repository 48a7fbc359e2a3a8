import { parseDuration, type Duration, checkSignalName } from '@durably/contracts';
import { workflowRuntime } from './context.js';

/**
 * Waits for the next signal named `name` sent to this run with sendSignal (signals that arrived
 * earlier are buffered and taken in order, each once). Rejects with SignalTimeoutError after `timeout`.
 */
export function waitForSignal<T = unknown>(name: string, options: { timeout?: Duration } = {}): Promise<T> {
  checkSignalName(name, 'waitForSignal');
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'waitForSignal({ timeout })');
  return workflowRuntime('waitForSignal()').waitForSignal(name, timeoutMs) as Promise<T>;
}
