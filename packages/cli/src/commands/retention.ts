import type { Command } from 'commander';
import { parseDuration } from '@durably/core';
import { formatTime } from '../output.js';
import { examples, withSession } from './common.js';

export function registerRetention(program: Command): void {
  const retention = program.command('retention').description('Delete finished runs after a retention period.');
  retention
    .command('prune')
    .description('Delete runs that finished (completed, failed, cancelled, continued) longer ago than --older-than, with their events, timers and hooks. Unfinished runs are never deleted.')
    .requiredOption('--older-than <duration>', 'finished more than this long ago (30d, 12h)')
    .option('--batch <n>', 'runs deleted per storage call', '500')
    .addHelpText('after', examples('durably retention prune --older-than 30d', 'durably retention prune --older-than 90d --json'))
    .action(
      withSession(async (session, opts: { olderThan: string; batch: string }) => {
        const ageMs = parseDuration(opts.olderThan, '--older-than');
        const batch = Math.max(1, Math.min(Number(opts.batch) || 500, 5000));
        const client = await session.client();
        const before = client.clock() - ageMs;
        const progress = session.out.progress(`deleting runs finished before ${formatTime(before)}...`);
        let deleted = 0;
        for (;;) {
          const n = await client.storage.deleteFinishedRuns(before, batch);
          deleted += n;
          progress.update(`deleted ${deleted} runs...`);
          if (n < batch) break;
        }
        progress.done(`deleted ${deleted} runs finished before ${formatTime(before)}`);
        session.out.result({ deleted, finishedBefore: new Date(before).toISOString() }, () => `${deleted} runs deleted`);
      }),
    );
}
