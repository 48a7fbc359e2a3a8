import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, type LogLevel } from '@durably/contracts';
import { findConfigFile, loadConfigFromFile, type ModuleImporter } from './load.js';
import { nearest } from './nearest.js';
import { validateConfig } from './schema.js';
import type { DurablyConfig, ResolvedConfig, Setting } from './types.js';
import { codecFromEnv, KEYS_VARIABLE } from '../codec/env.js';
import type { PayloadCodec } from '@durably/contracts';

/** The storage used when none is configured: the embedded SQLite file under `./.durably`. */
export const DEFAULT_STORAGE_URL = 'file:./.durably';
/** The broker used when none is configured: `local:`, the embedded SQLite broker beside the default storage. */
export const DEFAULT_BROKER_URL = 'local:';

/** The environment variables Durably reads. Any other `DURABLY_*` close to one of them is reported as a likely typo. */
export const ENV_VARIABLES = ['DURABLY_STORAGE', 'DURABLY_BROKER', 'DURABLY_CONFIG', 'DURABLY_LOG_LEVEL', 'DURABLY_LOG_FORMAT', 'DURABLY_ENCRYPTION_KEYS', 'DURABLY_ENCRYPTION_KEY_ID'] as const;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * Options of `resolveConfig` and `resolveBackends`: where to look for the config file, and the
 * environment to read (default `process.env`).
 */
export interface ResolveOptions {
  /** Where to look for durably.config.* (and from where relative env paths resolve). Default: process.cwd(). */
  cwd?: string;
  /** A config file to use instead of looking for one (the CLI's --config). DURABLY_CONFIG also names one. */
  configFile?: string;
  /** Do not read any config file. */
  noFile?: boolean;
  /** The environment to read `DURABLY_*` from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Loads a TypeScript or JavaScript config file (tests replace it). Default: dynamic `import()`. */
  importer?: ModuleImporter;
  /** How explicit options are named in messages: "connect()", "--storage", ... Default "connect()". */
  optionOrigin?: string;
}

/**
 * Resolves what a process runs on. Each setting comes from the first of: explicit options (code,
 * command-line flags), the environment (DURABLY_STORAGE, DURABLY_BROKER, DURABLY_LOG_LEVEL), the
 * config file, the embedded default. Nothing is ignored silently: unknown keys and bad values are
 * ConfigErrors, malformed URLs are ConfigErrors naming where they were set.
 */
