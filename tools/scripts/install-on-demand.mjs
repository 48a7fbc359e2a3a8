/**
 * Tooling kept out of the root npm workspaces (the docs site in site/, the bench's peer systems in
 * tools/bench/peers) is installed the first time a command needs it, from that folder's own
 * package-lock.json (`npm ci --prefix <folder>`), and again whenever the lockfile changes: a stamp
 * in <folder>/node_modules holds the hash of the lockfile it installed. The root `npm install`
 * never fetches it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Installs `dir`'s dependencies from its lockfile unless the same lockfile is installed already.
 * Returns true when it installed. Throws, naming the command, when npm fails.
 *
 * @param {string} dir absolute path of a folder with package.json and package-lock.json
 * @param {{ label?: string, quiet?: boolean }} [options] label: what is installed, for the message
 * @returns {boolean}
 */
export function ensureInstalled(dir, options = {}) {
  const lockfile = join(dir, 'package-lock.json');
  const stamp = join(dir, 'node_modules', '.durably-lock-hash');
  const hash = createHash('sha256').update(readFileSync(lockfile)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return false;
  const label = options.label ?? dir;
  process.stderr.write(`Installing ${label} into ${join(dir, 'node_modules')} (npm ci --prefix ${dir})...\n`);
  // Inside an npm script, npm_execpath is the npm that runs it: use the same one.
  const viaNode = process.env.npm_execpath && /npm-cli\.c?js$/.test(process.env.npm_execpath);
  const [command, prefix] = viaNode ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const args = [...prefix, 'ci', '--prefix', dir, '--no-audit', '--no-fund'];
  // The root project's workspace settings must not leak into the folder's own install.
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^npm_config_(workspace|workspaces|include_workspace_root)$/i.test(key)) delete env[key];
  const result = spawnSync(command, args, { cwd: dir, stdio: options.quiet ? ['ignore', 'ignore', 'inherit'] : ['ignore', process.stderr, 'inherit'], env });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`npm ci --prefix ${dir} failed (exit code ${result.status ?? result.signal}): installing ${label}.`);
  writeFileSync(stamp, hash);
  return true;
}

// As a command: node tools/scripts/install-on-demand.mjs <folder> [label]
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, label] = process.argv.slice(2);
  if (!dir) {
    console.error('Usage: node tools/scripts/install-on-demand.mjs <folder with package-lock.json> [label]');
    process.exit(2);
  }
  try {
    ensureInstalled(resolve(dir), { label });
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
