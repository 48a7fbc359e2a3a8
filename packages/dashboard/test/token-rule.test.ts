import { request } from 'node:http';
import { Client, DurablyError, InvalidArgumentError, MemoryBroker, MemoryStorage, createLogger } from '@durably/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost, tokenChecker } from '../src/server/auth.js';
import { createDashboardApp, DashboardTokenRequiredError, startDashboard, type RunningDashboard } from '../src/index.js';

const TOKEN = 'a-long-enough-secret-token-0123456789';
const quiet = createLogger('error');

/** A GET with any Host and headers (fetch cannot set Host). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the token rule', () => {
  let client: Client;
  const started: RunningDashboard[] = [];

  beforeAll(() => {
    client = new Client({ storage: new MemoryStorage(), broker: new MemoryBroker() });
  });
  afterAll(async () => {
    await Promise.all(started.map((d) => d.close()));
    await client.close();
  });

  it('knows the loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'app.localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.com', '128.0.0.1', 'localhost.example.com', '']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('compares tokens as equal-length digests, so a token of another length is refused without an error', () => {
    const check = tokenChecker(TOKEN);
    expect(check(TOKEN)).toBe(true);
    expect(check(TOKEN.slice(0, -1) + 'x')).toBe(false);
    expect(check('short')).toBe(false);
    expect(check(TOKEN + TOKEN)).toBe(false);
    expect(check('')).toBe(false);
    expect(check(undefined)).toBe(false);
  });

  it('refuses to start on a non-loopback address without a token, with a typed error', async () => {
    const attempt = startDashboard({ client, host: '0.0.0.0', port: 0, logger: quiet });
    await expect(attempt).rejects.toBeInstanceOf(DashboardTokenRequiredError);
    const err = await startDashboard({ client, host: '0.0.0.0', port: 0, logger: quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DurablyError);
    expect((err as DurablyError).code).toBe('CONFIG');
    expect((err as Error).message).toMatch(/refuses to listen on "0\.0\.0\.0" without a token/);
    await expect(startDashboard({ client, host: '0.0.0.0', port: 0, token: 'short', logger: quiet })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('on 0.0.0.0 every API request needs the bearer token: 401 without it or with a wrong one, 200 with it', async () => {
    const d = await startDashboard({ client, host: '0.0.0.0', port: 0, token: TOKEN, logger: quiet });
    started.push(d);
    // Listening on every interface, reached here through the loopback.
    const base = `http://127.0.0.1:${d.port}`;
    const none = await get(`${base}/api/runs`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.parse(none.body).error.code).toBe('UNAUTHORIZED');
    expect((await get(`${base}/api/runs`, { Authorization: `Bearer ${TOKEN.slice(0, -1)}y` })).status).toBe(401);
    expect((await get(`${base}/api/runs`, { Authorization: 'Bearer x' })).status).toBe(401);
    expect((await get(`${base}/api/runs`, { Authorization: TOKEN })).status).toBe(401);
    expect((await get(`${base}/api/health`)).status).toBe(401);
    const ok = await get(`${base}/api/runs`, { Authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ runs: [] });
    // With a token any Host is fine (the machine's name, say): the token is the credential.
    expect((await get(`${base}/api/health`, { Authorization: `Bearer ${TOKEN}`, Host: 'dashboard.internal' })).status).toBe(200);
    // The page's files hold no data and are served without the token; the page asks for it.
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="app">');
  });

  it('on the loopback without a token, refuses a Host that is not a loopback name (DNS rebinding)', async () => {
    const d = await startDashboard({ client, port: 0, logger: quiet });
    started.push(d);
    expect(d.url).toBe(`http://127.0.0.1:${d.port}`);
    expect((await get(`${d.url}/api/health`)).status).toBe(200);
    expect((await get(`${d.url}/api/health`, { Host: `localhost:${d.port}` })).status).toBe(200);
    const rebound = await get(`${d.url}/api/runs`, { Host: `attacker.example:${d.port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error.code).toBe('FORBIDDEN_HOST');
  });

  it('takes changes only as JSON from its own origin', async () => {
    const d = started.at(-1)!;
    const post = (headers: Record<string, string>) => fetch(`${d.url}/api/runs/nope/cancel`, { method: 'POST', headers, body: '{}' });
    expect((await post({ 'Content-Type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await post({ 'Content-Type': 'application/json', Origin: 'https://attacker.example' })).status).toBe(403);
    expect((await post({ 'Content-Type': 'application/json', Origin: 'null' })).status).toBe(403);
    // Same origin (or no Origin, as from a script): the request goes through, to a 404 for this run.
    expect((await post({ 'Content-Type': 'application/json', Origin: d.url })).status).toBe(404);
    expect((await post({ 'Content-Type': 'application/json' })).status).toBe(404);
  });

  it('refuses a port in use with a clear error', async () => {
    const d = started.at(-1)!;
    await expect(startDashboard({ client, port: d.port, logger: quiet })).rejects.toThrow(/port is in use/);
  });

  it('serves the same app without a socket through createDashboardApp', async () => {
    const app = createDashboardApp({ client, token: TOKEN, logger: quiet });
    expect((await app.request('/api/health')).status).toBe(401);
    const res = await app.request('/api/health', { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });
});
