/**
 * Exit codes of the durably command (documented in docs/guides/cli.md). Scripts can tell a typo
 * from an outage from a missing run without parsing messages.
 */
export const EXIT = {
  ok: 0,
  /** Anything not listed below (an unexpected error). */
  failure: 1,
  /** Bad usage: unknown command or option, missing or invalid argument, bad JSON, a payload a hook's schema or an update refused. */
  usage: 2,
  /** Configuration: a bad config file or key, unknown URL scheme, adapter package not installed, malformed URL. */
  config: 3,
  /** A storage or broker server could not be reached or failed. */
  unreachable: 4,
  /** The run, hook, schedule or dead letter does not exist. */
  notFound: 5,
  /** The operation does not apply in the current state (run already finished, hook already used or expired). */
  conflict: 6,
  /** start --wait: the run failed or was cancelled. */
  runFailed: 7,
  /** start --wait: the run did not finish within --timeout; updates send: no answer within --timeout. */
  timeout: 8,
  /** doctor: at least one check failed. */
  checksFailed: 9,
} as const;

/** One of the exit codes the `durably` command ends with: a value of {@link EXIT}, 0 to 9. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_CODE: Record<string, ExitCode> = {
  INVALID_ARGUMENT: EXIT.usage,
  INVALID_DURATION: EXIT.usage,
  SERIALIZATION: EXIT.usage,
  PAYLOAD_TOO_LARGE: EXIT.usage,
  ARGUMENT_VALIDATION: EXIT.usage,
  HOOK_PAYLOAD_INVALID: EXIT.usage,
  UPDATE_REJECTED: EXIT.usage,
  CONFIG: EXIT.config,
  UNKNOWN_SCHEME: EXIT.config,
  ADAPTER_NOT_INSTALLED: EXIT.config,
  STORAGE: EXIT.unreachable,
  BROKER: EXIT.unreachable,
  RUN_NOT_FOUND: EXIT.notFound,
  HOOK_NOT_FOUND: EXIT.notFound,
  SCHEDULE_NOT_FOUND: EXIT.notFound,
  RUN_ALREADY_FINISHED: EXIT.conflict,
  HOOK_ALREADY_USED: EXIT.conflict,
  HOOK_EXPIRED: EXIT.conflict,
  WORKFLOW_FAILED: EXIT.runFailed,
  CANCELLED: EXIT.runFailed,
  RESULT_TIMEOUT: EXIT.timeout,
  UPDATE_TIMEOUT: EXIT.timeout,
};

/** The exit code for an error: its own `exitCode` (CliError), else by its Durably `code`. */
export function exitCodeOf(err: unknown): ExitCode {
  const e = err as { exitCode?: unknown; code?: unknown };
  if (typeof e?.exitCode === 'number') return e.exitCode as ExitCode;
  if (typeof e?.code === 'string' && e.code in BY_CODE) return BY_CODE[e.code];
  return EXIT.failure;
}

/** An error of the command line itself, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}
