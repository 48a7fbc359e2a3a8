/**
 * The delay ladder: delays with no plugin and no head-of-line blocking.
 *
 * RabbitMQ expires a message only at the head of its queue, so one queue holding several delays
 * delivers a short one behind a long one late. Here every delay queue holds one delay only (its
 * `x-message-ttl`): level i waits 2^i ms. A delay is written in binary, one routing-key word per level
 * from the highest down ("0.1.1.0. ... .1.<queue>"), and the message walks down the levels: at level
 * i, a topic exchange sends a "1" into the level's queue, which dead-letters it after 2^i ms to the
 * exchange of level i-1, and a "0" straight on to that exchange. Below level 0 an exchange routes on
 * the trailing queue name to the work queue. Each queue holds messages of equal TTL, so they expire
 * in arrival order and none waits behind another. The server does all of it: a delayed message
 * reaches no consumer before it is due, survives a restart in its (durable) delay queue, and costs
 * no client anything while it waits.
 *
 * Precision: never early (delays are rounded up to whole ms); late by the server's expiry latency
 * at each level the message waits in, about 2-5 ms per "1" bit on this machine (a 1 s delay has
 * six, so 10-25 ms; at most 28 levels). See docs/backends/rabbitmq.md for measurements.
 */

/** Levels of the ladder: the longest delay is 2^28 - 1 ms, about 3.1 days. Fixed: routing keys depend on it. */
export const DELAY_LEVELS = 28;
/**
 * The longest delay the broker gives a message itself: 2^28 - 1 ms, about 3.1 days (its `maxDelayMs`).
 * The engine covers longer sleeps and retries with durable timers, so no delay is refused.
 */
export const MAX_DELAY_MS = 2 ** DELAY_LEVELS - 1;

export interface DelayRoute {
  /** The level whose exchange takes the message first (its highest "1" bit). */
  entryLevel: number;
  /** Levels whose queue the message waits in. */
  waitLevels: number[];
  routingKey: string;
}

/** How a message for `queue` travels to wait `delayMs` (1 .. MAX_DELAY_MS, whole ms). */
export function delayRoute(delayMs: number, queue: string): DelayRoute {
  const delay = Math.min(MAX_DELAY_MS, Math.max(1, Math.ceil(delayMs)));
  const words: string[] = [];
  const waitLevels: number[] = [];
  for (let level = DELAY_LEVELS - 1; level >= 0; level--) {
    const bit = Math.floor(delay / 2 ** level) % 2;
    words.push(bit ? '1' : '0');
    if (bit) waitLevels.push(level);
  }
  return { entryLevel: waitLevels[0], waitLevels, routingKey: `${words.join('.')}.${queue}` };
}

/** Binding key, at level `level`'s exchange, for messages whose bit at that level is `bit`. */
export function levelPattern(level: number, bit: 0 | 1): string {
  return `${'*.'.repeat(DELAY_LEVELS - 1 - level)}${bit}.#`;
}

/** Binding key, at the exchange below level 0, of the work queue `queue`. */
export function duePattern(queue: string): string {
  return `${'*.'.repeat(DELAY_LEVELS)}${queue}`;
}
