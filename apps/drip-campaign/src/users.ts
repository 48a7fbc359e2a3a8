/**
 * The app's own data: who signed up when, who unsubscribed, which campaign run a user has, and the
 * emails sent. An in-memory stand-in for the tables a real app keeps; `resetUsers` starts afresh and
 * sets the clock (tests give it the test environment's virtual clock).
 */
export interface User {
  id: string;
  email: string;
  signedUpAt: number;
  unsubscribedAt?: number;
  /** The run of this user's campaign, once enrolled. */
  campaignRunId?: string;
}

export interface SentEmail {
  userId: string;
  template: string;
  at: number;
  /** false when the user had unsubscribed: the mailer's suppression list stopped it. */
  delivered: boolean;
}

let clock: () => number = Date.now;
const users = new Map<string, User>();
const outbox: SentEmail[] = [];
let onSent: (email: SentEmail, user: User) => void = () => undefined;

export function resetUsers(options: { clock?: () => number; onSent?: (email: SentEmail, user: User) => void } = {}): void {
  users.clear();
  outbox.length = 0;
  clock = options.clock ?? Date.now;
  onSent = options.onSent ?? (() => undefined);
}

export function signUp(id: string, at = clock()): User {
  const user: User = { id, email: `${id}@example.com`, signedUpAt: at };
  users.set(id, user);
  return user;
}

export const getUser = (id: string): User | undefined => users.get(id);
export const allUsers = (): User[] => [...users.values()];
export const sentEmails = (): readonly SentEmail[] => outbox;

/** Users who signed up by `until`, are not enrolled yet and have not unsubscribed. */
export function signupsUntil(until: number): User[] {
  return allUsers().filter((u) => u.signedUpAt <= until && u.campaignRunId === undefined && u.unsubscribedAt === undefined);
}

export function recordEnrollment(userId: string, runId: string): void {
  const user = users.get(userId);
  if (user) user.campaignRunId ??= runId;
}

export function markUnsubscribed(userId: string): User | undefined {
  const user = users.get(userId);
  if (user) user.unsubscribedAt ??= clock();
  return user;
}

export async function deliver(userId: string, template: string): Promise<SentEmail> {
  const user = users.get(userId);
  if (!user) throw new Error(`no user ${userId}`);
  await new Promise((r) => setTimeout(r, 5));
  const email: SentEmail = { userId, template, at: clock(), delivered: user.unsubscribedAt === undefined };
  outbox.push(email);
  onSent(email, user);
  return email;
}
