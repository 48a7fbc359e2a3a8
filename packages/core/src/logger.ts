/** The logger interface the engine writes to and hands to steps. Compatible with pino and console-like loggers. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * A structured logger writing one JSON line per entry to stderr. Level from DURABLY_LOG_LEVEL
 * (default "warn"), so the engine is quiet unless asked. Pass your own (e.g. a pino instance
 * adapted to this interface) to createWorker({ logger }).
 */
export function createLogger(level: LogLevel = (process.env.DURABLY_LOG_LEVEL as LogLevel) || 'warn', bindings: Record<string, unknown> = {}): Logger {
  const min = ORDER[level] ?? ORDER.warn;
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    process.stderr.write(JSON.stringify({ level: lvl, time: new Date().toISOString(), msg, ...bindings, ...fields }) + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(level, { ...bindings, ...fields }),
  };
}
