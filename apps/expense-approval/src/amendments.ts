/**
 * The submitter amends the amount while the expense waits for a decision.
 *
 * Today an amendment is a signal (`sendSignal(runId, 'amend', { amount, reason })`): the run takes
 * it at its next wait, checks it here and records whether it was accepted, but the sender gets no
 * answer. An update (a message the run answers) fits better; when Durably has one, `applyAmendment`
 * becomes its handler unchanged (its return value is the answer), `AmendmentInbox` goes away, and
 * the sender calls the update instead of sendSignal.
 */
import { z } from 'zod';
import { waitForSignal } from '@durably/core';

export const AMEND_SIGNAL = 'amend';

export const AmendmentSchema = z.object({
  amount: z.number().positive().max(100_000).multipleOf(0.01),
  reason: z.string().min(1).max(200),
});
export type Amendment = z.infer<typeof AmendmentSchema>;

export interface ExpenseState {
  amount: number;
  originalAmount: number;
  amendments: Array<Amendment & { accepted: boolean; why?: string }>;
}

export type AmendmentResult = { accepted: true; amount: number } | { accepted: false; why: string };

/** Checks an amendment against the expense as it is and applies it. Pure: the same log, the same state. */
export function applyAmendment(state: ExpenseState, payload: unknown): AmendmentResult {
  const parsed = AmendmentSchema.safeParse(payload);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
    state.amendments.push({ amount: NaN, reason: String((payload as { reason?: unknown })?.reason ?? ''), accepted: false, why });
    return { accepted: false, why };
  }
  if (parsed.data.amount === state.amount) {
    state.amendments.push({ ...parsed.data, accepted: false, why: 'the amount is unchanged' });
    return { accepted: false, why: 'the amount is unchanged' };
  }
  state.amendments.push({ ...parsed.data, accepted: true });
  state.amount = parsed.data.amount;
  return { accepted: true, amount: state.amount };
}

/**
 * One pending wait for the next amendment, kept across the approval stages: a wait the workflow
 * stopped listening to would still take the next signal, and that amendment would be lost.
 */
export class AmendmentInbox {
  private pending?: Promise<unknown>;

  next(): Promise<unknown> {
    this.pending ??= waitForSignal(AMEND_SIGNAL);
    return this.pending;
  }

  /** The amendment returned by next() was handled: the following call waits for a new one. */
  taken(): void {
    this.pending = undefined;
  }
}
