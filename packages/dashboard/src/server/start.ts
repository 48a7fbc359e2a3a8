import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { ConfigError, createLogger, InvalidArgumentError, type Client, type Logger } from '@durably/core';
import { createDashboardApp } from './app.js';
import { isLoopbackHost } from './auth.js';
import { DashboardTokenRequiredError } from './errors.js';

/** The port {@link startDashboard} listens on when given none: 4280. */
export const DEFAULT_DASHBOARD_PORT = 4280;
/** The shortest `token` {@link startDashboard} accepts: 16 characters (with no whitespace). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Options of {@link startDashboard}. Throws `InvalidArgumentError` for a bad host, port or token,
 * `DashboardTokenRequiredError` for a non-loopback host without a token, and `ConfigError` when it
 * cannot listen (the port is in use, say).
 *
 * @example
 * ```ts
 * import { createClient } from '@durably/core';
 * import { startDashboard } from '@durably/dashboard';
 *
 * const dashboard = await startDashboard({ client: createClient({ storage: 'memory:', broker: 'memory:' }), port: 0 });
 * console.log(`dashboard at ${dashboard.url}`);
 * await dashboard.close();
 * ```
 */
export interface DashboardOptions {
  /** The client whose storage and broker the dashboard reads and acts on; it stays the caller's to close. */
  client: Client;
  /** Address to listen on. Default 127.0.0.1. Any other than the loopback requires `token`. */
  host?: string;
  /** Port to listen on; 0 picks a free one (read it from `url`). Default 4280. */
  port?: number;
  /** Bearer token every API request must carry; required off the loopback. At least 16 characters. */
  token?: string;
  /** Where the server logs. Default: `createLogger()` from @durably/core. */
  logger?: Logger;
  /** Queues whose dead letters are listed. Default ["default"] (plus those schedules and recent runs use). */
  queues?: string[];
  /** Directory of the built web page (default: the package's own). */
  assetsDir?: string;
}

/** A dashboard {@link startDashboard} is serving. */
export interface RunningDashboard {
  /** Where this machine reaches the dashboard, e.g. http://127.0.0.1:4280. */
  url: string;
  /** The address it listens on. */
  host: string;
  /** The port it listens on (the one picked when asked for 0). */
  port: number;
  /** Stops listening and closes open connections (the client stays open: it is the caller's). */
  close(): Promise<void>;
}

/**
 * Serves the dashboard (web page and HTTP API) over the client's storage and broker. Listens on
 * 127.0.0.1 unless told otherwise; on any other address it refuses to start without a token
 * (DashboardTokenRequiredError), and with one every API request must present it.
 */
export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_DASHBOARD_PORT;
  const logger = options.logger ?? createLogger();
  if (typeof host !== 'string' || host.length === 0) throw new InvalidArgumentError(`startDashboard(): host must be a non-empty string, got ${JSON.stringify(host)}.`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`startDashboard(): port must be a whole number from 0 to 65535, got ${JSON.stringify(port)}.`);
  const { token } = options;
  if (token !== undefined && (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || /\s/.test(token))) {
    throw new InvalidArgumentError(`startDashboard(): token must be a string of at least ${MIN_TOKEN_LENGTH} characters without spaces (for example: openssl rand -hex 32).`);
  }
  const loopback = isLoopbackHost(host);
  if (!loopback && token === undefined) throw new DashboardTokenRequiredError(host);

  const app = createDashboardApp({ client: options.client, token, logger, queues: options.queues, assetsDir: options.assetsDir });
  const server = createAdaptorServer({ fetch: app.fetch, hostname: host, port }) as Server;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new ConfigError(`The dashboard cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use; pass another port (or 0 for a free one)' : err.message}.`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const url = `http://${urlHost}:${bound}`;
  logger.info('dashboard listening', { url, host, port: bound, token: token === undefined ? 'none' : 'required' });

  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port: bound,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Browsers keep connections alive; without this close() would wait for them to time out.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
