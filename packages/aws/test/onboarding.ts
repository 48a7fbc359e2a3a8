import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const appDir = resolve(import.meta.dirname, '../../../apps/onboarding');

/** Runs the onboarding sample as its own process, backends chosen by environment variables alone. */
export async function runOnboarding(env: Record<string, string>, args: string[] = ['--sleep', '300ms']): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', resolve(appDir, 'src/main.ts'), ...args], {
    cwd: appDir,
    env: { ...process.env, ...env },
    timeout: 90_000,
  });
  return stdout.trim().split('\n');
}
