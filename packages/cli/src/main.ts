import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { CliError, EXIT, exitCodeOf } from './exit-codes.js';
import { pc } from './output.js';
import { registerWorker } from './commands/worker.js';
import { registerStart } from './commands/start.js';
import { registerRuns } from './commands/runs.js';
import { registerHooks } from './commands/hooks.js';
import { registerSignals } from './commands/signals.js';
import { registerUpdates } from './commands/updates.js';
import { registerSchedules } from './commands/schedules.js';
import { registerDeadLetters } from './commands/dead-letters.js';
import { registerMigrate } from './commands/migrate.js';
import { registerRetention } from './commands/retention.js';
import { registerDoctor } from './commands/doctor.js';
import { registerDashboard } from './commands/dashboard.js';

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** The `durably` program: every command with its options, help and examples. */
export function buildProgram(): Command {
  const program = new Command('durably')
    .description('Run Durably workers and operate runs, hooks, signals, updates, schedules and dead letters from the command line.')
    .version(version, '-v, --version')
    .option('-c, --config <path>', 'config file to use (default: the nearest durably.config.ts|js|json from the working directory up; DURABLY_CONFIG)')
    .option('--storage <url>', 'storage URL (overrides DURABLY_STORAGE and the config file)')
    .option('--broker <url>', 'broker URL (overrides DURABLY_BROKER and the config file)')
    .option('--json', 'print results as JSON (every read command)')
    .addOption(new Option('--log-level <level>', 'log level on stderr (default: DURABLY_LOG_LEVEL, the config, else info)').choices(['debug', 'info', 'warn', 'error', 'silent']))
    .option('--connect-timeout <duration>', 'how long to wait for storage and broker', '10s')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, `${pc.red('error:')} `)) })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Examples:
  $ durably worker ./src/workflows.ts --concurrency 20
  $ durably start onboarding --args '["user_123"]'
  $ durably runs list --status failed --since 1d
  $ durably runs show 0b6e4c2a-...
  $ durably doctor

Exit codes: 0 ok, 1 failure, 2 usage, 3 configuration, 4 server unreachable, 5 not found,
6 not possible in the current state, 7 run failed (start --wait), 8 timed out (start --wait, updates send),
9 doctor found a problem.`,
  );
  for (const register of [registerWorker, registerStart, registerRuns, registerHooks, registerSignals, registerUpdates, registerSchedules, registerDeadLetters, registerMigrate, registerRetention, registerDoctor, registerDashboard]) {
    register(program);
  }
  // Subcommands inherit exitOverride and output settings.
  const configure = (cmd: Command) => {
    cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
    cmd.configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, `${pc.red('error:')} `)) });
    cmd.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

/** Runs the command line and exits with its code (see exit-codes.ts). */
export async function main(argv: string[]): Promise<never> {
  const code = await run(argv);
  process.exit(code);
}

/** Runs the command line; resolves with the exit code instead of exiting. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    process.stderr.write(`${pc.red('error:')} ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.DURABLY_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCodeOf(err);
  }
}

export { CliError, EXIT };
