import { readFile } from 'node:fs/promises';
import { parseHistory, replayRunLog, type ReplayCheck, type RunHistory, type Workflow, type WorkflowDefinition } from '@durably/core';

export type { ReplayCheck, ReplayDivergence } from '@durably/core';

/**
 * Replays a recorded run history against the current code of `workflow` (or a workflow definition): the engine's own replay
 * (the path a worker takes when it resumes a run), with no step body running (outcomes come from the
 * log) and nothing written anywhere. `history` is a file written by `durably runs export` (its path)
 * or its parsed content. Resolves `{ ok: true }` when the code makes the calls the log records, in
 * its order, and ends as the log says; otherwise `{ ok: false, divergence }` with the first
 * divergence: its seq, the event type, what the log expected and what the code did. A history with
 * `continuations` (`--follow`) is replayed run after run. Throws InvalidArgumentError for a file that
 * is not a history or a run of another workflow.
 *
 * @example
 * ```ts
 * import { step, workflow } from '@durably/core';
 * import { replayHistory } from '@durably/testing';
 *
 * const charge = step('charge', async (amount: number) => `charged ${amount}`);
 * const checkout = workflow('checkout', async (amount: number) => charge(amount));
 *
 * const check = await replayHistory(checkout, './checkout-run.history.json');
 * if (!check.ok) console.log(check.divergence.seq, check.divergence.message);
 * ```
 */
export async function replayHistory(workflow: Workflow<any[], any> | WorkflowDefinition, history: string | RunHistory | unknown): Promise<ReplayCheck> {
  const def = 'definition' in workflow ? workflow.definition : workflow;
  const parsed = typeof history === 'string' ? parseHistory(await readFile(history, 'utf8'), history) : parseHistory(history);
  for (const entry of [parsed, ...(parsed.continuations ?? [])]) {
    const check = await replayRunLog(def, entry.run, entry.events);
    if (!check.ok) return check;
  }
  return { ok: true };
}
