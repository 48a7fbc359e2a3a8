#!/usr/bin/env node
/**
 * `npm run docs:build` and `npm run docs:dev` (root package.json) come here. The site's tooling
 * (VitePress, TypeDoc and their dependencies, about 150 packages) is kept out of the repository's
 * npm workspaces so that `npm install` at the root does not fetch it: the first docs command
 * installs it into site/node_modules from site/package-lock.json (`npm ci --prefix site`), and
 * again whenever that lockfile changes.
 *
 *   node site/run.mjs build [vitepress options]   API reference, then the static site in site/.vitepress/dist
 *   node site/run.mjs dev [vitepress options]     API reference, then a dev server with live reload
 *   node site/run.mjs api                         the API reference only (docs/api/)
 *   node site/run.mjs install                     the tooling only
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const siteDir = dirname(fileURLToPath(import.meta.url));
const lockfile = join(siteDir, 'package-lock.json');
/** Written after a successful install: the hash of the lockfile it installed. */
const stamp = join(siteDir, 'node_modules', '.durably-site-lock');

function run(command, args, what) {
  const result = spawnSync(command, args, { cwd: siteDir, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`${what} failed (exit code ${result.status ?? result.signal}).`);
    process.exit(result.status || 1);
  }
}

function ensureInstalled() {
  const hash = createHash('sha256').update(readFileSync(lockfile)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  console.error('Installing the site tooling into site/node_modules (npm ci --prefix site)...');
  // Inside an npm script, npm_execpath is the npm that runs it: use the same one.
  const npm = process.env.npm_execpath && /npm-cli\.c?js$/.test(process.env.npm_execpath) ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  run(npm[0], [...npm[1], 'ci', '--prefix', siteDir, '--no-audit', '--no-fund'], 'npm ci --prefix site');
  writeFileSync(stamp, hash);
}

function api() {
  run(process.execPath, [join(siteDir, 'node_modules/typedoc/bin/typedoc'), '--options', 'typedoc.config.mjs'], 'TypeDoc (the API reference)');
}

const vitepress = (args) => run(process.execPath, [join(siteDir, 'node_modules/vitepress/bin/vitepress.js'), ...args], `vitepress ${args[0]}`);

const [command = 'build', ...rest] = process.argv.slice(2);
switch (command) {
  case 'install':
    ensureInstalled();
    break;
  case 'api':
    ensureInstalled();
    api();
    break;
  case 'build':
    ensureInstalled();
    api();
    vitepress(['build', ...rest]);
    console.error(`The site is in ${join(siteDir, '.vitepress/dist')} (npx vitepress preview site serves it).`);
    break;
  case 'dev':
    ensureInstalled();
    api();
    vitepress(['dev', ...rest]);
    break;
  default:
    console.error(`Unknown command "${command}". Use build, dev, api or install.`);
    process.exit(2);
}
