import { RabbitMQBroker } from '@durably/rabbitmq';
import { AMQP_URL, BACKENDS, percentile, type Backend, type Row } from './shapes.js';

/**
 * RabbitMQ is a broker only: it is measured beside a storage, Postgres (one server each) and the
 * local SQLite file (a worker's disk and a RabbitMQ). Each run gets a prefix of its own, deleted after.
 */
function withRabbit(name: string, storageSide: Backend): Backend {
  return {
    name,
    open() {
      const side = storageSide.open();
      void side.broker.close();
      const prefix = `durably-bench-${Math.random().toString(36).slice(2, 10)}`;
      const broker = new RabbitMQBroker({ url: AMQP_URL, prefix });
      return {
        storage: side.storage,
        broker,
        bytes: side.bytes,
        close: async () => {
          await side.close();
          const janitor = new RabbitMQBroker({ url: AMQP_URL, prefix });
          try {
            await janitor.dropTopology(broker.usedQueues);
          } finally {
            await janitor.close();
          }
        },
      };
    },
  };
}

BACKENDS['postgres+rabbitmq'] = withRabbit('postgres+rabbitmq', BACKENDS.postgres);
BACKENDS['local+rabbitmq'] = withRabbit('local+rabbitmq', BACKENDS.local);

/**
 * B3, the delay ladder alone (no engine): lateness of messages delayed through RabbitMQBroker, past
 * their delay, measured at the consumer. `together` messages are published at once per delay: 10 shows
 * the precision of a delay, 1,000 the cost of a burst (one durable write per message per level).
 */
export async function ladder(delays: number[], together: number): Promise<Row[]> {
  const prefix = `durably-bench-${Math.random().toString(36).slice(2, 10)}`;
  const broker = new RabbitMQBroker({ url: AMQP_URL, prefix });
  const late = new Map<number, number[]>(delays.map((d) => [d, []]));
  const sentAt = new Map<string, number>();
  try {
    await broker.migrate();
    const sub = await broker.consume('ladder', async (d) => {
      const delay = Number(d.body.split(':')[0]);
      late.get(delay)!.push(Date.now() - sentAt.get(d.body)! - delay);
    }, { concurrency: 64 });
    await Promise.all(
      delays.flatMap((delay) =>
        Array.from({ length: together }, async (_, i) => {
          const body = `${delay}:${i}`;
          sentAt.set(body, Date.now());
          await broker.publish('ladder', body, { delayMs: delay });
        }),
      ),
    );
    const deadline = Date.now() + Math.max(...delays) + 60_000;
    while ([...late.values()].some((l) => l.length < together) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await sub.stop();
    return delays.flatMap((delay) => {
      const sorted = late.get(delay)!.sort((a, b) => a - b);
      const bits = delay.toString(2).split('').filter((b) => b === '1').length;
      const row = (metric: string, value: number): Row => ({ shape: 'B3', system: 'durably', backend: 'rabbitmq ladder', mode: `${together} x ${delay} ms (${bits} levels)`, metric, value, unit: 'ms' });
      return [row('lateness_p50_ms', percentile(sorted, 50)), row('lateness_p99_ms', percentile(sorted, 99)), row('lateness_max_ms', sorted.at(-1) ?? NaN)];
    });
  } finally {
    await broker.dropTopology().catch(() => undefined);
    await broker.close();
  }
}
