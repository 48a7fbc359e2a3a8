/**
 * The workflows of the encryption-at-rest scenario: every kind of payload a run stores carries the
 * marker (step arguments and results, a step's error, a checkpoint and heartbeat details, a recorded
 * value, a hook token and payload, a signal payload, a child's arguments and result, the run's
 * result, and a failed run's error).
 */
import { checkpoint, defineHook, FatalError, runChild, step, stepContext, waitForSignal, workflow, workflowContext } from '@durably/core';

/** Tokens the runs issued, by marker: the scenario resumes the hook with it, and looks for it at rest. */
export const issued = new Map<string, string>();
/** Releases of the held steps, by marker: the scenario reads the storage while the step holds. */
const releases = new Map<string, () => void>();
/** The held step of each marker, once it saved its checkpoint and gave its heartbeat details. */
export const holding = new Map<string, { runId: string; stepId: string }>();

/** Lets the held step of `marker` finish. */
export function release(marker: string): void {
  releases.get(marker)?.();
}

const echo = step('enc.echo', async (text: string) => `${text}:echoed`);

/** Saves a checkpoint and heartbeat details with the marker, then holds until released. */
const hold = step('enc.hold', async (marker: string) => {
  await checkpoint.save({ saved: `${marker}:checkpoint` });
  const ctx = stepContext();
  ctx.heartbeat({ at: `${marker}:heartbeat` });
  await new Promise<void>((resolve) => {
    releases.set(marker, resolve);
    holding.set(marker, { runId: ctx.runId, stepId: ctx.stepId });
  });
  return 'held';
});

const fail = step('enc.fail', async (marker: string) => {
  throw new FatalError(`${marker}:step-error`);
}, { retries: 0 });

const publish = step('enc.publish', async (marker: string, token: string) => {
  issued.set(marker, token);
  return 'published';
});

const note = defineHook<{ note: string }>('enc.note');

/** The child: its arguments and result carry the marker. */
export const encChild = workflow('enc.child', async (marker: string) => `${marker}:child-result`);

/** The scenario's run: returns every payload it got back, so a round trip through storage is checked too. */
export const encFlow = workflow('enc.flow', async (marker: string) => {
  const echoed = await echo(marker);
  await hold(marker);
  let stepError = '';
  try {
    await fail(marker);
  } catch (err) {
    stepError = (err as Error).message;
  }
  const recorded = workflowContext().uuid();
  const hook = note.create();
  await publish(marker, hook.token);
  const fromHook = await hook;
  const fromSignal = await waitForSignal<string>('enc.signal');
  const child = await runChild(encChild, marker);
  return { echoed, stepError, recorded: typeof recorded, fromHook, fromSignal, child, result: `${marker}:result` };
});

/** A run that fails with the marker in its error. */
export const encFailing = workflow('enc.failing', async (marker: string) => {
  throw new Error(`${marker}:run-error`);
});

/** Every workflow of the scenario. */
export const encryptionWorkflows = [encFlow, encChild, encFailing];
