import type { Command } from 'commander';
import { listDeadLetters, retryDeadLetter } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';
import { formatTime, preview } from '../output.js';
import { collect, examples, parsePositiveInt, withSession } from './common.js';
import type { Session } from '../session.js';

function queuesOf(session: Session, given?: string[]): string[] {
  return given?.length ? given : session.resolved.worker.queues ?? ['default'];
}

export function registerDeadLetters(program: Command): void {
  const dl = program.command('dead-letters').description('Tasks the broker gave up on (undecodable, or failing past the delivery limit).');

  dl.command('list')
    .description("List dead-lettered tasks of the worker queues (the config's worker.queues, else \"default\").")
    .option('-q, --queue <name>', 'a queue (repeat or comma-separate)', collect)
    .option('-n, --limit <n>', 'most per queue', '100')
    .addHelpText('after', examples('durably dead-letters list', 'durably dead-letters list --queue email --json'))
    .action(
      withSession(async (session, opts: { queue?: string[]; limit: string }) => {
        const client = await session.client();
        const letters = await listDeadLetters(client, queuesOf(session, opts.queue), parsePositiveInt(opts.limit, '--limit'));
        session.out.result(
          letters.map((l) => ({ id: l.id, queue: l.durablyQueue, reason: l.reason, deliveryCount: l.deliveryCount, at: l.at, task: l.task ?? null, body: l.task ? undefined : l.body })),
          () =>
            session.out.table(
              ['ID', 'QUEUE', 'AT', 'DELIVERIES', 'TASK', 'RUN', 'REASON'],
              letters.map((l) => [l.id, l.durablyQueue, formatTime(l.at), l.deliveryCount, l.task ? (l.task.kind === 'step' ? `step ${l.task.name}` : `run (${l.task.reason})`) : 'undecodable', l.task?.runId ?? '', preview(l.reason, 80).replace(/^"|"$/g, '')]),
              'No dead letters.',
            ),
        );
      }),
    );

  dl.command('retry')
    .description('Put dead-lettered tasks back on their queue (published again, then removed from the dead letters).')
    .argument('[ids...]', 'dead letter ids (from dead-letters list)')
    .option('-q, --queue <name>', 'the queue (repeat or comma-separate; default: the worker queues)', collect)
    .option('--all', 'every dead letter of the queues')
    .addHelpText('after', examples('durably dead-letters retry 01J9...', 'durably dead-letters retry --all --queue default'))
    .action(
      withSession(async (session, ids: string[], opts: { queue?: string[]; all?: boolean }) => {
        if (!opts.all && ids.length === 0) throw new CliError('Name the dead letters to retry (ids from `durably dead-letters list`), or pass --all.', EXIT.usage);
        const client = await session.client();
        const queues = queuesOf(session, opts.queue);
        const letters = await listDeadLetters(client, queues, 10_000);
        const chosen = opts.all ? letters : ids.map((id) => letters.find((l) => l.id === id) ?? id);
        const missing = chosen.filter((c): c is string => typeof c === 'string');
        if (missing.length) throw new CliError(`No dead letter with id ${missing.map((m) => `"${m}"`).join(', ')} in queue(s) ${queues.join(', ')}.`, EXIT.notFound);
        const progress = session.out.progress(`retrying ${chosen.length} dead letters`);
        const retried: string[] = [];
        for (const letter of chosen as Exclude<(typeof chosen)[number], string>[]) {
          if (await retryDeadLetter(client, letter.durablyQueue, letter.id)) retried.push(letter.id);
          progress.update(`retried ${retried.length} of ${chosen.length}`);
        }
        progress.done();
        session.out.result({ retried }, () => `retried ${retried.length} dead letter(s)`);
      }),
    );
}
