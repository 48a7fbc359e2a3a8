import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Row } from './shapes.js';

/**
 * Runs the DynamoDB + SQS shapes in a child process inside a private network namespace (unshare
 * --net, loopback only), where DynamoDB Local, which binds every interface, reaches nothing else.
 * The rest of the bench stays outside it, next to the machine's Postgres and Redis.
 */
export async function dynamodbSqs(shapes: Set<string>, sizes: Record<string, number>, tiny: boolean): Promise<Row[]> {
  const benchDir = join(import.meta.dirname, '..');
  // The emulators are an on-demand project of the adapter's (packages/aws/emulators): installed here,
  // from their lockfile, because the child's namespace has no network to fetch them.
  const emulators = (await import(pathToFileURL(join(benchDir, '../../packages/aws/test/setup/emulators.ts')).href)) as { ensureEmulators(): void };
  emulators.ensureEmulators();
  const node = [process.execPath, '--expose-gc', '--import', 'tsx', ...process.execArgv.filter((a) => a.startsWith('--conditions')), 'src/aws-child.ts', [...shapes].join(','), JSON.stringify(sizes), tiny ? 'tiny' : 'full'];
  const quoted = node.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('unshare', ['--net', 'sh', '-c', `ip link set lo up && exec ${quoted}`], { cwd: benchDir, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const line = out.trim().split('\n').reverse().find((l) => l.startsWith('ROWS '));
  if (!line) throw new Error(`the DynamoDB + SQS bench process exited with ${code} and no results`);
  const rows = JSON.parse(line.slice(5)) as Row[];
  if (code !== 0) throw Object.assign(new Error(`the DynamoDB + SQS bench process exited with ${code} (some parts failed)`), { rows });
  return rows;
}
