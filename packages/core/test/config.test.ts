import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, PayloadTooLargeError, createClient, resolveConfig, validateConfig, workflow, type WorkerConfig, type WorkerOptions } from '../src/index.js';

// Every worker option a config file may hold is in WorkerConfig: a new WorkerOptions key that is not
// added there (and to config/schema.ts) fails this type check.
type CodeOnly = 'workflows' | 'client' | 'logger' | 'workerId' | 'stepOverrides' | 'instrumentation';
const everyOption: Record<Exclude<keyof WorkerOptions, CodeOnly>, true> = {} as Record<keyof WorkerConfig, true>;
void everyOption;

const dirs: string[] = [];
function dir(files: Record<string, string> = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'durably-config-'));
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(d, name, '..'), { recursive: true });
    writeFileSync(join(d, name), text);
  }
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('config validation', () => {
  it('accepts every documented key', () => {
    const config = {
      storage: 'postgres://localhost/db',
      broker: 'redis://localhost:6379',
      workflows: ['./src/*.ts'],
      limits: { maxPayloadBytes: 1000, warnEvents: 10, maxEvents: 20 },
      worker: { concurrency: 4, queues: ['default', 'email'], stepMode: 'dispatch', visibilityTimeout: '30s', staleAfter: 60_000, recoveryInterval: '10s', timerSweepInterval: '1s', localTimerWindow: '1m', inlineRetryMax: '5s', cacheSize: 10, scheduler: false, scheduleInterval: '1s', retention: '30d', http: { port: 9464, host: '0.0.0.0' }, shutdownGrace: '10s' },
      logLevel: 'debug',
    };
    expect(validateConfig(config, 'x')).toBe(config);
  });

  it('names the nearest known key and lists all problems at once', () => {
    expect(() => validateConfig({ brokr: 'local:' }, 'cfg')).toThrow('cfg: unknown key "brokr". Did you mean "broker"?');
    expect(() => validateConfig({ limits: { maxPayload: 1 } }, 'cfg')).toThrow('unknown key "limits.maxPayload". Did you mean "limits.maxPayloadBytes"?');
    let error: unknown;
    try {
      validateConfig({ worker: { queues: ['ok', 'bad queue'], stepMode: 'inlined' }, logLevel: 'loud', zzzzzzzz: 1 }, 'cfg');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('cfg has 4 problems');
    expect(message).toContain('"worker.queues[1]" must be a queue name of 1-100 letters');
    expect(message).toContain('"worker.stepMode" must be "inline" or "dispatch"; got "inlined" (a string)');
    expect(message).toContain('"logLevel" must be "debug", "info", "warn", "error" or "silent"');
    expect(message).toMatch(/unknown key "zzzzzzzz"\. Known keys: storage/);
  });
});

describe('resolveConfig', () => {
  it('options beat the environment, which beats the file, which beats the default; each setting says where it came from', async () => {
    const d = dir({ 'durably.config.json': JSON.stringify({ storage: 'file:./data', broker: 'memory:', worker: { concurrency: 3 } }) });
    const fromFile = await resolveConfig({}, { cwd: d, env: {} });
    expect(fromFile.storage).toEqual({ value: `file:${join(d, 'data')}`, source: 'file', origin: `${join(d, 'durably.config.json')}: storage` });
    expect(fromFile.worker.concurrency).toBe(3);
    const fromEnv = await resolveConfig({}, { cwd: d, env: { DURABLY_STORAGE: 'memory:env' } });
    expect(fromEnv.storage).toMatchObject({ value: 'memory:env', source: 'env', origin: 'DURABLY_STORAGE' });
    const fromOption = await resolveConfig({ storage: 'memory:opt' }, { cwd: d, env: { DURABLY_STORAGE: 'memory:env' } });
    expect(fromOption.storage).toMatchObject({ value: 'memory:opt', source: 'option' });
    const none = await resolveConfig({}, { cwd: dir(), env: {}, noFile: true });
    expect(none.storage).toMatchObject({ value: 'file:./.durably', source: 'default' });
    expect(none.broker).toMatchObject({ value: 'local:', source: 'default' });
  });

  it('finds the config in a parent directory and resolves workflows relative to it', async () => {
    const d = dir({ 'durably.config.json': JSON.stringify({ workflows: 'src/*.ts' }), 'apps/a/.keep': '' });
    const resolved = await resolveConfig({}, { cwd: join(d, 'apps/a'), env: {} });
    expect(resolved.file).toBe(join(d, 'durably.config.json'));
    expect(resolved.workflows).toEqual([join(d, 'src/*.ts')]);
  });

  it('checks options given in code too', async () => {
    await expect(resolveConfig({ storage: 'memory:', stroage: 'x' } as never, { noFile: true, env: {} })).rejects.toThrow('connect(): unknown key "stroage". Did you mean "storage"?');
  });
});

describe('config file settings reach clients and workers', () => {
  const big = workflow('config.big', async (s: string) => s.length);

  it('createClient() applies the limits of the config file on first use', async () => {
    const d = dir({ 'durably.config.json': JSON.stringify({ storage: 'memory:config-limits', broker: 'memory:config-limits', limits: { maxPayloadBytes: 100 } }) });
    const cwd = process.cwd();
    process.chdir(d);
    try {
      const client = createClient();
      await expect(client.start(big, 'x'.repeat(500))).rejects.toBeInstanceOf(PayloadTooLargeError);
      expect(client.limits.maxPayloadBytes).toBe(100);
    } finally {
      process.chdir(cwd);
    }
  });
});
