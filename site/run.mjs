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
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled as ensureFolder } from '../tools/scripts/install-on-demand.mjs';

const siteDir = dirname(fileURLToPath(import.meta.url));

function run(command, args, what) {
  const result = spawnSync(command, args, { cwd: siteDir, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`${what} failed (exit code ${result.status ?? result.signal}).`);
    process.exit(result.status || 1);
  }
}

function ensureInstalled() {
  try {
    ensureFolder(siteDir, { label: 'the site tooling' });
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
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
