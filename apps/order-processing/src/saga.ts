/**
 * A saga: each step that changes the world registers how to undo it; when a later step fails for
 * good (or the run is cancelled), the undos run in reverse order. This runs in workflow code, so the
 * list is rebuilt the same way on every replay, and each undo is itself a step: recorded, retried,
 * and done once even if the worker dies half-way through the compensation.
 */
import { shield } from '@durably/core';

export interface CompensationOutcome {
  name: string;
  ok: boolean;
  error?: string;
}

export class Saga {
  private readonly undos: Array<{ name: string; undo: () => Promise<unknown> }> = [];

  /** Registers the compensation of a step that has just succeeded. */
  onRollback(name: string, undo: () => Promise<unknown>): void {
    this.undos.push({ name, undo });
  }

  /**
   * Runs the compensations, last registered first. Shielded: a cancelled run still compensates. A
   * compensation that fails for good is reported and the others still run (its step's retries
   * are the place to make it succeed; what is left needs a person).
   */
  async compensate(): Promise<CompensationOutcome[]> {
    return shield(async () => {
      const outcomes: CompensationOutcome[] = [];
      for (const { name, undo } of [...this.undos].reverse()) {
        try {
          await undo();
          outcomes.push({ name, ok: true });
        } catch (err) {
          outcomes.push({ name, ok: false, error: (err as Error).message });
        }
      }
      return outcomes;
    });
  }
}
