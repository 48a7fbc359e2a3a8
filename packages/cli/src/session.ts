import { createRequire } from 'node:module';
import { Command } from 'commander';
import { clientFromConfig, createLogger, parseDuration, resolveConfig, type Client, type Logger, type LoggerOptions, type LogLevel, type ResolvedConfig } from '@durably/core';
import { CliError, EXIT } from './exit-codes.js';
import { importModule } from './loader.js';
import { Output } from './output.js';

/** Options every command takes (defined on the program, read with optsWithGlobals). */
export interface GlobalOptions {
  config?: string;
  storage?: string;
  broker?: string;
  json?: boolean;
  logLevel?: LogLevel;
  connectTimeout: string;
}

/** pino-pretty is the CLI's own dependency: readable log lines on a terminal, JSON when piped. */
function prettyDestination(): LoggerOptions['destination'] {
  const format = process.env.DURABLY_LOG_FORMAT;
  if (format === 'json' || (format !== 'pretty' && !process.stderr.isTTY)) return undefined;
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => NonNullable<LoggerOptions['destination']>;
  return pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' });
}

/** What a command runs with: resolved config, logger, output, and (on demand) a connected client. */
export class Session {
  private connected?: Client;

  private constructor(
    readonly options: GlobalOptions,
    readonly resolved: ResolvedConfig,
    readonly logger: Logger,
    readonly out: Output,
  ) {}

  static async open(command: Command): Promise<Session> {
    const options = command.optsWithGlobals<GlobalOptions>();
    const out = new Output(options.json === true);
    const resolved = await resolveConfig(
      { storage: options.storage, broker: options.broker },
      { configFile: options.config, importer: importModule, optionOrigin: '--storage' },
    );
    const level = options.logLevel ?? resolved.logLevel?.value ?? 'info';
    const logger = createLogger({ level, destination: prettyDestination(), pretty: false });
    for (const warning of resolved.warnings) logger.warn(warning);
    return new Session(options, resolved, logger, out);
  }

  /**
   * Connects storage and broker (creating their schema if needed), each within --connect-timeout,
   * and logs which ones are used. An unreachable server is one line naming it and where it was set.
   */
  async client(): Promise<Client> {
    if (this.connected) return this.connected;
    const client = await clientFromConfig(this.resolved, { logger: this.logger, connectTimeout: this.options.connectTimeout });
    this.connected = client;
    const timeoutMs = parseDuration(this.options.connectTimeout, '--connect-timeout');
    const reach = async (what: 'storage' | 'broker', migrate: () => Promise<void>) => {
      const setting = this.resolved[what];
      const where = `${client.addresses[what] ?? what}${setting.source === 'default' ? '' : ` (set by ${setting.origin})`}`;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          migrate(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new CliError(`Cannot reach the ${what} ${where}: no answer within ${this.options.connectTimeout}. Check that the server runs and the URL is right, or raise --connect-timeout.`, EXIT.unreachable)), timeoutMs);
          }),
        ]);
      } catch (err) {
        if (err instanceof CliError) throw err;
        const code = (err as { code?: string }).code;
        if (code === 'STORAGE' || code === 'BROKER' || !(err instanceof Error && 'code' in err)) {
          throw new CliError(`Cannot reach the ${what} ${where}: ${(err as Error).message}. Check that the server runs and the URL is right (durably doctor shows every setting).`, EXIT.unreachable, { cause: err });
        }
        throw err;
      } finally {
        clearTimeout(timer);
      }
    };
    await Promise.all([reach('storage', () => client.storage.migrate()), reach('broker', () => client.broker.migrate())]);
    await client.ensureReady();
    this.logger.info('connected', { storage: client.addresses.storage, broker: client.addresses.broker, config: this.resolved.file ?? 'none' });
    return client;
  }

  async close(): Promise<void> {
    await this.connected?.close();
  }
}
