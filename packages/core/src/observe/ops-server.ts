import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@durably/contracts';
import type { MetricsInstrumentation } from './metrics.js';

export interface OpsState {
  /** The worker consumes its queues (started, not stopping). */
  running(): boolean;
  /** A cheap storage round trip; rejects when storage is unreachable. */
  checkStorage(): Promise<void>;
}

/**
 * The worker's operations endpoint, bound to 127.0.0.1 unless told otherwise:
 *   GET /healthz  200 while the process serves requests (liveness)
 *   GET /readyz   200 when the worker consumes and storage answers within 2 s, else 503 (readiness)
 *   GET /metrics  Prometheus text format
 */
export async function startOpsServer(options: { port: number; host?: string }, state: OpsState, metrics: MetricsInstrumentation, logger: Logger): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (path === '/healthz' || path === '/livez') return reply(200, 'ok\n');
    if (path === '/readyz') {
      if (!state.running()) return reply(503, JSON.stringify({ ready: false, reason: 'the worker is not consuming (starting or stopping)' }) + '\n', 'application/json');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('storage did not answer within 2 s')), 2000)));
      void Promise.race([state.checkStorage(), timeout])
        .then(
          () => reply(200, JSON.stringify({ ready: true }) + '\n', 'application/json'),
          (err) => reply(503, JSON.stringify({ ready: false, reason: `storage: ${(err as Error).message}` }) + '\n', 'application/json'),
        )
        .finally(() => clearTimeout(timer));
      return;
    }
    if (path === '/metrics') {
      void metrics.text().then(
        (text) => reply(200, text, metrics.contentType),
        (err) => reply(500, `metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    reply(404, 'not found: try /healthz, /readyz or /metrics\n');
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info('operations endpoint listening', { url, paths: ['/healthz', '/readyz', '/metrics'] });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
