import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { glob, isDynamicPattern } from 'tinyglobby';
import { isWorkflow, type Workflow } from '@durably/core';
import { CliError, EXIT } from './exit-codes.js';

/**
 * Imports an app module (a config file, a workflow module) into this process. TypeScript goes
 * through the tsx hooks registered by the launcher, so the app's modules and the CLI share one
 * @durably/core: its step and workflow registries are module state.
 */
export async function importModule(file: string): Promise<unknown> {
  return import(pathToFileURL(file).href);
}

/** Files named by module paths and globs (absolute). A path or glob that matches nothing is an error. */
export async function resolveModules(patterns: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    if (!isDynamicPattern(pattern)) {
      if (!existsSync(pattern)) throw new CliError(`The workflow module ${pattern} does not exist. Check the path (relative paths in a config file are relative to that file).`, EXIT.config);
      files.push(pattern);
      continue;
    }
    const matched = await glob(pattern, { absolute: true, ignore: ['**/node_modules/**', '**/*.d.ts', '**/*.test.*'] });
    if (matched.length === 0) throw new CliError(`The glob ${pattern} matches no file. Check the pattern (relative patterns in a config file are relative to that file).`, EXIT.config);
    files.push(...matched.sort());
  }
  return [...new Set(files)];
}

/** Every workflow exported by the modules (named exports, default export, or arrays of them). */
export async function loadWorkflows(patterns: string[]): Promise<{ files: string[]; workflows: Workflow<any[], any>[] }> {
  const files = await resolveModules(patterns);
  const found = new Map<string, Workflow<any[], any>>();
  for (const file of files) {
    let mod: Record<string, unknown>;
    try {
      mod = (await importModule(file)) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`Cannot load the workflow module ${file}: ${(err as Error).message}`, EXIT.config, { cause: err });
    }
    for (const value of Object.values(mod)) {
      for (const candidate of Array.isArray(value) ? value : [value]) {
        if (isWorkflow(candidate)) found.set(candidate.definition.name, candidate);
      }
    }
  }
  return { files, workflows: [...found.values()] };
}
