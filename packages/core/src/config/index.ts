export type { DurablyConfig, WorkerConfig, WorkerTuning, HttpOptions, ResolvedConfig, Setting, SettingSource } from './types.js';
export { validateConfig } from './schema.js';
export { CONFIG_FILE_NAMES, findConfigFile, loadConfigFromFile, type ModuleImporter, type LoadedConfigFile } from './load.js';
export { resolveConfig, hidePassword, ENV_VARIABLES, DEFAULT_STORAGE_URL, DEFAULT_BROKER_URL, type ResolveOptions } from './resolve.js';
export { nearest } from './nearest.js';
