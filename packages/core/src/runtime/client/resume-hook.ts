import {
  type Broker,
  checkPayload,
  FINISHED_STATUSES,
  HookAlreadyUsedError,
  HookExpiredError,
  HookNotFoundError,
  HookPayloadInvalidError,
  HOOK_TOKEN_PATTERN,
  type Limits,
  makeEvent,
  type AppendRequest,
  type HookRecord,
  type Serialized,
  serialize,
  type Storage,
} from '@durably/contracts';
import { hookIndexKey, isHookIndexKey, isMultiUseToken } from '../../engine/hook-token.js';
import { getHookDefinition } from '../../engine/definitions.js';
import { fencedAppend, wakePatch, type FencedStep } from '../../engine/fenced-append.js';
import { publishTask } from '../tasks/publish.js';
import { brokerQueue, runTask } from '../tasks/messages.js';

/** A hook found by its token: its index entry, and whether the token is a multi-use one. */
export interface FoundHook {
  record: HookRecord;
  /** The key the entry is stored under (the token's hash, or the raw token of an entry written by 0.1.0). */
  key: string;
  multiUse: boolean;
}

/**
 * The index entry of a token. The index is keyed by the token's hash (hookIndexKey); an entry
 * written by 0.1.0 and before is keyed by the raw token, so that is looked up next, never for a value
 * shaped like a hash key (whoever read the index must not resume a hook with what they read).
 * Entries of 0.1.0 are all single-use.
 */
export async function findHook(storage: Storage, token: string): Promise<FoundHook | undefined> {
  const key = hookIndexKey(token);
  const hashed = await storage.getHook(key);
  if (hashed) return { record: hashed, key, multiUse: isMultiUseToken(token) };
  if (isHookIndexKey(token)) return undefined;
  const legacy = await storage.getHook(token);
  return legacy && legacy.token === token ? { record: legacy, key: token, multiUse: false } : undefined;
}

/** Throws the typed error that says why the hook cannot take a payload now. */
export function checkHookUsable(hook: FoundHook, now: number): void {
  const { record } = hook;
  if (record.consumedAt !== undefined) {
    if (record.expiresAt !== undefined && record.consumedAt >= record.expiresAt) throw new HookExpiredError(record.runId, record.expiresAt);
    throw new HookAlreadyUsedError(record.runId, hook.multiUse);
  }
  if (record.expiresAt !== undefined && record.expiresAt <= now) throw new HookExpiredError(record.runId, record.expiresAt);
}

/**
 * One round of a resume's fenced append: the run is read first and the hook's entry after it, so an
 * entry spent by an append this round does not see (a timeout, a close) has a seq this append's fence
 * rejects. A single-use hook is spent in the same atomic append as its payload: of two racing
 * resumes one wins; a multi-use hook stays open, and racing resumes are all recorded, one after another.
 */
export async function resumeRound(storage: Storage, hook: FoundHook, payload: Serialized, now: () => number): Promise<FencedStep<{ runId: string; queue: string }>> {
  const run = await storage.getRun(hook.record.runId);
  if (!run) throw new HookNotFoundError();
  const record = await storage.getHook(hook.key);
  if (!record) throw new HookNotFoundError();
  const current: FoundHook = { ...hook, record };
  checkHookUsable(current, now());
  if (FINISHED_STATUSES.has(run.status)) throw new HookExpiredError(run.runId);
  const at = now();
  const event = makeEvent(run.runId, run.lastSeq + 1, 'hook_received', { payload }, record.correlationId, at);
  const append: AppendRequest = { runId: run.runId, expectedSeq: run.lastSeq, events: [event], run: wakePatch(run) };
  if (!hook.multiUse) append.setHooks = [{ ...record, consumedAt: at }];
  return { append, value: { runId: run.runId, queue: run.queue } };
}

/** What a resume needs of its client (Client has these). */
export interface ResumeHost {
  readonly storage: Storage;
  readonly broker: Broker;
  readonly limits: Limits;
  readonly clock: () => number;
}

/**
 * `client.resumeHook(token, payload)`, once the client is ready: finds the hook, checks the payload
 * against the hook's schema (when its definition is loaded here), appends it with a fence, and wakes
 * the run. Nothing is written when any of these refuses.
 */
export async function resumeHook(host: ResumeHost, token: string, payload: unknown): Promise<{ runId: string }> {
  if (typeof token !== 'string' || !HOOK_TOKEN_PATTERN.test(token)) throw new HookNotFoundError();
  const hook = await findHook(host.storage, token);
  if (!hook) throw new HookNotFoundError();
  const name = hook.record.name;
  const def = getHookDefinition(name);
  let value = payload;
  if (def?.schema) {
    const parsed = def.schema.safeParse(payload);
    if (!parsed.success) throw new HookPayloadInvalidError(name, describeIssues(parsed.error));
    value = parsed.data;
  }
  const serialized = checkPayload(serialize(value, `the payload of hook "${name}"`), `The payload of hook "${name}"`, host.limits);
  const resumed = await fencedAppend(host.storage, () => resumeRound(host.storage, hook, serialized, host.clock));
  await publishTask(host.broker, brokerQueue(resumed.queue), runTask(resumed.runId, 'hook'), 0, host.clock);
  return { runId: resumed.runId };
}

/** A schema library's issues (zod's `error.issues`) as one line: `path: message; ...`. */
function describeIssues(error: unknown): unknown {
  const issues = (error as { issues?: Array<{ path?: unknown[]; message?: string }> })?.issues;
  if (Array.isArray(issues)) return issues.map((i) => `${(i.path ?? []).join('.') || '(root)'}: ${i.message}`).join('; ');
  return error instanceof Error ? error.message : error;
}
