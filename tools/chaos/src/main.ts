/**
 * npm run chaos -w @durably/chaos -- --pair postgres --runs 1000
 *
 * Options: --pair local|postgres|redis|postgres+redis|postgres+rabbitmq|dynamodb+sqs (repeatable, or "all"; dynamodb+sqs runs the
 * tool again in a private network namespace, since DynamoDB Local listens on all interfaces),
 * --runs N (default 1000), --workers N (3), --kills N (default: every 1-3 s until drained), --kill-every MIN-MAX (ms between kills,
 * 1000-3000), --concurrency N (runs at once per worker, 50), --chaos-for S (faults stop after S seconds, default 120),
 * --no-restarts, --sleep MS (1000), --json. Exits 1 when a promise is broken, 2 on bad arguments.
 *
 * npm run chaos -w @durably/chaos -- --fault freeze|partition|storage-down [--runs 20] [--fault-for S]
 *
 * A worker frozen (SIGSTOP) or cut off from its storage by a network partition while it holds
 * attempts, or the storage down while workers start (see isolation.ts). A partition needs a private
 * network namespace: the tool runs itself again under `unshare --net`.
 */
import { parseArgs } from 'node:util';
import { ensureAwsEmulators } from './aws-servers.js';
import { runChaos } from './chaos.js';
import { ISOLATION_FAULTS, formatIsolation, runIsolation, type IsolationFault } from './isolation.js';
import { inPrivateNetwork, rerunInPrivateNetwork } from './netns.js';
import { PAIRS, isPairName, needsPrivateNetwork, type PairName } from './pairs.js';
import { formatReport } from './report.js';

const usage = `usage: npm run chaos -w @durably/chaos -- --pair <${PAIRS.join('|')}|all> [--runs 1000] [--workers 3] [--kills N] [--kill-every 1000-3000] [--concurrency 50] [--chaos-for 120] [--no-restarts] [--sleep 1000] [--json]\n       npm run chaos -w @durably/chaos -- --fault <${ISOLATION_FAULTS.join('|')}> [--runs 20] [--fault-for S] [--json]`;

function fail(message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      pair: { type: 'string', multiple: true },
      fault: { type: 'string' },
      'fault-for': { type: 'string' },
      runs: { type: 'string' },
      workers: { type: 'string', default: '3' },
      kills: { type: 'string' },
      'kill-every': { type: 'string' },
      concurrency: { type: 'string' },
      'chaos-for': { type: 'string', default: '120' },
      'no-restarts': { type: 'boolean', default: false },
      sleep: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const count = (name: string, value: string | undefined, min: number): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(value)}`);
  return n;
};
if (values.fault !== undefined) {
  const fault = values.fault as IsolationFault;
  if (!ISOLATION_FAULTS.includes(fault)) fail(`unknown fault ${JSON.stringify(values.fault)}`);
  // Interfaces are made and cut in a network namespace of the tool's own, never the machine's.
  if (fault === 'partition' && !inPrivateNetwork()) rerunInPrivateNetwork();
  const report = await runIsolation({
    fault,
    runs: count('runs', values.runs, 1),
    faultMs: values['fault-for'] === undefined ? undefined : count('fault-for', values['fault-for'], 1)! * 1000,
    log: values.json ? undefined : (line) => console.log(line),
  });
  console.log(values.json ? JSON.stringify(report) : formatIsolation(report));
  process.exit(report.broken.length > 0 ? 1 : 0);
}

const requested = (values.pair ?? []).flatMap((p) => (p === 'all' ? [...PAIRS] : [p]));
if (requested.length === 0) fail('--pair is required');
for (const p of requested) if (!isPairName(p)) fail(`unknown pair ${JSON.stringify(p)}`);
if ((requested as PairName[]).some(needsPrivateNetwork) && !inPrivateNetwork()) {
  // DynamoDB Local listens on all interfaces: the tool runs in a network namespace of its own,
  // where it reaches nothing else; its emulators are installed first, while npm can reach the registry.
  await ensureAwsEmulators();
  rerunInPrivateNetwork();
}

let killEvery: [number, number] | undefined;
if (values['kill-every'] !== undefined) {
  const [min, max = min] = values['kill-every'].split('-').map((v) => count('kill-every', v, 0)!);
  if (max < min) fail(`--kill-every MIN-MAX: MAX must be >= MIN, got ${JSON.stringify(values['kill-every'])}`);
  killEvery = [min, max];
}

let failed = false;
for (const pair of requested as PairName[]) {
  const started = Date.now();
  const report = await runChaos({
    pair,
    runs: count('runs', values.runs ?? '1000', 1)!,
    workers: count('workers', values.workers, 2)!,
    kills: count('kills', values.kills, 0),
    killEveryMs: killEvery,
    concurrency: count('concurrency', values.concurrency, 1),
    chaosForMs: count('chaos-for', values['chaos-for'], 1)! * 1000,
    restarts: !values['no-restarts'],
    sleepMs: count('sleep', values.sleep, 0)!,
    log: values.json ? undefined : (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`),
  });
  console.log(values.json ? JSON.stringify({ ...report, faults: undefined }) : formatReport(report));
  failed ||= report.broken.length > 0;
}
process.exit(failed ? 1 : 0);
