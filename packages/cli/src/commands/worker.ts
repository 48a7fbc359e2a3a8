import { Command, Option } from 'commander';
import { createWorker, parseDuration, type WorkerOptions } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';
import { loadWorkflows } from '../loader.js';
import { collect, examples, parsePositiveInt, withSession } from './common.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description("Run a worker: consume the queues, run the workflows of the given modules (or the config's `workflows`) until SIGTERM or SIGINT, then finish or hand back the work in hand within the grace period and exit.")
    .argument('[modules...]', "workflow modules or globs (default: the config's workflows)")
    .option('--concurrency <n>', 'tasks handled at once per queue (default 10, or worker.concurrency)')
    .option('-q, --queue <name>', 'a queue to consume (repeat or comma-separate; default "default", or worker.queues)', collect)
    .addOption(new Option('--step-mode <mode>', 'inline: steps run in the workflow worker; dispatch: every step is a broker task').choices(['inline', 'dispatch']))
    .option('--grace <duration>', 'after SIGTERM, how long work in hand may finish before it is handed back (default 10s, or worker.shutdownGrace)')
    .option('--http-port <port>', 'serve /healthz, /readyz and /metrics (Prometheus) on this port (0: any free port)')
    .option('--http-host <host>', 'interface of the HTTP port', '127.0.0.1')
    .option('--no-scheduler', 'do not fire schedules in this worker')
    .addHelpText('after', examples('durably worker ./src/workflows.ts', "durably worker 'src/workflows/*.ts' --concurrency 50 --queue default,email", 'durably worker --http-port 9464 --grace 30s'))
    .action(
      withSession(async (session, modules: string[], opts: { concurrency?: string; queue?: string[]; stepMode?: 'inline' | 'dispatch'; grace?: string; httpPort?: string; httpHost: string; scheduler: boolean }) => {
        const patterns = modules.length > 0 ? modules.map((m) => (m.startsWith('/') ? m : `${process.cwd()}/${m}`)) : session.resolved.workflows;
        if (patterns.length === 0) {
          throw new CliError('No workflows to run: pass their modules (durably worker ./src/workflows.ts) or set `workflows` in durably.config.', EXIT.config);
        }
        const { files, workflows } = await loadWorkflows(patterns);
        if (workflows.length === 0) {
          throw new CliError(`No workflow is exported by ${files.join(', ')}. Export each one: export const onboarding = workflow('onboarding', ...).`, EXIT.config);
        }
        const options: WorkerOptions = { workflows, logger: session.logger };
        if (opts.concurrency !== undefined) options.concurrency = parsePositiveInt(opts.concurrency, '--concurrency');
        if (opts.queue?.length) options.queues = opts.queue;
        if (opts.stepMode) options.stepMode = opts.stepMode;
        if (!opts.scheduler) options.scheduler = false;
        if (opts.httpPort !== undefined) {
          const port = Number(opts.httpPort);
          if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--http-port must be a port number from 0 to 65535, got ${JSON.stringify(opts.httpPort)}.`, EXIT.usage);
          options.http = { port, host: opts.httpHost };
        }
        const grace = opts.grace ?? session.resolved.worker.shutdownGrace ?? '10s';
        parseDuration(grace, '--grace');
        const client = await session.client();
        const worker = createWorker({ ...options, client });
        await worker.start();
        session.logger.info('worker running', { workflows: workflows.map((w) => w.definition.name), modules: files, grace, ...(worker.httpAddress ? { http: worker.httpAddress } : {}) });
        await new Promise<void>((resolve) => {
          let stopping = false;
          const onSignal = (signal: NodeJS.Signals) => {
            if (stopping) {
              session.logger.warn('second signal: exiting now; work in hand returns to other workers after its visibility timeout', { signal });
              process.exit(130);
            }
            stopping = true;
            session.logger.info('signal received: stopping (no new work; work in hand finishes or is handed back)', { signal, grace });
            void worker
              .stop({ grace })
              .catch((err) => session.logger.error('stopping the worker failed', { error: String(err) }))
              .finally(resolve);
          };
          process.on('SIGTERM', onSignal);
          process.on('SIGINT', onSignal);
        });
      }),
    );
}
