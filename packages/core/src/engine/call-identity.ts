/**
 * The identity of a logged call: what kind of call an event belongs to and its name (`step:<name>`,
 * `sleep:sleep`, `hook:<name>`...). A replay compares it with the call the code makes at the same
 * position; a different one is a NonDeterminismError, described with `describeIdentity`.
 */
import type { DurablyEvent } from '@durably/contracts';
import { describeCall } from './commands.js';

/** True for the correlation id of a step's hook (`<stepId>/<hookName>`). */
export function isStepHook(correlationId: string | undefined): boolean {
  return correlationId !== undefined && correlationId.includes('/');
}

/** A step hook's correlation id as `[stepId, hookName]`. */
export function splitStepHook(correlationId: string): [string, string] {
  const i = correlationId.indexOf('/');
  return [correlationId.slice(0, i), correlationId.slice(i + 1)];
}

/** The identity of the call an event belongs to; undefined for events of no call (run events, outcomes that carry no name). */
export function identityOf(ev: DurablyEvent): string | undefined {
  switch (ev.type) {
    case 'step_scheduled':
    case 'step_started':
    case 'step_failed':
    case 'step_completed':
      return `step:${ev.data.name}`;
    case 'sleep_started':
    case 'sleep_completed':
      return 'sleep:sleep';
    case 'value_recorded':
      return `value:${ev.data.kind}`;
    case 'hook_created':
      return isStepHook(ev.correlationId) ? undefined : `hook:${ev.data.name}`;
    case 'hook_closed':
      return `hook:${ev.data.name}`;
    case 'signal_waiting':
    case 'signal_timed_out':
    case 'signal_wait_cancelled':
      return `signal:${ev.data.name}`;
    case 'condition_waiting':
    case 'condition_timed_out':
      return 'condition:condition';
    case 'patch_marker':
      return `patch:${ev.data.patchId}`;
    case 'attributes_set':
      return 'attributes:setAttributes()';
    case 'child_started':
      return `child:${ev.data.workflow}`;
    default:
      return undefined;
  }
}

/** An identity as the call the code would write (`step("charge")`), for error messages. */
export function describeIdentity(identity: string): string {
  const i = identity.indexOf(':');
  return describeCall(identity.slice(0, i), identity.slice(i + 1));
}

