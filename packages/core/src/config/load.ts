import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, parse, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '@durably/contracts';
import { validateConfig } from './schema.js';
import type { DurablyConfig } from './types.js';

/** Names looked for in each directory, from the working directory up. Two in one directory is an error. */
export const CONFIG_FILE_NAMES = ['durably.config.ts', 'durably.config.mts', 'durably.config.js', 'durably.config.mjs', 'durably.config.cjs', 'durably.config.json'] as const;

/** Imports a module by absolute path (the CLI passes one that can load TypeScript in any project). */
export type ModuleImporter = (file: string) => Promise<unknown>;

export interface LoadedConfigFile {
  file: string;
  config: DurablyConfig;
}

/**
 * The config file that applies in `cwd`: the nearest `durably.config.*` in `cwd` or a directory
 * above it, so that a config at a repository's root serves the apps below it.
 */
export function findConfigFile(cwd = process.cwd()): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const found = CONFIG_FILE_NAMES.map((n) => join(dir, n)).filter((f) => existsSync(f));
    if (found.length > 1) {
      throw new ConfigError(`Found ${found.length} config files in ${dir}: ${found.map((f) => parse(f).base).join(', ')}. Keep one, or name the one to use with --config (DURABLY_CONFIG).`);
    }
    if (found.length === 1) return found[0];
    if (dir === parse(dir).root) return undefined;
  }
}

/**
 * Loads and checks a config file. `.json` is parsed; `.js`/`.mjs`/`.cjs` are imported; `.ts` is
 * imported natively when the process can (tsx, the durably CLI, Node with type stripping), else
 * through tsx when it is installed, else it is a ConfigError saying what to do.
 */
export async function loadConfigFromFile(path: string, options: { importer?: ModuleImporter; origin?: string } = {}): Promise<LoadedConfigFile> {
  const file = resolve(path);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new ConfigError(`The config file ${file}${options.origin ? ` (from ${options.origin})` : ''} does not exist. Check the path, or remove the setting to look for durably.config.* from the working directory up.`);
  }
  let raw: unknown;
  if (file.endsWith('.json')) {
    const text = await readFile(file, 'utf8');
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  } else {
    const mod = (await importModule(file, options.importer)) as { default?: unknown };
    if (mod.default === undefined) {
      throw new ConfigError(`${file} has no default export. Write: export default defineConfig({ storage: ..., broker: ... })`);
    }
    raw = mod.default;
  }
  return { file, config: validateConfig(raw, file) };
}

const TS_FILE = /\.(c|m)?tsx?$/;

async function importModule(file: string, importer?: ModuleImporter): Promise<unknown> {
  if (importer) {
    try {
      return await importer(file);
    } catch (err) {
      throw new ConfigError(`Cannot load ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  try {
    return await import(pathToFileURL(file).href);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (!TS_FILE.test(file) || code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw new ConfigError(`Cannot load ${file}: ${(err as Error).message}`, { cause: err });
  }
  // A TypeScript config in a plain Node process: use tsx if the project has it.
  let tsx: { tsImport(specifier: string, parent: string): Promise<unknown> };
  try {
    tsx = (await import('tsx/esm/api' as string)) as typeof tsx;
  } catch {
    throw new ConfigError(
      `Cannot load ${file}: this Node.js process cannot import TypeScript. Run it with tsx (node --import tsx ...), install tsx (npm install -D tsx), or write the config as durably.config.js or .json.`,
    );
  }
  try {
    return await tsx.tsImport(pathToFileURL(file).href, import.meta.url);
  } catch (err) {
    throw new ConfigError(`Cannot load ${file}: ${(err as Error).message}`, { cause: err });
  }
}
