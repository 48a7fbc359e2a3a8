import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { RUN_STATUSES, RunNotFoundError, exportHistory, type DurablyEvent, type RunFilter, type RunRecord, type RunStatus } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';
import { formatDuration, formatStatus, formatTime, pc, preview } from '../output.js';
import { bar, buildTimeline, readable } from './timeline.js';
import { collect, examples, parsePositiveInt, parseTime, withSession } from './common.js';

function runJson(run: RunRecord) {
  return { ...run, args: readable(run.args), result: readable(run.result) };
}

/** Event data for display: serialized values read back; hook tokens hidden unless asked. */
function eventData(ev: DurablyEvent, showTokens: boolean): Record<string, unknown> {
  const data: Record<string, unknown> = { ...(ev.data as Record<string, unknown>) };
  for (const key of ['args', 'result', 'payload', 'value']) if (typeof data[key] === 'string') data[key] = readable(data[key] as string);
  if (ev.type === 'hook_created' && !showTokens) data.token = '(hidden: --show-tokens)';
  return data;
}

export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('List, inspect and cancel runs.');

  runs
    .command('list')
    .description('List runs, newest first, one page at a time.')
    .option('-w, --workflow <name>', 'only runs of this workflow')
    .addOption(new Option('-s, --status <status...>', 'only runs with this status (repeat or comma-separate)').argParser(collect))
    .option('-t, --tag <tag>', 'only runs with this tag (repeat: every tag must match)', collect)
    .option('--since <time>', 'created at or after: a date or a duration ago (1h, 7d)')
    .option('--until <time>', 'created before: a date or a duration ago')
    .option('--parent <runId>', 'only children of this run')
    .option('-n, --limit <n>', 'runs per page (at most 1000)', '50')
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--all', 'every page (shows progress)')
    .addHelpText('after', examples('durably runs list --status failed,cancelled --since 1d', 'durably runs list --workflow onboarding --tag vip --limit 20', 'durably runs list --all --json > runs.json'))
    .action(
      withSession(async (session, opts: { workflow?: string; status?: string[]; tag?: string[]; since?: string; until?: string; parent?: string; limit: string; cursor?: string; all?: boolean }) => {
        for (const s of opts.status ?? []) {
          if (!(RUN_STATUSES as readonly string[]).includes(s)) throw new CliError(`--status ${JSON.stringify(s)} is not a status; use ${RUN_STATUSES.join(', ')}.`, EXIT.usage);
        }
        const filter: RunFilter = {
          workflow: opts.workflow,
          status: opts.status?.length ? (opts.status as RunStatus[]) : undefined,
          tags: opts.tag?.length ? opts.tag : undefined,
          createdAfter: opts.since ? parseTime(opts.since, '--since') : undefined,
          createdBefore: opts.until ? parseTime(opts.until, '--until') : undefined,
          parentRunId: opts.parent,
          limit: Math.min(parsePositiveInt(opts.limit, '--limit'), 1000),
          cursor: opts.cursor,
        };
        const client = await session.client();
        let page = await client.listRuns(filter);
        const all = [...page.runs];
        if (opts.all) {
          const progress = session.out.progress(`listing runs: ${all.length}`);
          while (page.nextCursor) {
            page = await client.listRuns({ ...filter, cursor: page.nextCursor });
            all.push(...page.runs);
            progress.update(`listing runs: ${all.length}`);
          }
          progress.done(`listed ${all.length} runs`);
        }
        const nextCursor = page.nextCursor;
        session.out.result({ runs: all.map(runJson), nextCursor }, () => {
          const now = Date.now();
          const table = session.out.table(
            ['RUN ID', 'WORKFLOW', 'STATUS', 'CREATED', 'DURATION', 'TAGS'],
            all.map((r) => [r.runId, r.workflow, formatStatus(r.status), formatTime(r.createdAt), formatDuration((r.finishedAt ?? now) - r.createdAt), (r.tags ?? []).join(',')]),
            'No runs match.',
          );
          return nextCursor ? [table, pc.dim(`more: durably runs list --cursor ${nextCursor} (with the same filters)`)] : table;
        });
      }),
    );

  runs
    .command('show')
    .description("Show a run: its record and a timeline of its steps (each attempt with its duration), sleeps and waits.")
    .argument('<runId>', 'the run')
    .option('--show-tokens', 'show the tokens of hooks (they resume the run: treat them as secrets)')
    .option('--width <n>', 'width of the timeline bars', '30')
    .addHelpText('after', examples('durably runs show 0b6e4c2a-1f7d-4c8e-9a51-3f2d1c0b9a87', 'durably runs show 0b6e4c2a-... --json | jq .timeline'))
    .action(
      withSession(async (session, runId: string, opts: { showTokens?: boolean; width: string }) => {
        const client = await session.client();
        const run = await client.storage.getRun(runId);
        if (!run) throw new RunNotFoundError(runId);
        const events = await client.storage.readEvents(runId);
        const timeline = buildTimeline(events);
        const hooks = events.filter((e) => e.type === 'hook_created').map((e) => ({ position: e.correlationId, name: (e.data as { name: string }).name, token: opts.showTokens ? (e.data as { token: string }).token : undefined }));
        session.out.result({ run: runJson(run), timeline, hooks: opts.showTokens ? hooks : undefined }, () => {
          const now = Date.now();
          const lines = [
            `${pc.bold('run')}       ${run.runId}`,
            `${pc.bold('workflow')}  ${run.workflow}   ${pc.bold('queue')} ${run.queue}   ${pc.bold('status')} ${formatStatus(run.status)}`,
            `${pc.bold('created')}   ${formatTime(run.createdAt)}   ${pc.bold('finished')} ${formatTime(run.finishedAt)}   ${pc.bold('duration')} ${formatDuration((run.finishedAt ?? now) - run.createdAt)}`,
          ];
          if (run.tags?.length) lines.push(`${pc.bold('tags')}      ${run.tags.join(', ')}`);
          if (run.parentRunId) lines.push(`${pc.bold('parent')}    ${run.parentRunId}`);
          lines.push(`${pc.bold('args')}      ${preview(readable(run.args), 100)}`);
          if (run.result !== undefined) lines.push(`${pc.bold('result')}    ${preview(readable(run.result), 100)}`);
          if (run.error) lines.push(`${pc.bold('error')}     ${pc.red(`${run.error.name}: ${run.error.message}`)}`);
          lines.push('');
          const width = Math.max(10, Math.min(parsePositiveInt(opts.width, '--width'), 120));
          const from = run.createdAt;
          const to = run.finishedAt ?? Math.max(now, ...timeline.map((t) => t.end ?? now));
          lines.push(
            session.out.table(
              ['#', 'KIND', 'NAME', 'ATTEMPT', 'START', 'DURATION', 'OUTCOME', 'TIMELINE', 'DETAIL'],
              timeline.map((t) => [
                t.position ?? '',
                t.kind,
                t.name,
                t.attempt ?? '',
                `+${formatDuration(t.start - from)}${t.approximateStart ? '~' : ''}`,
                t.end === undefined ? `${formatDuration(now - t.start)}…` : formatDuration(t.end - t.start),
                t.outcome,
                bar(t, from, to, width, now),
                preview(t.detail ?? '', 70).replace(/^"|"$/g, ''),
              ]),
              'No steps, sleeps or waits yet.',
            ),
          );
          if (timeline.some((t) => t.approximateStart)) lines.push(pc.dim('~ start estimated from the previous event of the run (the log records when an attempt ended)'));
          return lines;
        });
      }),
    );

  runs
    .command('events')
    .description("Print a run's event log, in order.")
    .argument('<runId>', 'the run')
    .option('--from <seq>', 'start at this sequence number', '1')
    .option('--show-tokens', 'show hook tokens (hidden by default)')
    .addHelpText('after', examples('durably runs events 0b6e4c2a-...', 'durably runs events 0b6e4c2a-... --from 10 --json'))
    .action(
      withSession(async (session, runId: string, opts: { from: string; showTokens?: boolean }) => {
        const client = await session.client();
        const run = await client.storage.getRun(runId);
        if (!run) throw new RunNotFoundError(runId);
        const events = await client.storage.readEvents(runId, parsePositiveInt(opts.from, '--from'));
        session.out.result(
          events.map((e) => ({ ...e, data: eventData(e, opts.showTokens === true) })),
          () =>
            session.out.table(
              ['SEQ', 'AT', 'TYPE', 'CALL', 'DATA'],
              events.map((e) => [e.seq, formatTime(e.at), e.type, e.correlationId ?? '', preview(eventData(e, opts.showTokens === true), 90)]),
              'No events.',
            ),
        );
      }),
    );

  runs
    .command('export')
    .description("Write a run's history (its record and every event, payloads as stored) to a file, to replay it against your code with replayHistory from @durably/testing.")
    .argument('<runId>', 'the run')
    .option('-o, --out <file>', 'the file to write, or - for stdout (default: <runId>.history.json)')
    .option('--follow', 'also export the runs that continued it (continueAsNew), in order')
    .addHelpText('after', examples('durably runs export 0b6e4c2a-...', 'durably runs export 0b6e4c2a-... --out checkout.history.json --follow', 'durably runs export 0b6e4c2a-... --out - | jq .events'))
    .action(
      withSession(async (session, runId: string, opts: { out?: string; follow?: boolean }) => {
        const client = await session.client();
        const history = await exportHistory(client.storage, runId, { followContinuations: opts.follow === true });
        const text = `${JSON.stringify(history, null, 2)}\n`;
        if (opts.out === '-') return session.out.document(text);
        const file = opts.out ?? `${runId.replace(/[^A-Za-z0-9._-]/g, '_')}.history.json`;
        try {
          await writeFile(file, text);
        } catch (err) {
          throw new CliError(`Cannot write ${file} (${(err as Error).message}); pass --out with a writable path, or --out - for stdout.`, EXIT.usage, { cause: err });
        }
        const runs = 1 + (history.continuations?.length ?? 0);
        const events = history.events.length + (history.continuations ?? []).reduce((n, c) => n + c.events.length, 0);
        session.out.result({ runId, file: resolve(file), runs, events }, () => `exported run ${runId} (${runs === 1 ? '' : `${runs} runs, `}${events} events) to ${file}`);
      }),
    );

  runs
    .command('cancel')
    .description('Ask a run to stop: it sees a CancelledError at its current await, runs its finally blocks and ends as cancelled.')
    .argument('<runId>', 'the run')
    .option('-r, --reason <text>', 'why (recorded in the log and the CancelledError)')
    .addHelpText('after', examples('durably runs cancel 0b6e4c2a-... --reason "customer left"'))
    .action(
      withSession(async (session, runId: string, opts: { reason?: string }) => {
        const client = await session.client();
        await client.cancel(runId, opts.reason);
        session.out.result({ runId, cancelRequested: true }, () => `cancel requested for run ${runId}; a worker ends it at its next await`);
      }),
    );
}
