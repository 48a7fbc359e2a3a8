import { z } from 'zod';
import { condition, defineHook, defineQuery, HookTimeoutError, step, workflow, type Duration, type Hook } from '@durably/core';
import { amendUpdate, applyAmendment, type ExpenseState } from './amendments.js';
import { send } from './notify.js';

export interface Expense {
  id: string;
  submitter: string;
  description: string;
  amount: number;
}

export interface Route {
  /** Decides first. */
  approver: string;
  /** Decides when the first approver has not within `timeout`. */
  escalateTo: string;
  /** How long each approver has. */
  timeout: Duration;
}

export const DecisionSchema = z.object({ approved: z.boolean(), by: z.string().min(1), note: z.string().max(500).optional() });
export type Decision = z.infer<typeof DecisionSchema>;

/**
 * The approver's answer. `resumeHook` checks it against the schema in a process that has this module
 * loaded (this app, a server of yours); the workflow checks it again, since a resume from elsewhere
 * (the CLI, the dashboard) runs no code of this app.
 */
export const decisionHook = defineHook<Decision>('expense-decision', { schema: DecisionSchema });

export interface Progress extends ExpenseState {
  stage: 'waiting for approver' | 'escalated' | 'decided' | 'expired';
  waitingOn?: string;
}
/** Where the expense is, answered from its log without changing it (`client.query`). */
export const progressQuery = defineQuery<Progress>('expense-progress');

export type ExpenseOutcome =
  | { status: 'approved' | 'rejected'; expenseId: string; amount: number; originalAmount: number; decidedBy: string; note?: string; escalated: boolean; amendments: ExpenseState['amendments'] }
  | { status: 'expired'; expenseId: string; amount: number; originalAmount: number; escalated: true; amendments: ExpenseState['amendments'] };

const money = (amount: number) => `$${amount.toFixed(2)}`;

// The token leaves the run only through a step: a replay hands out the same token and sends nothing again.
export const askForDecision = step('ask-for-decision', async (approver: string, expense: Expense, amount: number, token: string, escalated: boolean, previousAnswerInvalid?: string) => {
  const again = previousAnswerInvalid ? ` (your answer could not be read: ${previousAnswerInvalid}; please answer again)` : '';
  await send({ to: approver, subject: `${escalated ? '[escalated] ' : ''}approve ${expense.id} (${expense.description}) for ${money(amount)}? from ${expense.submitter}${again}`, token });
});
export const tellAmended = step('tell-amended', async (approver: string, expenseId: string, from: number, to: number, reason: string) => {
  await send({ to: approver, subject: `${expenseId} was amended from ${money(from)} to ${money(to)}: ${reason}` });
});
export const tellSubmitter = step('tell-submitter', async (submitter: string, subject: string) => {
  await send({ to: submitter, subject });
});

type Waited = { kind: 'decided'; decision: Decision } | { kind: 'invalid'; why: string } | { kind: 'timed_out' };

/** Waits for the approver's decision (amendments are handled meanwhile by the update's handler). */
async function decisionOrTimeout(hook: Hook<Decision>): Promise<Waited> {
  try {
    const parsed = DecisionSchema.safeParse(await hook);
    if (parsed.success) return { kind: 'decided', decision: parsed.data };
    return { kind: 'invalid', why: parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ') };
  } catch (err) {
    if (err instanceof HookTimeoutError) return { kind: 'timed_out' };
    throw err;
  }
}

/**
 * An expense waits for its approver (a hook); past the timeout it goes to a second approver; past
 * theirs it expires. While it waits the submitter may amend the amount (an update the run answers);
 * approvers decide on the amount as it is when they answer.
 */
export const expenseApproval = workflow('expense-approval', async (expense: Expense, route: Route): Promise<ExpenseOutcome> => {
  const state: ExpenseState = { amount: expense.amount, originalAmount: expense.amount, amendments: [] };
  let stage: Progress['stage'] = 'waiting for approver';
  let waitingOn: string | undefined = route.approver;
  progressQuery.handle(() => ({ ...state, amendments: [...state.amendments], stage, waitingOn }));
  // The submitter's amendments, answered while the expense waits: accepted (and the approver told),
  // or refused with the reason. Counted, so the run does not end while an answer is on its way.
  let amending = 0;
  amendUpdate.handle(async (amendment) => {
    amending++;
    try {
      const before = state.amount;
      const result = applyAmendment(state, amendment, stage === 'decided' || stage === 'expired');
      if (result.accepted && waitingOn) await tellAmended(waitingOn, expense.id, before, result.amount, amendment.reason);
      return result;
    } finally {
      amending--;
    }
  });
  const settled = () => condition(() => amending === 0);

  for (const [approver, escalated] of [[route.approver, false], [route.escalateTo, true]] as const) {
    waitingOn = approver;
    let waited: Waited;
    let invalid: string | undefined;
    do {
      // A token works once: an answer that is not a decision gets the approver a new one.
      const hook = decisionHook.create({ timeout: route.timeout });
      await askForDecision(approver, expense, state.amount, hook.token, escalated, invalid);
      waited = await decisionOrTimeout(hook);
      invalid = waited.kind === 'invalid' ? waited.why : undefined;
    } while (waited.kind === 'invalid');
    if (waited.kind === 'decided') {
      stage = 'decided';
      waitingOn = undefined;
      const { approved, by, note } = waited.decision;
      const status = approved ? 'approved' : 'rejected';
      await settled();
      await tellSubmitter(expense.submitter, `${expense.id} ${status} by ${by} for ${money(state.amount)}${note ? `: ${note}` : ''}`);
      return { status, expenseId: expense.id, amount: state.amount, originalAmount: state.originalAmount, decidedBy: by, note, escalated, amendments: state.amendments };
    }
    if (!escalated) {
      stage = 'escalated';
      await tellSubmitter(expense.submitter, `${expense.id}: no decision from ${approver} within ${route.timeout}; asked ${route.escalateTo}`);
    }
  }
  stage = 'expired';
  waitingOn = undefined;
  await settled();
  await tellSubmitter(expense.submitter, `${expense.id} expired: no decision from ${route.approver} or ${route.escalateTo}`);
  return { status: 'expired', expenseId: expense.id, amount: state.amount, originalAmount: state.originalAmount, escalated: true, amendments: state.amendments };
});
