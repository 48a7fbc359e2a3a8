import { readFileSync } from 'node:fs';
import { createLogger, InvalidArgumentError, type Client, type Logger } from '@durably/core';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { etag } from 'hono/etag';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { requireLoopbackHost, requireSameOriginJson, requireToken } from './auth.js';
import { errorResponse } from './errors.js';
import { opsRoutes } from './routes-ops.js';
import { runRoutes } from './routes-runs.js';
import { defaultAssetsDir, loadAssets, mountAssets } from './static.js';
import { QUEUE_PATTERN } from './validation.js';

/**
 * Options of {@link createDashboardApp}. Unlike `startDashboard`, it requires no token on any
 * address: the server it is mounted in decides who reaches it.
 */
export interface DashboardAppOptions {
  /** The client whose storage and broker the dashboard reads and writes (any backend). */
  client: Client;
  /** When set, every /api request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Require the Host header to name the loopback (against DNS rebinding). Default: on when there is
   * no token, since then reaching the server is the only credential.
   */
  loopbackHostOnly?: boolean;
  /** Queues whose dead letters the dashboard lists (besides those the schedules and latest runs use). Default ["default"]. */
  queues?: string[];
  /** Directory of the built web page. Default: the package's own dist/ui. */
  assetsDir?: string;
  /** Status counts stop at this many runs per status. Default 1,000. */
  countCap?: number;
  /** Where the app logs requests that failed with a 5xx. Default: `createLogger()` from @durably/core. */
  logger?: Logger;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The dashboard as a Hono app: the JSON API under /api and the web page on every other path. Use it
 * to mount the dashboard in a server of your own, or to test it with `app.request(...)`; startDashboard
 * serves it on a socket with the token rule applied.
 */
export function createDashboardApp(options: DashboardAppOptions): Hono {
  const { client } = options;
  const logger = options.logger ?? createLogger();
  const queues = options.queues ?? ['default'];
  for (const q of queues) {
    if (typeof q !== 'string' || !QUEUE_PATTERN.test(q)) throw new InvalidArgumentError(`createDashboardApp(): queue ${JSON.stringify(q)} is invalid: use 1-100 letters, digits, "_", "-" and ".".`);
  }
  const countCap = options.countCap ?? 1000;
  if (!Number.isInteger(countCap) || countCap < 1) throw new InvalidArgumentError(`createDashboardApp(): countCap must be a whole number >= 1, got ${countCap}.`);

  const app = new Hono();
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
    }),
  );
  if (options.loopbackHostOnly ?? options.token === undefined) app.use('*', requireLoopbackHost());

  const api = new Hono();
  if (options.token !== undefined) api.use('*', requireToken(options.token));
  api.use('*', requireSameOriginJson());
  // Room for the largest payload the engine accepts, plus the envelope around it.
  api.use('*', bodyLimit({ maxSize: client.limits.maxPayloadBytes * 2 + 64 * 1024, onError: (c) => c.json({ error: { code: 'PAYLOAD_TOO_LARGE', message: `The request body is larger than ${client.limits.maxPayloadBytes * 2 + 64 * 1024} bytes.` } }, 413) }));
  // Live updates poll with If-None-Match: an unchanged answer costs a 304 and no re-render.
  api.use('*', etag());
  api.use('*', async (c, next) => {
    await next();
    if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-cache');
  });
  api.route('/', runRoutes({ client, countCap, countTtlMs: 3000 }));
  api.route('/', opsRoutes({ client, queues, version: VERSION }));
  api.all('*', (c) => c.json({ error: { code: 'NOT_FOUND', message: `No API route ${c.req.method} ${c.req.path}; see the HTTP API reference in docs/guides/dashboard.md.` } }, 404));
  api.onError((err, c) => {
    if (err instanceof HTTPException && err.status < 500) {
      return c.json({ error: { code: 'INVALID_REQUEST', message: err.message || 'Invalid request' } }, err.status);
    }
    const { status, body } = errorResponse(err);
    if (status >= 500) logger.error('dashboard request failed', { method: c.req.method, path: c.req.path, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    return c.json(body, status);
  });
  app.route('/api', api);

  mountAssets(app, loadAssets(options.assetsDir ?? defaultAssetsDir()));
  return app;
}