export async function resolveConfig(explicit: DurablyConfig = {}, options: ResolveOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const cwd = resolve(options.cwd ?? process.cwd());
  const optionOrigin = options.optionOrigin ?? 'connect()';
  validateConfig(explicit, optionOrigin);
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('DURABLY_') || (ENV_VARIABLES as readonly string[]).includes(name)) continue;
    const guess = nearest(name, ENV_VARIABLES, 2);
    if (guess) warnings.push(`The environment variable ${name} is not read by Durably. Did you mean ${guess}?`);
  }

  // Read even when storage and broker are given: the file may set limits and worker options.
  let fileConfig: DurablyConfig = {};
  let file: string | undefined;
  if (!options.noFile) {
    const named = options.configFile ?? (env.DURABLY_CONFIG || undefined);
    const path = named !== undefined ? resolve(cwd, named) : findConfigFile(cwd);
    if (path) {
      const loaded = await loadConfigFromFile(path, { importer: options.importer, origin: options.configFile !== undefined ? '--config' : named !== undefined ? 'DURABLY_CONFIG' : undefined });
      file = loaded.file;
      fileConfig = loaded.config;
    }
  }
  const fileDir = file ? dirname(file) : cwd;

  const pick = <T>(key: 'storage' | 'broker', envName: string, fallback: T): Setting<T | string> => {
    if (explicit[key] !== undefined) return checked({ value: explicit[key] as T, source: 'option', origin: optionOrigin === 'connect()' ? `connect({ ${key} })` : optionOrigin.replace('--storage', `--${key}`) });
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return checked({ value: fromEnv, source: 'env', origin: envName });
    if (fileConfig[key] !== undefined) {
      const v = fileConfig[key] as T | string;
      return checked({ value: typeof v === 'string' ? relativeTo(v, fileDir) : v, source: 'file', origin: `${file}: ${key}` });
    }
    return { value: fallback, source: 'default', origin: 'the embedded default' };
  };
  const storage = pick('storage', 'DURABLY_STORAGE', DEFAULT_STORAGE_URL);
  const broker = pick('broker', 'DURABLY_BROKER', DEFAULT_BROKER_URL);

  let logLevel: Setting<LogLevel> | undefined;
  const envLevel = env.DURABLY_LOG_LEVEL;
  if (envLevel !== undefined && envLevel !== '') {
    if (!(LOG_LEVELS as string[]).includes(envLevel)) {
      const guess = nearest(envLevel, LOG_LEVELS);
      throw new ConfigError(`DURABLY_LOG_LEVEL is "${envLevel}"; use one of ${LOG_LEVELS.join(', ')}.` + (guess ? ` Did you mean "${guess}"?` : ''));
    }
    logLevel = { value: envLevel as LogLevel, source: 'env', origin: 'DURABLY_LOG_LEVEL' };
  } else if (explicit.logLevel !== undefined) {
    logLevel = { value: explicit.logLevel, source: 'option', origin: optionOrigin };
  } else if (fileConfig.logLevel !== undefined) {
    logLevel = { value: fileConfig.logLevel, source: 'file', origin: `${file}: logLevel` };
  }

  const workflowsFrom = explicit.workflows !== undefined ? { list: explicit.workflows, dir: cwd } : { list: fileConfig.workflows ?? [], dir: fileDir };
  const workflows = (Array.isArray(workflowsFrom.list) ? workflowsFrom.list : [workflowsFrom.list]).map((p) => (isAbsolute(p) ? p : resolve(workflowsFrom.dir, p)));

  const envCodec = codecFromEnv(env);
  let codec: Setting<PayloadCodec> | undefined;
  if (explicit.codec !== undefined) codec = { value: explicit.codec, source: 'option', origin: optionOrigin };
  else if (envCodec) codec = { value: envCodec, source: 'env', origin: KEYS_VARIABLE };
  else if (fileConfig.codec !== undefined) codec = { value: fileConfig.codec, source: 'file', origin: `${file}: codec` };

  return {
    file,
    storage,
    codec,
    broker,
    workflows,
    limits: { ...fileConfig.limits, ...explicit.limits },
    worker: { ...fileConfig.worker, ...explicit.worker, ...(fileConfig.worker?.http || explicit.worker?.http ? { http: { ...fileConfig.worker?.http, ...explicit.worker?.http } as { port: number } } : {}) },
    logLevel,
    connectTimeout: explicit.connectTimeout ?? fileConfig.connectTimeout,
    warnings,
  };
}

/** A `file:` or `local:` path in a config file is relative to the file, not to the working directory. */
function relativeTo(url: string, dir: string): string {
  const m = /^(file|local):(?!\/\/)(.*)$/i.exec(url);
  if (!m || m[2] === '' || isAbsolute(m[2])) return url;
  return `${m[1]}:${resolve(dir, m[2])}`;
}

/** A URL string needs a scheme; the adapter checks the rest (parseServerUrl), and its error is told where the URL was set. */
function checked<T>(setting: Setting<T>): Setting<T> {
  const value = setting.value;
  if (typeof value !== 'string') return setting;
  if (!/^[a-z][a-z0-9+.-]*:/i.test(value)) {
    throw new ConfigError(`${setting.origin} is "${hidePassword(value)}", which is not a URL: it needs a scheme such as file:, postgres:// or redis://.`);
  }
  return setting;
}

/** Hides the password of a URL that may not parse. */
export function hidePassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}
