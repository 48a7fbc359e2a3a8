/**
 * The emulators of the dynamodb+sqs pair as private servers of the tool's own, on free ports of
 * 127.0.0.1, crashed by their PID: DynamoDB Local (the jar of @durably/aws's on-demand emulators
 * project, run by the machine's Java with a data directory, so that a restart keeps the tables) and
 * fauxqs (in a child process, fauxqs-process.ts: it keeps the queues across a restart, not the
 * messages). DynamoDB Local listens on all interfaces: they run only in a private network namespace.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exited, reapOnExit, spawnScript, waitLogged } from './processes.js';
import { freeServerPort } from '@durably/testing/ports';
import { type PrivateServer } from './servers.js';

/** The emulators' region and credentials; the SDK must never look for instance credentials. */
export const AWS_EMULATOR_ENV = { AWS_ACCESS_KEY_ID: 'chaos', AWS_SECRET_ACCESS_KEY: 'chaos', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };

const awsSetup = (file: string) => pathToFileURL(join(import.meta.dirname, '../../../packages/aws/test/setup', file)).href;

/** Installs @durably/aws's on-demand emulators project from its lockfile (needs the network the first time): before entering a private network namespace. */
export async function ensureAwsEmulators(): Promise<void> {
  const { ensureEmulators } = (await import(awsSetup('emulators.ts'))) as { ensureEmulators(): void };
  ensureEmulators();
}

function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child) return Promise.resolve();
  child.kill('SIGKILL');
  return exited(child);
}

/** An emulator in a child process of the tool, on a port and in a temp directory of its own; crashed by SIGKILL to its PID. */
abstract class EmulatorProcess implements PrivateServer {
  abstract readonly kind: string;
  protected dir = '';
  protected port = 0;
  protected child?: ChildProcess;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  abstract start(): Promise<void>;

  async crash(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await kill(child);
  }

  async destroy(): Promise<void> {
    await this.crash();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** DynamoDB Local on a port of its own, its tables in a temp directory (-dbPath): a crash and restart keeps them. */
export class PrivateDynamoDb extends EmulatorProcess {
  readonly kind = 'dynamodb';
  async start(): Promise<void> {
    if (!this.dir) {
      // On tmpfs when there is one: DynamoDB Local's SQLite file syncs every write, and on a disk under
      // load it times out waiting for its lock; the file outlives the process's crash either way.
      this.dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'durably-chaos-dynamodb-'));
      this.port = await freeServerPort();
    }
    const { startDynamoDbLocal } = (await import(awsSetup('servers.ts'))) as { startDynamoDbLocal(o: { port: number; dbPath: string }): Promise<{ process: ChildProcess }> };
    this.child = (await startDynamoDbLocal({ port: this.port, dbPath: this.dir })).process;
    reapOnExit(this.child);
  }

}

/** fauxqs in a child process on a port of its own; a crash loses its messages, its queues come back (see fauxqs-process.ts). */
export class PrivateFauxqs extends EmulatorProcess {
  readonly kind = 'fauxqs';
  private starts = 0;

  async start(): Promise<void> {
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'durably-chaos-fauxqs-'));
      this.port = await freeServerPort();
    }
    const logFile = join(this.dir, `fauxqs-${++this.starts}.log`);
    const child = spawnScript('fauxqs-process', { args: [String(this.port), this.dir], logFile });
    this.child = child;
    reapOnExit(child);
    await waitLogged(child, logFile, 60_000, `fauxqs on port ${this.port}`, 'listening ');
  }

}
