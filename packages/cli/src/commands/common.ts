import type { Command } from 'commander';
import { parseDuration } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';
import { Session } from '../session.js';

/** Wraps a command action: opens the session (config, logger, output), runs, closes the client. */
export function withSession<A extends unknown[]>(fn: (session: Session, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const session = await Session.open(command);
    try {
      await fn(session, ...(args.slice(0, -1) as A));
    } finally {
      await session.close();
    }
  };
}

/** Parses a JSON option value, or says which option is not JSON. */
export function parseJson(text: string, option: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${option} is not valid JSON (${(err as Error).message}). Quote it for your shell: ${option} '{"approved": true}'`, EXIT.usage);
  }
}

/** A point in time: an ISO date, or a duration meaning that long ago ("1h", "30d"). */
export function parseTime(text: string, option: string): number {
  if (/^\d+(\.\d+)?\s*[a-z]+$/i.test(text.trim())) {
    try {
      return Date.now() - parseDuration(text.trim(), option);
    } catch {
      // not a duration: try a date
    }
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new CliError(`${option} ${JSON.stringify(text)} is neither a date (2026-01-31T09:00:00Z) nor a duration ago (1h, 7d).`, EXIT.usage);
  return t;
}

export function parseDate(text: string, option: string): Date {
  return new Date(parseTime(text, option));
}

export function parsePositiveInt(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${option} must be a whole number >= 1, got ${JSON.stringify(text)}.`, EXIT.usage);
  return n;
}

/** Comma-separated or repeated values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`;
}
