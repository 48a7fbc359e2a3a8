/**
 * Bad-input table, options: durations, dates, cron strings and time zones that cannot be used.
 */
import { InvalidArgumentError, InvalidDurationError, RetryableError, step } from '@durably/core';
import type { BadInputCase } from './types.js';
import * as W from './workflows.js';

const DURATION_FIX = /Use milliseconds \(a non-negative number\) or an ms-style string such as "500ms", "30s", "5m", "1d"\./;

export const optionCases: BadInputCase[] = [
  {
    name: 'start({ delay: "soon" })',
    category: 'invalid duration',
    scope: 'engine',
    act: (env) => env.client.startWith(W.echo, [1], { delay: 'soon' }),
    errors: [InvalidDurationError],
    message: new RegExp(`Invalid duration for start\\(\\{ delay \\}\\): "soon"\\. ${DURATION_FIX.source}`),
  },
  {
    name: 'start({ delay: -5 })',
    category: 'invalid duration',
    scope: 'engine',
    act: (env) => env.client.startWith(W.echo, [1], { delay: -5 }),
    errors: [InvalidDurationError],
    message: /Invalid duration for start\(\{ delay \}\): -5\. Use milliseconds/,
  },
  {
    name: 'start({ startAt: new Date("nope") })',
    category: 'invalid duration',
    scope: 'engine',
    act: (env) => env.client.startWith(W.echo, [1], { startAt: new Date('nope') }),
    errors: [InvalidArgumentError],
    message: /start\(\): startAt is an invalid Date/,
  },
  {
    name: 'result({ timeout: "forever" })',
    category: 'invalid duration',
    scope: 'engine',
    act: (env) => env.client.getRun(env.seeded.completed).result({ timeout: 'forever' }),
    errors: [InvalidDurationError],
    message: /Invalid duration for result\(\{ timeout \}\): "forever"/,
  },
  {
    name: 'deleteFinishedRuns("a while"): nothing deleted',
    category: 'invalid duration',
    scope: 'storage',
    act: (env) => env.client.deleteFinishedRuns('a while'),
    errors: [InvalidDurationError],
    message: /Invalid duration for deleteFinishedRuns\(olderThan\): "a while"/,
  },
  {
    name: 'a step with timeout "5 parsecs"',
    category: 'invalid duration',
    scope: 'engine',
    act: async () => step('badinput.parsecs', async () => 1, { timeout: '5 parsecs' }),
    errors: [InvalidDurationError],
    message: /Invalid duration for step\("badinput\.parsecs"\): timeout: "5 parsecs"/,
  },
  {
    name: 'a step with timeout 0',
    category: 'invalid duration',
    scope: 'engine',
    act: async () => step('badinput.zero-timeout', async () => 1, { timeout: 0 }),
    errors: [InvalidArgumentError],
    message: /step\("badinput\.zero-timeout"\): "timeout" must be greater than 0, got 0/,
  },
  {
    name: 'RetryableError with retryAfter "later"',
    category: 'invalid duration',
    scope: 'engine',
    act: async () => new RetryableError('busy', { retryAfter: 'later' }),
    errors: [InvalidDurationError],
    message: /Invalid duration for retryAfter: "later"/,
  },
  {
    name: 'a schedule every "5ms"',
    category: 'invalid duration',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-too-often', W.echo, { every: '5ms' }),
    errors: [InvalidArgumentError],
    message: /schedule\(\): "every" must be at least 10 ms/,
  },
  {
    name: 'cron "61 * * * *" (minute out of range)',
    category: 'cron',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-cron-61', W.echo, { cron: '61 * * * *' }),
    errors: [InvalidArgumentError],
    message: /schedule\(\): cron "61 \* \* \* \*" is invalid: CronPattern: Invalid value for minute: 61\. Use 5 fields \(minute hour day-of-month month day-of-week\)/,
  },
  {
    name: 'cron "every day at noon" (not cron)',
    category: 'cron',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-cron-words', W.echo, { cron: 'every day at noon' }),
    errors: [InvalidArgumentError],
    message: /schedule\(\): cron "every day at noon" is invalid: .*exactly five or six space separated parts are required\. Use 5 fields/,
  },
  {
    name: 'cron "0 0 30 2 *" (February 30th never comes)',
    category: 'cron',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-cron-never', W.echo, { cron: '0 0 30 2 *' }),
    errors: [InvalidArgumentError],
    message: /cron "0 0 30 2 \*" never fires/,
  },
  {
    name: 'cron and every both given',
    category: 'cron',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-cron-both', W.echo, { cron: '0 * * * *', every: '1h' }),
    errors: [InvalidArgumentError],
    message: /give exactly one of "cron" \(with an optional "timezone"\), "calendar" \(with an optional "timezone"\) or "every"/,
  },
  {
    name: 'time zone "Mars/Olympus_Mons"',
    category: 'time zone',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-tz-mars', W.echo, { cron: '0 9 * * *', timezone: 'Mars/Olympus_Mons' }),
    errors: [InvalidArgumentError],
    message: /schedule\(\): time zone "Mars\/Olympus_Mons" is not an IANA time zone name\. Use one such as "UTC", "Europe\/Paris"/,
  },
  {
    name: 'time zone "UTC+25"',
    category: 'time zone',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-tz-25', W.echo, { cron: '0 9 * * *', timezone: 'UTC+25' }),
    errors: [InvalidArgumentError],
    message: /schedule\(\): time zone "UTC\+25" is not an IANA time zone name\./,
  },
  {
    name: 'a time zone with an interval schedule (it has no use there)',
    category: 'time zone',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-tz-every', W.echo, { every: '1h', timezone: 'Europe/Paris' }),
    errors: [InvalidArgumentError],
    message: /schedule\(\): "timezone" \("Europe\/Paris"\) applies to "cron" and "calendar"; an "every" interval does not depend on a time zone\. Remove "timezone", or use "cron"\./,
  },
];
