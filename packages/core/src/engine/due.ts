import type { Command, StepCommand } from './commands.js';

/**
 * The earliest time at which something of the run falls due: a started sleep's wake-up, a hook's, a
 * signal wait's or a condition's timeout, a step hook's timeout, a step's retry that waits in this process, or the
 * run's maxDuration deadline. The replay loop wakes then while step attempts run, so that a timer
 * wins a race against a running inline step exactly when it would against a dispatched one.
 */
export function nextDueAt(commands: Iterable<Command>, options: { deadline?: number; waitsInline(cmd: StepCommand): boolean }): number | undefined {
  let due = options.deadline;
  const consider = (at: number | undefined) => {
    if (at !== undefined && (due === undefined || at < due)) due = at;
  };
  for (const cmd of commands) {
    if (cmd.settled) continue;
    switch (cmd.kind) {
      case 'sleep':
        if (cmd.started) consider(cmd.wakeAt);
        break;
      case 'hook':
      case 'signal':
      case 'condition':
        if (cmd.started) consider(cmd.timeoutAt);
        break;
      case 'step':
        consider(cmd.waitingHook?.timeoutAt);
        if (cmd.retryAt !== undefined && !cmd.inflight && !cmd.claim && !cmd.scheduled && !cmd.waitingHook && options.waitsInline(cmd)) consider(cmd.retryAt);
        break;
      default:
        break;
    }
  }
  return due;
}
