/**
 * Runs the drip campaign with a worker in this process, on a fast clock: a campaign "day" lasts
 * --day (500ms by default), so the days between emails pass while you watch. The schedule enrolls
 * the day's signups, each user gets a campaign run of their own, and one user unsubscribes.
 * Backends come from DURABLY_STORAGE / DURABLY_BROKER (or a durably.config.*); with none set, the
 * embedded default.
 *
 *   npm start
 *   npm start -- --day 2s --users ana,bob,cy,dan --unsubscribe cy
 */
import { parseArgs } from 'node:util';
import { connect, createWorker, DurablyError, parseDuration, type Client, type Worker } from '@durably/core';
import { allUsers, resetUsers, signUp } from './users.js';
import { dripCampaign, enrollSignups, onboardingDrip, unsubscribe, type Campaign, type CampaignOutcome } from './workflows.js';

const USAGE = `Usage: npm start -- [--day <duration>] [--users <ids>] [--late <id>] [--unsubscribe <id>]

A schedule enrolls each day's signups into an onboarding campaign: one run per user sends an email,
waits days, sends the next. This demo runs it on a fast clock.

  --day <duration>     how long a campaign day lasts here (default 500ms; the campaign waits 2, 3 and 5 days)
  --users <ids>        users who sign up now (default ana,bob,cy)
  --late <id>          a user who signs up a day later (default dan; "" for none)
  --unsubscribe <id>   a user who unsubscribes after their second email (default bob; "" for none)`;

let values: { day?: string; users?: string; late?: string; unsubscribe?: string; help?: boolean };
let dayMs: number;
try {
  ({ values } = parseArgs({ options: { day: { type: 'string' }, users: { type: 'string' }, late: { type: 'string' }, unsubscribe: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  dayMs = parseDuration(values.day ?? '500ms', '--day');
  if (dayMs < 100 || dayMs > 3_600_000) throw new Error(`--day ${values.day}: use 100ms to 1h.`);
  for (const id of [...(values.users ?? '').split(','), values.late ?? '', values.unsubscribe ?? '']) {
    if (id !== '' && !/^[a-z0-9_-]{1,32}$/.test(id)) throw new Error(`user id ${JSON.stringify(id)}: use 1-32 lowercase letters, digits, "_" and "-".`);
  }
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const DAY = 86_400_000;
const users = (values.users ?? 'ana,bob,cy').split(',').filter(Boolean);
const late = values.late ?? 'dan';
const quitter = values.unsubscribe ?? 'bob';
const expected = [...users, ...(late ? [late] : [])];
/** The real campaign, its days shortened to the demo's. */
const campaign: Campaign = { ...onboardingDrip, emails: onboardingDrip.emails.map((e) => ({ ...e, after: Math.round((parseDuration(e.after, 'after') / DAY) * dayMs) })) };

const t0 = Date.now();
const when = (at = Date.now()) => `day ${((at - t0) / dayMs).toFixed(1).padStart(4)}`;
let client: Client | undefined;
let worker: Worker | undefined;
try {
  client = await connect();
  const active = client;
  let quitterEmails = 0;
  resetUsers({
    onSent: (email, user) => {
      console.log(`${when(email.at)}: "${email.template}" to ${user.email}${email.delivered ? '' : ' (suppressed: unsubscribed)'}`);
      if (user.id === quitter && email.delivered && ++quitterEmails === 2) {
        setTimeout(() => {
          console.log(`${when()}: ${user.email} unsubscribes`);
          unsubscribe(active, user.id).catch((err: unknown) => console.error(`unsubscribe failed: ${(err as Error).message}`));
        }, dayMs / 5);
      }
    },
  });
  for (const id of users) signUp(id, t0);
  console.log(`${when(t0)}: ${users.join(', ')} sign up; the schedule enrolls each day's signups (a campaign day lasts ${values.day ?? '500ms'} here)`);
  // One schedule, whatever the number of workers: each slot starts one enrollment run.
  await client.schedules.create('drip-enroll', enrollSignups, { every: dayMs, args: [campaign], overlap: 'skip' });
  worker = createWorker({ workflows: [enrollSignups, dripCampaign], client, scheduleInterval: Math.min(100, dayMs / 5) });
  await worker.start();
  if (late) {
    setTimeout(() => {
      signUp(late);
      console.log(`${when()}: ${late} signs up`);
    }, dayMs * 1.3);
  }

  // Wait for every user's campaign run to exist, then for each to end.
  const reported = new Set<string>();
  const outcomes: CampaignOutcome[] = [];
  while (outcomes.length < expected.length) {
    for (const user of allUsers()) {
      if (!user.campaignRunId || reported.has(user.id)) continue;
      reported.add(user.id);
      console.log(`${when()}: ${user.id} enrolled, campaign run ${user.campaignRunId}`);
      void client
        .getRun<CampaignOutcome>(user.campaignRunId)
        .result()
        .then((o) => outcomes.push(o));
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await client.schedules.delete('drip-enroll');
  const summary = expected.map((id) => {
    const o = outcomes.find((x) => x.userId === id)!;
    return `${id}: ${o.sent.length} emails${o.status === 'unsubscribed' ? ', unsubscribed' : ''}`;
  });
  console.log(`result: ${expected.length} users enrolled by the schedule; ${summary.join('; ')}`);
} catch (err) {
  console.error(err instanceof DurablyError ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  await worker?.stop();
  await client?.close();
}
