import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseDuration } from '@durably/core';

export const USAGE = `Usage: npm start -- [--user <id>] [--sleep <duration>] [--key <key>]

Runs the onboarding workflow (welcome email, a durable sleep, tips email) with a worker in this
process, and prints each event of the run as it is recorded.

Options:
  --user <id>          the user to onboard (default: user_123)
  --sleep <duration>   how long the run sleeps between the emails, with a unit: 500ms, 30s, 5m, 1h
                       (default: 2s, or ONBOARDING_SLEEP)
  --key <key>          idempotency key of the run (default: a new one). Starting again with the
                       same key and arguments attaches to that run instead of starting another:
                       stop with Ctrl-C during the sleep, start again, and the run resumes.
  --help               print this help

Backends come from DURABLY_STORAGE / DURABLY_BROKER (or durably.config.*); with none set, a SQLite
file under ./.durably and the local broker, no server.`;

export interface SampleArgs {
  user: string;
  sleep: string;
  key: string;
  /** false when --key was not given (a fresh key was made). */
  keyGiven: boolean;
}

/** Bad command-line input: printed with the usage, before anything is started. */
export class UsageError extends Error {}

/** Parses and checks the command line; returns 'help' for --help. Throws UsageError for bad input. */
export function parseSampleArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SampleArgs | 'help' {
  let values: { user?: string; sleep?: string; key?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        user: { type: 'string' },
        sleep: { type: 'string' },
        key: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const user = values.user ?? 'user_123';
  if (!/^[A-Za-z0-9_.@+-]{1,100}$/.test(user)) throw new UsageError(`--user ${JSON.stringify(user)}: use 1-100 letters, digits and _ . @ + -.`);
  const sleep = values.sleep ?? env.ONBOARDING_SLEEP ?? '2s';
  // A bare number would be milliseconds to the engine; "--sleep 30" almost surely means more.
  if (/^\s*\d+(\.\d+)?\s*$/.test(sleep)) throw new UsageError(`--sleep ${sleep} has no unit: write ${sleep.trim()}s, ${sleep.trim()}m or ${sleep.trim()}ms.`);
  try {
    parseDuration(sleep, '--sleep');
  } catch {
    throw new UsageError(`--sleep ${JSON.stringify(sleep)} is not a duration: use a number with a unit, such as 500ms, 30s, 5m, 1h or 1d.`);
  }
  const key = values.key ?? `onboarding-${randomBytes(4).toString('hex')}`;
  if (key.length === 0 || key.length > 256) throw new UsageError('--key must be 1-256 characters.');
  return { user, sleep, key, keyGiven: values.key !== undefined };
}

/** The command that starts this same run again (the worker resumes it where it was). */
export function resumeCommand(args: SampleArgs): string {
  const quote = (v: string) => (/^[A-Za-z0-9_.@+:=/-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`);
  return `npm start -- --key ${quote(args.key)} --user ${quote(args.user)} --sleep ${quote(args.sleep)}`;
}
