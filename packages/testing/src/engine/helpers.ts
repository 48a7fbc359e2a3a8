import type { Broker, DurablyEvent, PublishOptions } from '@durably/core';

/** The types of `events`, in order. */
export function types(events: DurablyEvent[]): string[] {
  return events.map((e) => e.type);
}

/** The events of one type, typed. */
export function ofType<K extends DurablyEvent['type']>(events: DurablyEvent[], type: K): Extract<DurablyEvent, { type: K }>[] {
  return events.filter((e): e is Extract<DurablyEvent, { type: K }> => e.type === type);
}

/**
 * A broker that silently drops the publishes `drop` selects (a lost message), and passes the rest,
 * with their options changed by `rewrite` if given (a late delay, say).
 */
export function wrapBroker(
  inner: Broker,
  drop: (queue: string, body: string, options?: PublishOptions) => boolean,
  rewrite: (options?: PublishOptions) => PublishOptions | undefined = (options) => options,
): Broker {
  return {
    get maxDelayMs() {
      return inner.maxDelayMs;
    },
    migrate: () => inner.migrate(),
    publish: async (queue, body, options) => {
      if (drop(queue, body, options)) return;
      await inner.publish(queue, body, rewrite(options));
    },
    consume: (queue, handler, options) => inner.consume(queue, handler, options),
    deadLetters: (queue, limit) => inner.deadLetters(queue, limit),
    close: () => inner.close(),
  };
}
