/**
 * The backend pairs a chaos run can use: the storage and broker URLs the worker processes get, and
 * the private servers behind them, started by the tool.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivatePostgres, PrivateRabbit, PrivateRedis, type PrivateServer } from './servers.js';

export const PAIRS = ['local', 'postgres', 'redis', 'postgres+redis', 'postgres+rabbitmq'] as const;
export type PairName = (typeof PAIRS)[number];

export interface Pair {
  name: PairName;
  storageUrl: string;
  brokerUrl: string;
  /** The servers to restart during the run, once each: the storage's first, then the broker's if it is another. */
  servers: PrivateServer[];
  dispose(): Promise<void>;
}

export function isPairName(name: string): name is PairName {
  return (PAIRS as readonly string[]).includes(name);
}

/** Starts the private servers of a pair (none for `local`: SQLite and the local broker live in a directory). */
export async function openPair(name: PairName): Promise<Pair> {
  if (name === 'local') {
    const dir = mkdtempSync(join(tmpdir(), 'durably-chaos-local-'));
    return { name, storageUrl: `file:${dir}`, brokerUrl: `local:${dir}`, servers: [], dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const storage: PrivateServer = name === 'redis' ? new PrivateRedis() : new PrivatePostgres();
  const broker: PrivateServer | undefined = name === 'postgres+redis' ? new PrivateRedis() : name === 'postgres+rabbitmq' ? new PrivateRabbit() : undefined;
  const servers = broker ? [storage, broker] : [storage];
  try {
    await Promise.all(servers.map((s) => s.start()));
  } catch (err) {
    await Promise.allSettled(servers.map((s) => s.destroy()));
    throw err;
  }
  return {
    name,
    storageUrl: storage.url,
    brokerUrl: (broker ?? storage).url,
    servers,
    dispose: async () => void (await Promise.allSettled(servers.map((s) => s.destroy()))),
  };
}
