import type { Command } from 'commander';
import { nearest, parseDuration, serialize, type StartOptions, type Workflow } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';
import { loadWorkflows } from '../loader.js';
import { formatStatus, preview } from '../output.js';
import { collect, examples, parseDate, parseJson, withSession } from './common.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description("Start a run of a workflow by name. With the config's `workflows`, the name and arguments are checked against the definition first.")
    .argument('<workflow>', 'the workflow name')
    .option('-a, --args <json>', 'the arguments: a JSON array (one value is one argument)', '[]')
    .option('-k, --idempotency-key <key>', 'a second start with this key returns the first run')
    .option('--run-id <id>', 'the run id to use (default: a random UUID)')
    .option('-q, --queue <name>', "the queue of the run's tasks (default: the workflow's, or \"default\")")
    .option('--delay <duration>', 'start no earlier than this from now (30s, 2h)')
    .option('--start-at <time>', 'start no earlier than this date')
    .option('-t, --tag <tag>', 'a tag of the run (repeat or comma-separate)', collect)
    .option('--no-load', "do not import the config's workflow modules (start by name only)")
    .option('-w, --wait', 'wait for the run to finish and print its result (exit 7 if it fails)')
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 8)')
    .addHelpText('after', examples(`durably start onboarding --args '["user_123"]'`, `durably start report --args '{"team":"sales"}' --idempotency-key report-2026-01`, `durably start onboarding --args '["ana"]' --wait --timeout 5m --json`))
    .action(
      withSession(async (session, name: string, opts: { args: string; idempotencyKey?: string; runId?: string; queue?: string; delay?: string; startAt?: string; tag?: string[]; load: boolean; wait?: boolean; timeout?: string }) => {
        const parsed = parseJson(opts.args, '--args');
        const args = Array.isArray(parsed) ? parsed : [parsed];
        const options: StartOptions = { idempotencyKey: opts.idempotencyKey, runId: opts.runId, queue: opts.queue, tags: opts.tag };
        if (opts.delay) options.delay = opts.delay;
        if (opts.startAt) options.startAt = parseDate(opts.startAt, '--start-at');
        let definition: Workflow<any[], any> | undefined;
        if (opts.load && session.resolved.workflows.length > 0) {
          const { workflows } = await loadWorkflows(session.resolved.workflows);
          definition = workflows.find((w) => w.definition.name === name);
          if (!definition) {
            const names = workflows.map((w) => w.definition.name);
            const guess = nearest(name, names);
            throw new CliError(`No workflow named "${name}" in the config's workflows (${names.map((n) => `"${n}"`).join(', ') || 'none'}).` + (guess ? ` Did you mean "${guess}"?` : '') + ' Use --no-load to start it by name anyway.', EXIT.notFound);
          }
        }
        const client = await session.client();
        let runId: string;
        let created = true;
        if (definition) {
          runId = (await client.startWith(definition, args, options)).runId;
        } else {
          const now = client.clock();
          const startAt = Math.max(options.startAt?.getTime() ?? 0, options.delay ? now + parseDuration(options.delay, '--delay') : 0) || undefined;
          const started = await client.startSerialized(name, options.queue ?? 'default', serialize(args, '--args'), { runId: options.runId, idempotencyKey: options.idempotencyKey, startAt, now, tags: options.tags });
          runId = started.runId;
          created = started.created;
        }
        session.logger.info('run created', { runId, workflow: name, created });
        if (!opts.wait) {
          session.out.result({ runId, workflow: name, created }, () => (created ? runId : `${runId} (existing run with this idempotency key)`));
          return;
        }
        const handle = client.getRun(runId);
        try {
          const result = await handle.result(opts.timeout ? { timeout: opts.timeout } : {});
          session.out.result({ runId, workflow: name, status: 'completed', result }, () => [`${runId} ${formatStatus('completed')}`, preview(result, 2000)]);
        } catch (err) {
          const status = await handle.status().catch(() => 'unknown');
          if (session.out.json) session.out.result({ runId, workflow: name, status, error: (err as Error).message }, () => '');
          throw err;
        }
      }),
    );
}
