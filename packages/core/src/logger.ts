import { createRequire } from 'node:module';
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import { logLevelFromEnv, type Logger, type LogLevel } from '@durably/contracts';

export type { Logger, LogLevel };

/** The part of a pino logger (or a pino-compatible one) that Durably uses. */
export interface PinoLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): PinoLike;
  bindings(): Record<string, unknown>;
  /** pino's: whether a line at `level` is written (when absent, every line goes to the logger). */
  isLevelEnabled?(level: string): boolean;
  levels: { values: Record<string, number> };
}

/** Options of `createLogger` (pino): the level, pretty or JSON lines, where they go, and fields on every line. */
export interface LoggerOptions {
  /** Default: DURABLY_LOG_LEVEL, else "warn" (the engine is quiet unless asked). */
  level?: LogLevel;
  /** Human-readable lines (pino-pretty, when installed). Default: DURABLY_LOG_FORMAT, else when stderr is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go. Default: stderr, written synchronously (nothing is lost when the process dies). */
  destination?: DestinationStream;
  /** Fields added to every line. */
  bindings?: Record<string, unknown>;
}

/**
 * True when `value` looks like a pino logger (it has `bindings`, `child` and `levels`), which `toLogger` adapts.
 */
export function isPinoLike(value: unknown): value is PinoLike {
  const v = value as Partial<PinoLike> | null;
  return typeof v === 'object' && v !== null && typeof v.bindings === 'function' && typeof v.child === 'function' && typeof v.levels?.values === 'object';
}

/**
 * Adapts a pino instance to the Logger interface, keeping every field (pino takes `(fields, msg)`).
 * A child's pino child is made when it first writes a line: the engine makes a child per run and per
 * step attempt, most of which write nothing at the default level, and a pino child (its bindings
 * serialized) costs more than the rest of an inline step. A pino child without options inherits its
 * parent's level, so a line at a level the root has off is dropped without making one.
 */
export function fromPino(logger: PinoLike): Logger {
  return adapt(logger, () => logger);
}

function adapt(root: PinoLike, made: () => PinoLike): Logger {
  const on = (level: 'debug' | 'info' | 'warn' | 'error') => typeof root.isLevelEnabled !== 'function' || root.isLevelEnabled(level);
  return {
    debug: (msg, fields) => {
      if (on('debug')) made().debug(fields ?? {}, msg);
    },
    info: (msg, fields) => {
      if (on('info')) made().info(fields ?? {}, msg);
    },
    warn: (msg, fields) => {
      if (on('warn')) made().warn(fields ?? {}, msg);
    },
    error: (msg, fields) => {
      if (on('error')) made().error(fields ?? {}, msg);
    },
    child: (fields) => {
      let child: PinoLike | undefined;
      return adapt(root, () => (child ??= made().child(fields)));
    },
  };
}

/** A Logger as given (or a pino instance, adapted). */
export function toLogger(logger: Logger | PinoLike): Logger {
  return isPinoLike(logger) ? fromPino(logger) : logger;
}

/** pino-pretty is optional (the CLI depends on it): without it, lines stay JSON. */
function prettyStream(): DestinationStream | undefined {
  try {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => DestinationStream;
    return pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' });
  } catch {
    return undefined;
  }
}

/**
 * A pino logger behind the Logger interface: one JSON line per entry on stderr (JSON when piped,
 * readable when stderr is a terminal and pino-pretty is installed). Level from DURABLY_LOG_LEVEL
 * (default "warn", so an embedded engine is quiet unless asked; the durably CLI defaults to "info").
 */
export function createLogger(levelOrOptions: LogLevel | LoggerOptions = {}, bindings: Record<string, unknown> = {}): Logger {
  const options: LoggerOptions = typeof levelOrOptions === 'string' ? { level: levelOrOptions, bindings } : { ...levelOrOptions, bindings: { ...levelOrOptions.bindings, ...bindings } };
  return fromPino(createPino(options) as unknown as PinoLike);
}

/** The pino instance createLogger wraps (for callers that want pino itself). */
export function createPino(options: LoggerOptions = {}): PinoLogger {
  const level = options.level ?? logLevelFromEnv() ?? 'warn';
  const format = process.env.DURABLY_LOG_FORMAT;
  const pretty = options.pretty ?? (format === 'pretty' ? true : format === 'json' ? false : process.stderr.isTTY === true);
  const destination = options.destination ?? (pretty ? prettyStream() : undefined) ?? pino.destination({ fd: 2, sync: true });
  const logger = pino(
    {
      level,
      base: { pid: process.pid, ...options.bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return logger;
}
