/**
 * The submitter amends the amount while the expense waits for a decision: an update, a request the
 * run answers. `client.update(runId, amendUpdate, { amount, reason })` checks the payload against
 * the schema in the caller (a bad one is rejected with UpdateRejectedError, and the run never sees
 * it), then the run's handler decides on the expense as it is and answers: accepted with the new
 * amount, or refused with the reason.
 */
import { z } from 'zod';
import { defineUpdate } from '@durably/core';

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

/** The run's answer to an amendment. */
export type AmendmentResult = { accepted: true; amount: number } | { accepted: false; why: string };

/** The update: its name is what `durably updates send <runId> amend` names. */
export const amendUpdate = defineUpdate<Amendment, AmendmentResult>('amend', { schema: AmendmentSchema });

/**
 * Checks an amendment against the expense as it is and applies it. Pure: the same log, the same
 * state. The payload is parsed again here: an update sent unchecked (by name from a process that
 * does not load this module, or `durably updates send --no-load`) is answered, not trusted.
 */
export function applyAmendment(state: ExpenseState, payload: unknown, decided: boolean): AmendmentResult {
  const parsed = AmendmentSchema.safeParse(payload);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
    state.amendments.push({ amount: NaN, reason: String((payload as { reason?: unknown })?.reason ?? ''), accepted: false, why });
    return { accepted: false, why };
  }
  const why = decided ? 'the expense was already decided' : parsed.data.amount === state.amount ? 'the amount is unchanged' : undefined;
  if (why) {
    state.amendments.push({ ...parsed.data, accepted: false, why });
    return { accepted: false, why };
  }
  state.amendments.push({ ...parsed.data, accepted: true });
  state.amount = parsed.data.amount;
  return { accepted: true, amount: state.amount };
}
