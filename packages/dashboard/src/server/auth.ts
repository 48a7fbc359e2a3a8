import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import type { ApiError } from '../shared/api-types.js';

/** True for the addresses only this machine can reach: 127.0.0.0/8, ::1 (also IPv4-mapped) and "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Checks a presented token against the expected one in constant time. Both sides are hashed first,
 * so timingSafeEqual always compares two 32-byte digests: neither the token's length nor how many
 * of its leading characters match shows in the time the check takes.
 */
export function tokenChecker(expected: string): (presented: string | undefined) => boolean {
  const want = digest(expected);
  return (presented) => presented !== undefined && timingSafeEqual(digest(presented), want);
}

const unauthorized: ApiError = {
  error: { code: 'UNAUTHORIZED', message: 'This dashboard requires a token: send the header "Authorization: Bearer <token>" with the token it was started with.' },
};

/** Every API request must carry `Authorization: Bearer <token>`; the page's own files need none (they hold no data). */
export function requireToken(token: string): MiddlewareHandler {
  const check = tokenChecker(token);
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!check(match?.[1])) {
      c.header('WWW-Authenticate', 'Bearer realm="durably-dashboard"');
      return c.json(unauthorized, 401);
    }
    await next();
  };
}

/**
 * Without a token the dashboard trusts whoever reaches the loopback. A web page on another site can
 * reach it too, through the browser, by pointing its own domain at 127.0.0.1 (DNS rebinding): so the
 * Host header must name the loopback.
 */
export function requireLoopbackHost(): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.header('host') ?? '';
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
    if (!isLoopbackHost(name)) {
      return c.json({ error: { code: 'FORBIDDEN_HOST', message: `Host ${JSON.stringify(host)} is not a loopback name; open the dashboard at http://127.0.0.1 or http://localhost.` } } satisfies ApiError, 403);
    }
    await next();
  };
}

/**
 * Requests that change something must come from the dashboard's own page: a JSON body (a form on
 * another site cannot send one without a CORS preflight, which this server never grants) and, when
 * the browser says where the request comes from, the same origin.
 */
export function requireSameOriginJson(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      return c.json({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: `Send the body as JSON with "Content-Type: application/json" (got ${JSON.stringify(type || 'none')}); send {} when there is nothing to say.` } } satisfies ApiError, 415);
    }
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let originHost = '';
      try {
        originHost = new URL(origin).host;
      } catch {
        // An unparsable Origin is refused below.
      }
      if (originHost !== (c.req.header('host') ?? '')) {
        return c.json({ error: { code: 'FORBIDDEN_ORIGIN', message: `Requests from ${origin} may not change anything here; use the dashboard's own page.` } } satisfies ApiError, 403);
      }
    }
    await next();
  };
}
