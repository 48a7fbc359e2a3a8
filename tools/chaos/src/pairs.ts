/**
 * The backend pairs a chaos run can use: the storage and broker URLs the worker processes get, and
 * the private servers behind them, started by the tool.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AWS_EMULATOR_ENV, PrivateDynamoDb, PrivateFauxqs } from './aws-servers.js';
import { PrivatePostgres, PrivateRabbit, PrivateRedis, type PrivateServer } from './servers.js';

export const PAIRS = ['local', 'postgres', 'redis', 'postgres+redis', 'postgres+rabbitmq', 'dynamodb+sqs'] as const;
export type PairName = (typeof PAIRS)[number];

export interface Pair {
  name: PairName;
  storageUrl: string;
  brokerUrl: string;
  /** The servers to restart during the run, once each: the storage's first, then the broker's if it is another. */
  servers: PrivateServer[];
  /** Environment the worker processes need besides the URLs (the emulators' credentials). */
  env: Record<string, string>;
  /** How often the tool resumes hooks and counts the runs completed, ms. */
  pollMs: number;
  /** The runs left are stuck when none has completed for this long after the last fault, ms. */
  stuckAfterMs: number;
  dispose(): Promise<void>;
}

export function isPairName(name: string): name is PairName {
  return (PAIRS as readonly string[]).includes(name);
}

/**
 * Pairs whose servers listen on all interfaces (DynamoDB Local): the tool runs them only inside a
 * private network namespace, where loopback is the only interface.
 */
export function needsPrivateNetwork(name: PairName): boolean {
  return name === 'dynamodb+sqs';
}

/** Starts the private servers of a pair (none for `local`: SQLite and the local broker live in a directory). */
export async function openPair(name: PairName): Promise<Pair> {
  if (name === 'local') {
    const dir = mkdtempSync(join(tmpdir(), 'durably-chaos-local-'));
    return { name, storageUrl: `file:${dir}`, brokerUrl: `local:${dir}`, servers: [], env: {}, pollMs: 250, stuckAfterMs: 60_000, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const aws = name === 'dynamodb+sqs';
  const storage: PrivateServer = name === 'redis' ? new PrivateRedis() : aws ? new PrivateDynamoDb() : new PrivatePostgres();
  const broker: PrivateServer | undefined = name === 'postgres+redis' ? new PrivateRedis() : name === 'postgres+rabbitmq' ? new PrivateRabbit() : aws ? new PrivateFauxqs() : undefined;
  const servers = broker ? [storage, broker] : [storage];
  try {
    await Promise.all(servers.map((s) => s.start()));
  } catch (err) {
    await Promise.allSettled(servers.map((s) => s.destroy()));
    throw err;
  }
  if (aws) {
    // The tool's own client reads the credentials from its environment; the workers get them too.
    Object.assign(process.env, AWS_EMULATOR_ENV);
    const region = AWS_EMULATOR_ENV.AWS_REGION;
    return {
      name,
      storageUrl: `dynamodb://durably-chaos?region=${region}&endpoint=${storage.url}`,
      brokerUrl: `sqs://durably-chaos?region=${region}&endpoint=${broker!.url}`,
      servers,
      // DynamoDB Local holds one read-write lock per table, and a flood of reads (each worker's sweeps,
      // the tool's counting) keeps its writers waiting past its 10 s lock timeout: fewer of them.
      // Its writes take seconds under load: a 2 s step lease would lapse while the step's outcome is
      // being recorded, and every lapse is more work for the same lock.
      env: { ...AWS_EMULATOR_ENV, CHAOS_TIMER_SWEEP: '5s', CHAOS_RECOVERY_INTERVAL: '10s', CHAOS_STEP_LEASE: '10s', CHAOS_VISIBILITY_TIMEOUT: '30s' },
      pollMs: 2000,
      // Past the faults its JVM is cold again, and the runs left drain slowly: stuck means 5 minutes with none completed.
      stuckAfterMs: 300_000,
      dispose: async () => void (await Promise.allSettled(servers.map((s) => s.destroy()))),
    };
  }
  return {
    name,
    storageUrl: storage.url,
    brokerUrl: (broker ?? storage).url,
    servers,
    env: {},
    pollMs: 250,
    stuckAfterMs: 60_000,
    dispose: async () => void (await Promise.allSettled(servers.map((s) => s.destroy()))),
  };
}
