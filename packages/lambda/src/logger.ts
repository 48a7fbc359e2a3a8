import type { DurableLogger } from '@aws/durable-execution-sdk-js';
import type { Logger } from '@durably/core';

type SdkLogger = Pick<DurableLogger, 'debug' | 'info' | 'warn' | 'error'>;

/**
 * Durably's Logger over the SDK's: in the workflow body it is the context's logger, which the SDK
 * keeps quiet while it replays (a line is written once, not once per invocation); in a step body it
 * is the step's logger, tagged with the operation and attempt.
 */
export function sdkLogger(target: SdkLogger, fields: Record<string, unknown> = {}): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string, more?: Record<string, unknown>) => target[level](msg, { ...fields, ...more });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => sdkLogger(target, { ...fields, ...more }),
  };
}
