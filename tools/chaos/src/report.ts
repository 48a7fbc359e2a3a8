/** The lines a chaos run prints: each promise with its figure, then the verdict. */
import type { ChaosReport } from './chaos.js';

export function formatReport(r: ChaosReport): string {
  const a = r.audit;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `chaos ${r.pair}: ${a.started} runs, ${r.kills} workers SIGKILLed, servers restarted: ${r.restarts.length ? r.restarts.join(', ') : 'none'}`,
    `  runs completed / started              ${a.completed}/${a.started}${a.completed === a.started ? '' : `  ${JSON.stringify(a.notCompleted)}`}`,
    `  recorded results lost                 ${a.lost}`,
    `  outcomes recorded twice               ${a.recordedTwice}`,
    `  logs with a gap                       ${a.gaps}`,
    `  body executions / recorded attempts   ${a.executions}/${a.attempts}`,
    `  executions beyond recorded attempts   ${a.extraExecutions} (after a kill: ${a.extraExecutions - a.unexplainedExtra}, with no kill: ${a.unexplainedExtra})`,
    `  recorded outcomes with no execution   ${a.outcomesWithoutExecution}`,
    `  runs stuck (none completing for ${(r.stuckAfterMs / 1000).toFixed(0)} s after the last fault)  ${r.stuck}`,
    `  time to drain after the last fault    ${s(r.drainMs)} (all runs: ${s(r.totalMs)})`,
  ];
  for (const e of a.examples) lines.push(`  ! ${e}`);
  lines.push(r.broken.length === 0 ? '  every promise kept' : `  BROKEN: ${r.broken.join('; ')}${r.logs ? ` (worker logs in ${r.logs})` : ''}`);
  return lines.join('\n');
}
