/**
 * Side effects of the engine suite's step bodies, counted per key (usually `${runId}:${label}`), so
 * tests can check that recorded work is not repeated.
 */
import { context, type StepContext } from '@durably/core';

/** Step body executions per key (usually `${runId}:${label}`). */
export const sideEffects = new Map<string, number>();

export function bump(key: string): number {
  const n = (sideEffects.get(key) ?? 0) + 1;
  sideEffects.set(key, n);
  return n;
}

export function countOf(key: string): number {
  return sideEffects.get(key) ?? 0;
}

export function runIdOf(): string {
  return (context() as StepContext).runId;
}
