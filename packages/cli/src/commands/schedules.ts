import { Command, Option } from 'commander';
import { deserialize, ScheduleNotFoundError, type ScheduleOptions, type ScheduleRecord } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';
import { formatDuration, formatTime, pc, preview } from '../output.js';
import { examples, parseDate, parseJson, withSession } from './common.js';

function spec(s: ScheduleRecord): string {
  if (s.spec.everyMs !== undefined) return `every ${formatDuration(s.spec.everyMs)}`;
  return `${s.spec.cron}${s.spec.timezone ? ` (${s.spec.timezone})` : ''}`;
}

function scheduleJson(s: ScheduleRecord) {
  return { ...s, args: deserialize(s.args) };
}

export function registerSchedules(program: Command): void {
  const schedules = program.command('schedules').description('List, create, pause, resume, trigger, backfill and delete schedules.');

  schedules
    .command('list')
    .description('List schedules with their next and last slots.')
    .addHelpText('after', examples('durably schedules list', 'durably schedules list --json'))
    .action(
      withSession(async (session) => {
        const client = await session.client();
        const all = await client.schedules.list();
        session.out.result(all.map(scheduleJson), () =>
          session.out.table(
            ['ID', 'WORKFLOW', 'SPEC', 'NEXT', 'LAST', 'STATE', 'FIRED', 'SKIPPED', 'OVERLAP'],
            all.map((s) => [s.scheduleId, s.workflow, spec(s), formatTime(s.nextFireAt), formatTime(s.lastFireAt), s.paused ? pc.yellow('paused') : pc.green('active'), s.stats?.fired ?? 0, s.stats?.skipped ?? 0, s.overlap]),
            'No schedules.',
          ),
        );
      }),
    );

  schedules
    .command('create')
    .description('Create (or replace) a schedule that starts a workflow by name on a cron or a fixed interval.')
    .argument('<id>', 'the schedule id')
    .requiredOption('-w, --workflow <name>', 'the workflow to start')
    .option('--cron <expr>', 'a cron expression ("0 9 * * MON")')
    .option('--timezone <tz>', 'IANA time zone of the cron expression (default UTC)')
    .option('--every <duration>', 'a fixed interval instead of cron (15m, 1h)')
    .option('-a, --args <json>', 'arguments of each run: a JSON array', '[]')
    .addOption(new Option('--overlap <policy>', 'when a slot comes while the previous run still runs').choices(['skip', 'buffer_one', 'buffer_all', 'allow_all', 'cancel_previous']).default('skip'))
    .addOption(new Option('--catch-up <policy>', 'slots missed while no scheduler ran').choices(['none', 'latest', 'all']).default('latest'))
    .option('-q, --queue <name>', 'queue of the runs (default "default")')
    .option('--start-at <time>', 'first slot no earlier than this date')
    .option('--end-at <time>', 'no slot after this date')
    .option('--jitter <duration>', 'start each run up to this long after its slot, at random')
    .addHelpText('after', examples(`durably schedules create weekly-report --workflow report --cron "0 9 * * MON" --timezone Europe/Prague --args '[{"team":"sales"}]'`, 'durably schedules create poll --workflow poll-feed --every 15m --overlap skip'))
    .action(
      withSession(async (session, id: string, opts: { workflow: string; cron?: string; timezone?: string; every?: string; args: string; overlap: string; catchUp: string; queue?: string; startAt?: string; endAt?: string; jitter?: string }) => {
        if ((opts.cron === undefined) === (opts.every === undefined)) throw new CliError('Give exactly one of --cron (with an optional --timezone) or --every.', EXIT.usage);
        const parsed = parseJson(opts.args, '--args');
        const options: ScheduleOptions<unknown[]> = {
          cron: opts.cron,
          timezone: opts.timezone,
          every: opts.every,
          args: Array.isArray(parsed) ? parsed : [parsed],
          overlap: opts.overlap as ScheduleOptions<unknown[]>['overlap'],
          catchUp: opts.catchUp as ScheduleOptions<unknown[]>['catchUp'],
          queue: opts.queue,
          startAt: opts.startAt ? parseDate(opts.startAt, '--start-at') : undefined,
          endAt: opts.endAt ? parseDate(opts.endAt, '--end-at') : undefined,
          jitter: opts.jitter,
        };
        const client = await session.client();
        const record = await client.schedules.create(id, opts.workflow, options);
        session.out.result(scheduleJson(record), () => `schedule ${id} saved: ${spec(record)}, next slot ${formatTime(record.nextFireAt)}`);
      }),
    );

  for (const [name, description, verb] of [
    ['pause', 'Pause a schedule: no slot fires until it is resumed.', 'paused'],
    ['resume', 'Resume a schedule from now (slots that passed while paused are not fired).', 'resumed'],
    ['delete', 'Delete a schedule (runs it started are left alone).', 'deleted'],
  ] as const) {
    schedules
      .command(name)
      .description(description)
      .argument('<id>', 'the schedule id')
      .addHelpText('after', examples(`durably schedules ${name} weekly-report`))
      .action(
        withSession(async (session, id: string) => {
          const client = await session.client();
          await client.schedules[name](id);
          session.out.result({ scheduleId: id, [verb]: true }, () => `schedule ${id} ${verb}`);
        }),
      );
  }

  schedules
    .command('trigger')
    .description('Start a run of the schedule now, outside its slots (the next slot is unchanged).')
    .argument('<id>', 'the schedule id')
    .addHelpText('after', examples('durably schedules trigger weekly-report'))
    .action(
      withSession(async (session, id: string) => {
        const client = await session.client();
        const runId = await client.schedules.trigger(id);
        session.out.result({ scheduleId: id, runId }, () => `schedule ${id} triggered: run ${runId}`);
      }),
    );

  schedules
    .command('backfill')
    .description('Start one run per slot of the schedule between --from and --to (slots that have a run get none; at most 1,000).')
    .argument('<id>', 'the schedule id')
    .requiredOption('--from <time>', 'first slot: a date or a duration ago (7d)')
    .option('--to <time>', 'last slot: a date or a duration ago (default: now)')
    .addHelpText('after', examples('durably schedules backfill weekly-report --from 2026-01-01 --to 2026-02-01', 'durably schedules backfill hourly --from 2d'))
    .action(
      withSession(async (session, id: string, opts: { from: string; to?: string }) => {
        const from = parseDate(opts.from, '--from');
        const to = opts.to ? parseDate(opts.to, '--to') : new Date();
        const client = await session.client();
        if (!(await client.schedules.get(id))) throw new ScheduleNotFoundError(id);
        const progress = session.out.progress(`backfilling ${id} from ${from.toISOString()} to ${to.toISOString()}...`);
        const runIds = await client.schedules.backfill(id, from, to);
        progress.done(`backfilled ${id}: ${runIds.length} runs started`);
        session.out.result({ scheduleId: id, from: from.toISOString(), to: to.toISOString(), runIds }, () => (runIds.length ? runIds.join('\n') : pc.dim('no slot without a run in that window')));
      }),
    );
  void preview;
}
