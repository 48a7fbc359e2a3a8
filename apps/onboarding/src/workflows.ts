import { sleep, step, workflow, type Duration } from '@durably/core';

export const sendWelcomeEmail = step('send-welcome-email', async (userId: string) => {
  return `Email sent to ${userId}`;
});

export const sendTipsEmail = step('send-tips-email', async (userId: string) => {
  return `Tips sent to ${userId}`;
});

/** The quick example: welcome email, wait, tips email. In production the wait is '1d'. */
export const onboarding = workflow('onboarding', async (userId: string, wait: Duration) => {
  await sendWelcomeEmail(userId);
  await sleep(wait);
  await sendTipsEmail(userId);
  return 'Onboarding complete';
});
