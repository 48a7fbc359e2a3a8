import { FatalError, RunAlreadyFinishedError, SignalTimeoutError, startChildWith, step, waitForSignal, workflow, workflowContext, parseDuration, type Duration } from '@durably/core';
import { deliver, markUnsubscribed, recordEnrollment, signupsUntil } from './users.js';

export interface Campaign {
  name: string;
  /** The emails in order; each waits `after` from the previous one (the first usually 0). */
  emails: Array<{ template: string; after: Duration }>;
}

export const onboardingDrip: Campaign = {
  name: 'onboarding',
  emails: [
    { template: 'welcome', after: 0 },
    { template: 'getting-started-tips', after: '2d' },
    { template: 'customer-story', after: '3d' },
    { template: 'upgrade-offer', after: '5d' },
  ],
};

export const UNSUBSCRIBE = 'unsubscribe';

export type CampaignOutcome = { status: 'completed' | 'unsubscribed'; userId: string; sent: string[] };

export const sendEmail = step('drip.send-email', async (userId: string, template: string) => {
  const email = await deliver(userId, template);
  return { template, delivered: email.delivered };
});

export const noteUnsubscribed = step('drip.note-unsubscribed', async (userId: string) => {
  markUnsubscribed(userId);
});

/**
 * One user's campaign: an email, a wait of days, the next email... The wait is a wait for the
 * `unsubscribe` signal with the gap as its timeout: the timeout passing means "time for the next
 * email", the signal ends the campaign. Either way the run holds nothing while it waits, for days.
 */
export const dripCampaign = workflow('drip-campaign', async (userId: string, campaign: Campaign): Promise<CampaignOutcome> => {
  const sent: string[] = [];
  for (const { template, after } of campaign.emails) {
    if (parseDuration(after, 'after') > 0) {
      try {
        await waitForSignal(UNSUBSCRIBE, { timeout: after });
        await noteUnsubscribed(userId);
        return { status: 'unsubscribed', userId, sent };
      } catch (err) {
        if (!(err instanceof SignalTimeoutError)) throw err;
      }
    }
    const { delivered } = await sendEmail(userId, template);
    if (delivered) sent.push(template);
  }
  return { status: 'completed', userId, sent };
});

export const findSignups = step('drip.find-signups', async (until: number) => signupsUntil(until).map((u) => u.id));
export const noteEnrollment = step('drip.note-enrollment', async (userId: string, runId: string) => recordEnrollment(userId, runId));

/**
 * Started by the schedule at every slot: enrolls the users who signed up by the slot and are not
 * enrolled yet, each in a campaign run of their own (a child that carries on after this run ends).
 * The schedule's overlap policy (skip) keeps two enrollments from running at once, and each user's
 * enrollment is recorded before the next slot looks.
 */
export const enrollSignups = workflow('drip-enroll', async (campaign: Campaign) => {
  const { scheduledAt, now } = workflowContext();
  // The slot, not the moment the run happens to start (a late run, a backfill).
  const slot = (scheduledAt ?? now()).getTime();
  const userIds = await findSignups(slot);
  const enrolled: Array<{ userId: string; runId: string }> = [];
  for (const userId of userIds) {
    const child = await startChildWith(dripCampaign, [userId, campaign], { parentClosePolicy: 'abandon' });
    await noteEnrollment(userId, child.runId);
    enrolled.push({ userId, runId: child.runId });
  }
  return { slot: new Date(slot).toISOString(), enrolled };
});

/** What the app's "unsubscribe" link does: stop sending at once, and end the user's campaign run. */
export async function unsubscribe(client: { sendSignal(runId: string, name: string, payload?: unknown): Promise<void> }, userId: string): Promise<void> {
  const user = markUnsubscribed(userId);
  if (!user) throw new FatalError(`no user ${userId}`);
  if (!user.campaignRunId) return; // not enrolled yet: the enrollment skips unsubscribed users
  try {
    await client.sendSignal(user.campaignRunId, UNSUBSCRIBE, { at: user.unsubscribedAt });
  } catch (err) {
    // The campaign had already sent its last email: nothing is left to stop.
    if (!(err instanceof RunAlreadyFinishedError)) throw err;
  }
}
