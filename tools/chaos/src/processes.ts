/**
 * The tool's child processes (chaos workers, the SQS emulator): one of this folder's scripts run by
 * this Node (through tsx when it is the TypeScript source), its output appended to a log file, and
 * its readiness told by a line it prints (`worker up`, `listening`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The command line that runs `name` (`worker-process`, `fauxqs-process`) from this folder: the .ts source or its build. */
export function scriptArgv(name: string): string[] {
  const script = [`${name}.ts`, `${name}.js`].map((f) => join(here, f)).find((f) => existsSync(f));
  if (!script) throw new Error(`${name}.ts or .js not found in ${here}`);
  return [process.execPath, ...(script.endsWith('.ts') ? ['--import', 'tsx', '--conditions=@durably/source'] : []), script];
}

export interface ScriptOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Where its stdout and stderr go (appended). */
  logFile: string;
  /** Arguments after the script. */
  args?: string[];
  /** Rewrites the command line, e.g. to run it in another network namespace. */
  wrap?: (argv: string[]) => [string, string[]];
}

/** Starts one of this folder's scripts as a child process, its output going to `logFile`. */
export function spawnScript(name: string, options: ScriptOptions): ChildProcess {
  const argv = [...scriptArgv(name), ...(options.args ?? [])];
  const [cmd, args] = options.wrap ? options.wrap(argv) : [argv[0], argv.slice(1)];
  const child = spawn(cmd, args, { cwd: here, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => appendFileSync(options.logFile, d));
  child.stderr!.on('data', (d: Buffer) => appendFileSync(options.logFile, d));
  return child;
}

/** A chaos worker (worker-process.ts) on the given storage and broker, among other settings in `env`. */
export function spawnWorker(options: ScriptOptions): ChildProcess {
  return spawnScript('worker-process', options);
}

/** What a child has logged so far ('' before its first line). */
export function logOf(logFile: string): string {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
}

/** True once the child's log holds `line` (a worker prints `worker up` once it consumes). */
export function hasLogged(logFile: string, line = 'worker up'): boolean {
  return logOf(logFile).includes(line);
}

/** Resolves once the child has logged `line`; throws with the end of its log if it exits first or `ms` pass. */
export async function waitLogged(child: ChildProcess, logFile: string, ms: number, what: string, line = 'worker up'): Promise<void> {
  const by = Date.now() + ms;
  while (!hasLogged(logFile, line)) {
    if (Date.now() > by || child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} did not start${child.exitCode !== null || child.signalCode !== null ? ` (it exited: ${child.exitCode ?? child.signalCode})` : ` within ${ms} ms`}; its log:\n${logOf(logFile).slice(-2000)}`);
    }
    await sleep(100);
  }
}

/** Resolves once the child has exited (at once if it has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILLs the child if this process exits first (an emulator must not outlive the tool). */
export function reapOnExit(child: ChildProcess): void {
  const reap = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
}
