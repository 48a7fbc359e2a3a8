/**
 * The logger interface the engine writes to and hands to workflows and steps: `(msg, fields)`.
 * Give `createWorker({ logger })` one of these, or a pino instance as it is: pino's own signature is
 * `(fields, msg)`, and `toLogger` in @durably/core adapts it so that every field is kept.
 */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** A log level, least severe first; `silent` logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Every {@link LogLevel}, least severe first: a level logs itself and the ones after it. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** The level DURABLY_LOG_LEVEL names, or undefined when it is unset or not a level. */
export function logLevelFromEnv(): LogLevel | undefined {
  const v = process.env.DURABLY_LOG_LEVEL;
  return v && (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

/** Options of {@link jsonLogger}. */
export interface JsonLoggerOptions {
  /** Default: DURABLY_LOG_LEVEL, else "warn". */
  level?: LogLevel;
  /** Fields added to every line. */
  bindings?: Record<string, unknown>;
  /** Where each line goes. Default: stderr. */
  write?: (line: string) => void;
}

/**
 * A light Logger with no dependency: one JSON line per entry (`level`, `time`, `msg`, the fields) on
 * stderr. The default of adapters that are given no logger, so that they need not depend on pino;
 * @durably/core's createLogger (pino, pretty lines on a terminal) is what the engine uses.
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? logLevelFromEnv() ?? 'warn');
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const make = (bindings: Record<string, unknown>): Logger => {
    const log = (level: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: Record<string, unknown>) => {
      if (LOG_LEVELS.indexOf(level) < threshold) return;
      let line: string;
      try {
        line = JSON.stringify({ level, time: new Date().toISOString(), ...bindings, ...fields, msg });
      } catch {
        line = JSON.stringify({ level, time: new Date().toISOString(), ...bindings, msg, fields: '[unserializable]' });
      }
      write(line + '\n');
    };
    return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (fields) => make({ ...bindings, ...fields }) };
  };
  return make({ ...options.bindings });
}
