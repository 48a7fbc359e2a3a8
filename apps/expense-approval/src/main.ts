/**
 * Submits an expense and waits for its outcome, with a worker in this process. Backends come from
 * DURABLY_STORAGE / DURABLY_BROKER (or a durably.config.*); with none set, the embedded default.
 *
 *   npm start                       # plays every role: the submitter amends (once refused, once accepted),
 *                                   # the manager stays silent,
 *                                   # the expense escalates to finance, finance approves
 *   npm start -- --manual           # you play them: the approval tokens and the commands are printed
 *   npm start -- --manual --dashboard   # ... and the dashboard serves the run at http://127.0.0.1:4280
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect, createWorker, DurablyError, parseDuration, UpdateRejectedError, type Client, type Worker } from '@durably/core';
import { amendUpdate, type Amendment, type AmendmentResult } from './amendments.js';
import { onMessage, type Message } from './notify.js';
import { expenseApproval, type Expense, type ExpenseOutcome, type Route } from './workflows.js';

const USAGE = `Usage: npm start -- [--manual] [--dashboard] [--amount <dollars>] [--timeout <duration>]

Submits an expense that waits for a manager's decision (a hook), escalates to finance when the
manager has not decided within the timeout, and answers amendments of its amount (updates) while it waits.

  --manual               do not play the approvers and the submitter: print the approval tokens and
                         the commands (durably hooks resume, updates send) to run in another terminal
  --dashboard            also serve the dashboard (resume the hook from the run's page)
  --dashboard-port <n>   its port (default 4280; 0 picks a free one)
  --amount <dollars>     the amount submitted (default 150)
  --timeout <duration>   how long each approver has (default 3s, or 10m with --manual)
  --id <id>              the expense id (default: a new one)`;

let values: { manual?: boolean; dashboard?: boolean; 'dashboard-port'?: string; amount?: string; timeout?: string; id?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      manual: { type: 'boolean' },
      dashboard: { type: 'boolean' },
      'dashboard-port': { type: 'string' },
      amount: { type: 'string' },
      timeout: { type: 'string' },
      id: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
  if (values.amount !== undefined && !(Number(values.amount) > 0)) throw new Error(`--amount ${JSON.stringify(values.amount)}: give a positive number of dollars, such as 150 or 42.50.`);
  if (values.timeout !== undefined) parseDuration(values.timeout, '--timeout');
  if (values.id !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.id)) throw new Error(`--id ${JSON.stringify(values.id)}: use 1-64 letters, digits, "_" and "-".`);
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const manual = values.manual === true;
const expense: Expense = {
  id: values.id ?? `exp-${randomBytes(3).toString('hex')}`,
  submitter: 'sam@example.com',
  description: 'conference trip',
  amount: Math.round(Number(values.amount ?? 150) * 100) / 100,
};
const route: Route = { approver: 'manager@example.com', escalateTo: 'finance@example.com', timeout: values.timeout ?? (manual ? '10m' : '3s') };

let client: Client | undefined;
let worker: Worker | undefined;
let dashboard: { url: string; close(): Promise<void> } | undefined;
try {
  client = await connect();
  const c = client;
  let runId = '';
  onMessage((message) => {
    console.log(`  email to ${message.to}: ${message.subject}`);
    if (message.token) (manual ? explain : play)(c, runId, message);
  });
  // The same --id again finds the same run (its idempotency key) instead of submitting twice.
  const run = await client.startWith(expenseApproval, [expense, route], { idempotencyKey: expense.id });
  runId = run.runId;
  console.log(`expense ${expense.id}: ${expense.description}, $${expense.amount.toFixed(2)}, run ${run.runId} (each approver has ${route.timeout})`);
  // Started after the run, so that the header above comes before the run's first email.
  worker = createWorker({ workflows: [expenseApproval], client });
  await worker.start();
  if (values.dashboard) {
    const { startDashboard } = await import('@durably/dashboard');
    dashboard = await startDashboard({ client, port: values['dashboard-port'] === undefined ? undefined : Number(values['dashboard-port']) });
    console.log(`dashboard: ${dashboard.url}/runs/${run.runId} (resume the hook from the run's page)`);
  }
  if (manual) {
    console.log(`amend (as the submitter): npm run durably -- updates send ${run.runId} ${amendUpdate.name} --payload '{"amount": 120, "reason": "the hotel refunded a night"}'`);
  }
  const outcome = await run.result();
  console.log(`result: ${describe(outcome)}`);
} catch (err) {
  console.error(err instanceof DurablyError ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  await dashboard?.close();
  await worker?.stop();
  await client?.close();
}

/** --manual: how to decide, for the person who plays the approver. */
function explain(_client: Client, _runId: string, message: Message): void {
  // The token goes in on stdin ("-"): it stays out of the shell's history (and a token may begin with "-").
  console.log(`    decide (as ${message.to}): echo ${message.token} | npm run durably -- hooks resume - --payload '{"approved": true, "by": "${message.to}"}'`);
}

/**
 * The demo's cast: the submitter amends the amount as soon as the manager is asked (a first try
 * with no reason is rejected in this process by the update's schema; the second is answered by the
 * run); the manager never answers, so the expense escalates; finance approves a moment after being asked.
 */
function play(client: Client, runId: string, message: Message): void {
  const later = (ms: number, act: () => Promise<unknown>) =>
    setTimeout(() => {
      act().catch((err: unknown) => console.error(`  (the demo could not act: ${(err as Error).message})`));
    }, ms);
  if (message.to === route.approver) {
    later(200, async () => {
      await amend(client, runId, { amount: 120, reason: '' });
      await amend(client, runId, { amount: 120, reason: 'the hotel refunded a night' });
      console.log(`  ${route.approver} does not answer...`);
    });
  } else {
    later(300, async () => {
      console.log(`  ${message.to} approves`);
      await client.resumeHook(message.token!, { approved: true, by: message.to, note: 'within the travel budget' });
    });
  }
}

/** The submitter amends the amount and prints the run's answer (or why the update was rejected). */
async function amend(client: Client, runId: string, amendment: Amendment): Promise<AmendmentResult | undefined> {
  console.log(`  ${expense.submitter} amends the amount to $${amendment.amount.toFixed(2)}${amendment.reason ? `: ${amendment.reason}` : ' (no reason given)'}`);
  try {
    const answer = await client.update(runId, amendUpdate, amendment, { timeout: '30s' });
    console.log(answer.accepted ? `  the run answers: accepted, the amount is now $${answer.amount.toFixed(2)}` : `  the run answers: refused, ${answer.why}`);
    return answer;
  } catch (err) {
    if (!(err instanceof UpdateRejectedError)) throw err;
    console.log(`  rejected before it reached the run: ${err.reason}`);
    return undefined;
  }
}

function describe(o: ExpenseOutcome): string {
  const amended = o.amount !== o.originalAmount ? ` (amended from $${o.originalAmount.toFixed(2)})` : '';
  if (o.status === 'expired') return `expense ${o.expenseId} expired: nobody decided, even after escalation; $${o.amount.toFixed(2)}${amended}`;
  return `expense ${o.expenseId} ${o.status} by ${o.decidedBy} for $${o.amount.toFixed(2)}${amended}${o.escalated ? ', after escalation' : ''}`;
}
