import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * The environment of a shell a user opens: none of the settings the test runner inherited (npm's
 * npm_* variables, which would point a nested npm at this workspace; nx's task variables; Durably's
 * own settings, which would move the example off the embedded default). NX_SKIP_NX_CACHE, which CI
 * sets, goes too: the builds run in a fresh copy with an empty cache, and each package's prepack
 * must find the builds the previous ones made instead of building core again each time.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|NX_|DURABLY_|VITEST|INIT_CWD$|NODE_OPTIONS$|NODE_ENV$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', ...extra };
}

/**
 * Runs a command (no shell) and resolves with its output. Killed, with its process group, after
 * `timeoutMs`; the result then says so, so that a hang reads as a hang and not as a wrong answer.
 */
export function run(command: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? cleanEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n[killed: "${command} ${args.join(' ')}" did not finish within ${opts.timeoutMs / 1000} s]`;
      resolve({ code: timedOut ? null : code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Like run, but throws with the command's output unless it exits with 0. */
export async function runOk(command: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  const result = await run(command, args, opts);
  if (result.code !== 0) {
    throw new Error(`"${command} ${args.join(' ')}" in ${opts.cwd} exited with ${result.code}:\n${tail(result.stdout)}\n${tail(result.stderr)}`);
  }
  return result;
}

/** The last lines of an output, enough to say why a command failed. */
export function tail(text: string, lines = 40): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
