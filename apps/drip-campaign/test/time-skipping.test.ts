/**
 * The campaign's days pass in milliseconds: createTestEnv's virtual clock drives the schedule's
 * slots, the waits between emails and their timeouts.
 */
import { createTestEnv } from '@durably/testing';
import { expect, it } from 'vitest';
import { markUnsubscribed, resetUsers, sentEmails, signUp, getUser } from '../src/users.js';
import { dripCampaign, enrollSignups, onboardingDrip, unsubscribe } from '../src/workflows.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-02T00:00:00Z');

it('enrolls each day’s signups from the schedule and spaces the emails by days; an unsubscribe ends a campaign', async () => {
  const env = await createTestEnv({ workflows: [enrollSignups, dripCampaign], startTime: new Date(T0) });
  resetUsers({ clock: () => env.now() });
  const day = (email: { at: number }) => (email.at - T0) / DAY;
  try {
    await env.client.schedules.create('drip-enroll', enrollSignups, { every: '1d', args: [onboardingDrip], overlap: 'skip' });
    signUp('ana', T0 + 1 * 3600_000);
    signUp('bob', T0 + 2 * 3600_000);

    await env.advanceTime('1d'); // the day-1 slot enrolls ana and bob: welcome emails
    expect(sentEmails().map((e) => [e.userId, e.template, day(e)])).toEqual([
      ['ana', 'welcome', 1],
      ['bob', 'welcome', 1],
    ]);
    signUp('cy', T0 + DAY + 3 * 3600_000);

    await env.advanceTime('2d'); // day 2: cy enrolled; day 3: tips for ana and bob
    await unsubscribe(env.client, 'bob');
    await env.advanceTime('20d');

    const byUser = (id: string) => sentEmails().filter((e) => e.userId === id).map((e) => `${e.template}@${day(e)}`);
    expect(byUser('ana')).toEqual(['welcome@1', 'getting-started-tips@3', 'customer-story@6', 'upgrade-offer@11']);
    expect(byUser('bob')).toEqual(['welcome@1', 'getting-started-tips@3']);
    expect(byUser('cy')).toEqual(['welcome@2', 'getting-started-tips@4', 'customer-story@7', 'upgrade-offer@12']);

    expect(await env.client.getRun(getUser('bob')!.campaignRunId!).result()).toEqual({ status: 'unsubscribed', userId: 'bob', sent: ['welcome', 'getting-started-tips'] });
    expect(await env.client.getRun(getUser('ana')!.campaignRunId!).result()).toMatchObject({ status: 'completed', sent: onboardingDrip.emails.map((e) => e.template) });

    // One enrollment run per daily slot (23 of them), the campaigns listed under the slots that started them.
    const enrollments = await env.client.listRuns({ workflow: 'drip-enroll', limit: 100 });
    expect(enrollments.runs).toHaveLength(23);
    const day1 = enrollments.runs.find((r) => r.createdAt === T0 + DAY)!;
    const children = await env.client.listRuns({ parentRunId: day1.runId });
    expect(children.runs.map((r) => r.workflow)).toEqual(['drip-campaign', 'drip-campaign']);
  } finally {
    await env.close();
  }
});

it('a user who unsubscribes before the slot is not enrolled', async () => {
  const env = await createTestEnv({ workflows: [enrollSignups, dripCampaign], startTime: new Date(T0) });
  resetUsers({ clock: () => env.now() });
  try {
    await env.client.schedules.create('drip-enroll', enrollSignups, { every: '1d', args: [onboardingDrip], overlap: 'skip' });
    signUp('dee', T0 + 3600_000);
    await unsubscribe(env.client, 'dee');
    await env.advanceTime('1d');
    expect(getUser('dee')!.campaignRunId).toBeUndefined();
    expect(sentEmails()).toEqual([]);
  } finally {
    await env.close();
  }
});

it('stops delivering even when the unsubscribe signal never reached the run (the suppression list)', async () => {
  const env = await createTestEnv({ workflows: [enrollSignups, dripCampaign], startTime: new Date(T0) });
  resetUsers({ clock: () => env.now() });
  try {
    await env.client.schedules.create('drip-enroll', enrollSignups, { every: '1d', args: [onboardingDrip], overlap: 'skip' });
    signUp('eve', T0 + 3600_000);
    await env.advanceTime('1d');
    markUnsubscribed('eve'); // the app recorded it, then died before sending the signal
    await env.advanceTime('15d');
    expect(sentEmails().filter((e) => e.userId === 'eve').map((e) => [e.template, e.delivered])).toEqual([
      ['welcome', true],
      ['getting-started-tips', false],
      ['customer-story', false],
      ['upgrade-offer', false],
    ]);
    expect(await env.client.getRun(getUser('eve')!.campaignRunId!).result()).toEqual({ status: 'completed', userId: 'eve', sent: ['welcome'] });
  } finally {
    await env.close();
  }
});
