import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { clientFromConfig, DEFAULT_BROKER_URL, parseDuration, type Client } from '@durably/core';
import { EXIT } from '../exit-codes.js';
import { loadWorkflows } from '../loader.js';
import { pc } from '../output.js';
import { examples, withSession } from './common.js';

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

const require = createRequire(import.meta.url);

/** The installed version of a package, looked up where Node would find it from here (exports may hide package.json). */
function versionOf(pkg: string): string | undefined {
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const file = join(dir, pkg, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return undefined;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Check the configuration, connect to storage and broker, print versions and round-trip latency, and say what is misconfigured (exit 9 when a check fails).')
    .addHelpText('after', examples('durably doctor', 'DURABLY_STORAGE=postgres://app@db/prod durably doctor --json'))
    .action(
      withSession(async (session) => {
        const checks: Check[] = [];
        const add = (name: string, status: Check['status'], detail: string) => checks.push({ name, status, detail });
        const r = session.resolved;
        const nodeMajor = Number(process.versions.node.split('.')[0]);
        add('node', nodeMajor >= 20 ? 'ok' : 'fail', `Node.js ${process.versions.node}${nodeMajor >= 20 ? '' : ' (Durably needs 20.19 or newer)'}`);
        const versions: Record<string, string | undefined> = {};
        for (const pkg of ['@durably/core', '@durably/cli', '@durably/postgres', '@durably/redis', '@durably/rabbitmq', '@durably/aws', '@durably/dashboard', '@opentelemetry/api']) versions[pkg] = versionOf(pkg);
        add('versions', 'ok', Object.entries(versions).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', '));
        add('config file', 'ok', r.file ?? 'none found (from the working directory up); using environment and defaults');
        for (const warning of r.warnings) add('environment', 'warn', warning);
        for (const key of ['storage', 'broker'] as const) {
          const s = r[key];
          add(key, 'ok', `${typeof s.value === 'string' ? s.value.replace(/(\/\/[^:@/]*):[^@/]*@/, '$1:***@') : 'an adapter instance'} (from ${s.origin})`);
        }
        const storageUrl = typeof r.storage.value === 'string' ? r.storage.value : '';
        const brokerUrl = typeof r.broker.value === 'string' ? r.broker.value : '';
        if (storageUrl.startsWith('memory:')) add('storage', 'warn', 'memory: storage lives inside one process: a CLI command and a worker never see each other\'s runs. Use file:./.durably or a server.');
        if (brokerUrl === DEFAULT_BROKER_URL && storageUrl && !/^file:/i.test(storageUrl)) add('broker', 'warn', `the local: broker keeps its queue in a SQLite file on this machine, while the storage is ${storageUrl.split(':')[0]}: workers on other machines would not see its tasks. Use a server broker (postgres://, redis://).`);
        if (r.logLevel) add('log level', 'ok', `${r.logLevel.value} (from ${r.logLevel.origin})`);
        if (r.workflows.length) {
          try {
            const { files, workflows } = await loadWorkflows(r.workflows);
            add('workflows', workflows.length ? 'ok' : 'fail', workflows.length ? `${workflows.map((w) => w.definition.name).join(', ')} from ${files.length} module(s)` : `no workflow exported by ${files.join(', ')}`);
            const queues = r.worker.queues ?? ['default'];
            const unserved = workflows.filter((w) => !queues.includes(w.definition.queue));
            if (unserved.length) add('queues', 'warn', `workflows on queues no worker of this config consumes (${queues.join(', ')}): ${unserved.map((w) => `${w.definition.name} (${w.definition.queue})`).join(', ')}`);
          } catch (err) {
            add('workflows', 'fail', (err as Error).message);
          }
        }

        let client: Client | undefined;
        const timeoutMs = parseDuration(session.options.connectTimeout, '--connect-timeout');
        try {
          client = await clientFromConfig(r);
        } catch (err) {
          add('backends', 'fail', (err as Error).message);
        }
        if (client) {
          try {
            await within(timeoutMs, 'storage', client.storage.migrate());
            const probes: number[] = [];
            for (let i = 0; i < 5; i++) probes.push((await timed(() => within(timeoutMs, 'storage', client!.storage.getRun(`doctor-probe-${randomUUID()}`)))).ms);
            add('storage connection', 'ok', `${client.addresses.storage}: round trip ${median(probes).toFixed(1)} ms (median of 5 reads)`);
          } catch (err) {
            add('storage connection', 'fail', `${client.addresses.storage}: ${(err as Error).message}`);
          }
          try {
            await within(timeoutMs, 'broker', client.broker.migrate());
            const queue = 'durably.doctor';
            const marker = randomUUID();
            let received: () => void = () => undefined;
            const got = new Promise<void>((resolve) => (received = resolve));
            const sub = await client.broker.consume(queue, async (d) => void (d.body === marker && received()), { concurrency: 1, visibilityTimeoutMs: 5000 });
            const { ms } = await timed(async () => {
              await client!.broker.publish(queue, marker);
              await within(timeoutMs, 'broker round trip', got);
            });
            await sub.stop();
            add('broker connection', 'ok', `${client.addresses.broker}: publish-to-delivery ${ms.toFixed(1)} ms`);
          } catch (err) {
            add('broker connection', 'fail', `${client.addresses.broker}: ${(err as Error).message}`);
          }
          await client.close();
        }
        const failed = checks.some((c) => c.status === 'fail');
        session.out.result({ ok: !failed, checks, versions }, () => [
          ...checks.map((c) => `${c.status === 'ok' ? pc.green('✔') : c.status === 'warn' ? pc.yellow('!') : pc.red('✖')} ${pc.bold(c.name.padEnd(18))} ${c.detail}`),
          '',
          failed ? pc.red('Some checks failed.') : pc.green('All checks passed.'),
        ]);
        if (failed) process.exitCode = EXIT.checksFailed;
      }),
    );
}
