import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { examples, parsePositiveInt, withSession } from './common.js';

interface DashboardModule {
  startDashboard(options: { client: unknown; host?: string; port?: number; token?: string; logger?: unknown; queues?: string[] }): Promise<{ url: string; close(): Promise<void> }>;
}

/** The dashboard is a package of its own, loaded only by this command. */
async function loadDashboard(): Promise<DashboardModule> {
  try {
    return (await import('@durably/dashboard' as string)) as DashboardModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new CliError('durably dashboard needs the package @durably/dashboard, which is not installed. Run: npm install @durably/dashboard', EXIT.config, { cause: err });
    }
    throw err;
  }
}

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('Serve the web dashboard (runs, timelines, schedules, dead letters) over this storage until Ctrl-C.')
    .option('--host <host>', 'interface to bind (a non-loopback address needs --token)', '127.0.0.1')
    .option('-p, --port <port>', 'port (default 4280; 0 picks a free one)')
    .option('--token <token>', 'bearer token required by the HTTP API (default: DURABLY_DASHBOARD_TOKEN)')
    .addHelpText('after', examples('durably dashboard', 'durably dashboard --host 0.0.0.0 --port 8080 --token "$(openssl rand -hex 16)"'))
    .action(
      withSession(async (session, opts: { host: string; port?: string; token?: string }) => {
        const { startDashboard } = await loadDashboard();
        const port = opts.port === undefined ? undefined : opts.port === '0' ? 0 : parsePositiveInt(opts.port, '--port');
        const client = await session.client();
        const dashboard = await startDashboard({ client, host: opts.host, port, token: opts.token ?? process.env.DURABLY_DASHBOARD_TOKEN, logger: session.logger, queues: session.resolved.worker.queues });
        session.out.result({ url: dashboard.url }, () => `dashboard at ${dashboard.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await dashboard.close();
      }),
    );
}
