import { z } from 'zod';
import { parseDuration, ConfigError } from '@durably/contracts';
import { nearest } from './nearest.js';
import type { DurablyConfig, WorkerConfig } from './types.js';

/**
 * The config file's schema (zod), with what each key expects in words. zod finds unknown keys and
 * wrong types at any depth; the messages are ours, so that each names the key, what it expects and
 * what it got, and an unknown key gets the nearest known one.
 */
const isDuration = (v: unknown) => {
  try {
    parseDuration(v as never, 'config');
    return true;
  } catch {
    return false;
  }
};
const duration = z.custom<string | number>(isDuration);
const positiveInt = z.number().int().min(1);
const adapter = (method: string) => z.union([z.string().min(1), z.custom<object>((v) => typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[method] === 'function')]);

const limits = z.strictObject({
  maxPayloadBytes: positiveInt.optional(),
  warnEvents: positiveInt.optional(),
  maxEvents: positiveInt.optional(),
  maxChildDepth: positiveInt.optional(),
});

const http = z.strictObject({
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1).optional(),
});

const worker = z.strictObject({
  concurrency: positiveInt.optional(),
  queues: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/)).min(1).optional(),
  stepMode: z.enum(['inline', 'dispatch']).optional(),
  visibilityTimeout: duration.optional(),
  stepLease: duration.optional(),
  staleAfter: duration.optional(),
  recoveryInterval: duration.optional(),
  timerSweepInterval: duration.optional(),
  timerSweepGrace: duration.optional(),
  localTimerWindow: duration.optional(),
  inlineRetryMax: duration.optional(),
  cacheSize: positiveInt.optional(),
  scheduler: z.boolean().optional(),
  scheduleInterval: duration.optional(),
  retention: duration.optional(),
  http: http.optional(),
  shutdownGrace: duration.optional(),
});

// Every worker option a config file may set is validated: adding one to WorkerConfig without its
// schema entry (or the reverse) fails to compile here.
type SchemaKeys = keyof z.infer<typeof worker>;
const workerSchemaComplete: [Exclude<keyof WorkerConfig, SchemaKeys> | Exclude<SchemaKeys, keyof WorkerConfig>] extends [never] ? true : never = true;
void workerSchemaComplete;

export const configSchema = z.strictObject({
  storage: adapter('append').optional(),
  broker: adapter('publish').optional(),
  workflows: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  limits: limits.optional(),
  worker: worker.optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).optional(),
  connectTimeout: duration.optional(),
  codec: z.custom<object>((v) => typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>).encode === 'function' && typeof (v as Record<string, unknown>).decode === 'function').optional(),
});

const DURATION = 'a duration such as "30s", "5m", "1d" or a number of milliseconds';
const EXPECTS: Record<string, string> = {
  '': 'an object (export default defineConfig({ ... }))',
  storage: 'a storage URL string (file:./.durably, postgres://..., redis://...) or a storage adapter instance',
  broker: 'a broker URL string (local:, postgres://..., redis://..., amqp://...) or a broker adapter instance',
  workflows: 'a module path or glob, or an array of them (["./src/workflows/*.ts"])',
  limits: 'an object with maxPayloadBytes, warnEvents, maxEvents, maxChildDepth',
  'limits.maxPayloadBytes': 'a whole number of bytes >= 1',
  'limits.warnEvents': 'a whole number >= 1',
  'limits.maxEvents': 'a whole number >= 1',
  'limits.maxChildDepth': 'a whole number >= 1',
  worker: 'an object of worker options ({ concurrency: 20, queues: ["default"] })',
  'worker.concurrency': 'a whole number >= 1',
  'worker.queues': 'a non-empty array of queue names (letters, digits, "_", "-", ".")',
  'worker.queues.*': 'a queue name of 1-100 letters, digits, "_", "-" or "."',
  'worker.stepMode': '"inline" or "dispatch"',
  'worker.visibilityTimeout': DURATION,
  'worker.stepLease': DURATION,
  'worker.staleAfter': DURATION,
  'worker.recoveryInterval': DURATION,
  'worker.timerSweepInterval': DURATION,
  'worker.timerSweepGrace': DURATION,
  'worker.localTimerWindow': DURATION,
  'worker.inlineRetryMax': DURATION,
  'worker.cacheSize': 'a whole number >= 1',
  'worker.scheduler': 'true or false',
  'worker.scheduleInterval': DURATION,
  'worker.retention': DURATION,
  'worker.shutdownGrace': DURATION,
  'worker.http': 'an object { port, host? }',
  'worker.http.port': 'a port number from 0 to 65535',
  'worker.http.host': 'a host name or address ("127.0.0.1")',
  logLevel: '"debug", "info", "warn", "error" or "silent"',
  connectTimeout: DURATION,
  codec: 'a payload codec with encode and decode (aesGcmCodec({ keys, current }))',
};

/** Known keys of the object at a dotted path, read from the schema itself. */
function knownKeys(path: PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const key of path) {
    const shape = objectShape(schema);
    if (!shape || typeof key !== 'string' || !(key in shape)) return [];
    schema = shape[key];
  }
  const shape = objectShape(schema);
  return shape ? Object.keys(shape) : [];
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>) : undefined;
}

function dotted(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? '*' : String(p))).join('.');
}

function shown(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 60 ? `${v.slice(0, 57)}...` : v}" (a string)`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${v} (a ${typeof v})`;
  return `a ${typeof v}`;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of path) v = v === null || v === undefined ? undefined : (v as Record<PropertyKey, unknown>)[key];
  return v;
}

/**
 * Checks a config object; returns it typed, or throws a ConfigError listing every problem, one per
 * line, each prefixed with `where` (the file's path, "connect()", ...).
 */
export function validateConfig(raw: unknown, where: string): DurablyConfig {
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return raw as DurablyConfig;
  const problems: string[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(issue.path);
      for (const key of issue.keys) {
        const full = shown([...issue.path, key]);
        const guess = nearest(key, known);
        const prefix = issue.path.length ? `${shown(issue.path)}.` : '';
        problems.push(`unknown key "${full}".` + (guess ? ` Did you mean "${prefix}${guess}"?` : '') + ` Known keys${issue.path.length ? ` of "${shown(issue.path)}"` : ''}: ${known.join(', ')}.`);
      }
      continue;
    }
    const expects = EXPECTS[dotted(issue.path)] ?? issue.message;
    const got = valueAt(raw, issue.path);
    problems.push(`"${shown(issue.path) || '(the config)'}" must be ${expects}; got ${describeValue(got)}.`);
  }
  const unique = [...new Set(problems)];
  throw new ConfigError(unique.length === 1 ? `${where}: ${unique[0]}` : `${where} has ${unique.length} problems:\n${unique.map((p) => `  - ${p}`).join('\n')}`);
}
