import type { Execution } from '../../engine/execution.js';

/**
 * Live executions waiting on steps dispatched to the broker, kept so that the step's completion
 * feeds one event into a live function instead of replaying the whole log. Bounded (LRU) and only
 * for short waits: runs that sleep or wait on people are dropped, so they cost no memory.
 */
export class ExecutionCache {
  private readonly entries = new Map<string, Execution>();

  constructor(private readonly maxEntries: number) {}

  /** Removes and returns the execution, so no two tasks advance it at once. */
  take(runId: string): Execution | undefined {
    const ex = this.entries.get(runId);
    if (ex) this.entries.delete(runId);
    return ex;
  }

  put(runId: string, execution: Execution): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(runId);
    this.entries.set(runId, execution);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(runId: string): void {
    this.entries.delete(runId);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
