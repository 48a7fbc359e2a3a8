import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChaosReport } from '../src/chaos.js';
import { formatReport } from '../src/report.js';

/**
 * The CI chaos run on the AWS pair, dynamodb+sqs, on the emulators (DynamoDB Local with a data
 * directory, fauxqs in a process of its own), both private to the tool: 100 workflows on three worker
 * processes, one worker SIGKILLed while every run is in its sleep, DynamoDB Local crashed (SIGKILL)
 * and restarted on its data, then fauxqs crashed and restarted, which loses every message it held:
 * the runs must still all complete, from storage (timer sweep, stale-run sweep).
 *
 * DynamoDB Local listens on all interfaces, so the tool runs it only in a network namespace of its
 * own: the test runs the command of tools/chaos/README.md, which installs @durably/aws's on-demand
 * emulators and runs itself again under `unshare --net`. Without Java or the right to make a network
 * namespace the test skips, except under CI=true, where it must run and so fails.
 */
const ci = process.env.CI === 'true';
const hasJava = spawnSync('java', ['-version']).status === 0;
const canUnshare = spawnSync('unshare', ['--net', 'true']).status === 0;
const main = join(import.meta.dirname, '../src/main.ts');

function runChaosCommand(args: string[]): Promise<ChaosReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', main, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err = (err + d).slice(-20_000)));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(last) as ChaosReport);
      } catch {
        reject(new Error(`chaos ${args.join(' ')} exited ${code} without a report:\n${out.slice(-2000)}\n${err.slice(-4000)}`));
      }
    });
  });
}

describe.skipIf(!(hasJava && canUnshare) && !ci)('chaos on dynamodb+sqs: 100 runs, one worker killed, each emulator crashed and restarted once', () => {
  it('keeps every promise, and every run completes after fauxqs lost its messages', async () => {
    if (!hasJava) throw new Error('java is not installed: DynamoDB Local needs it (Java 17 or later).');
    if (!canUnshare) throw new Error('unshare --net failed: the dynamodb+sqs pair runs in a network namespace of its own (root, or unprivileged user namespaces).');
    // As in chaos-ci.test.ts: the kill comes within a second, while every run is in its 3 s sleep;
    // 10 runs at once per worker, not 40: DynamoDB Local serialises its requests behind one lock.
    const report = await runChaosCommand(['--pair', 'dynamodb+sqs', '--runs', '100', '--kills', '1', '--kill-every', '300-900', '--sleep', '3000', '--concurrency', '10']);
    console.log(formatReport({ ...report, faults: [] }));
    expect(report.broken).toEqual([]);
    expect(report.audit.completed).toBe(100);
    expect(report.kills).toBe(1);
    expect(report.restarts).toEqual(['dynamodb', 'fauxqs']);
    expect(report.audit.attempts).toBeGreaterThanOrEqual(600);
  }, 1_200_000);
});
