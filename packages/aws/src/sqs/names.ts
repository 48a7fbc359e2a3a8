import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@durably/contracts';

/**
 * SQS queue names are at most 80 characters of letters, digits, "-" and "_" (".fifo" ends a FIFO
 * queue's); Durably queue names also have "." and are up to 100 long. The mapping is one to one:
 *
 *   <prefix>_<queue with "_" written "__" and "." written "_-">[_dlq][.fifo]
 *
 * The prefix has no "_", so the first "_" ends it; in the encoded queue every "_" starts "__" or "_-",
 * so "_dlq" and "_h<hash>" (a name too long for SQS: its start, then a hash of the whole) can never be
 * read as part of a queue name.
 */
export const PREFIX = /^[A-Za-z0-9-]{1,40}$/;

export function checkPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new InvalidArgumentError(`SQS queue prefix ${JSON.stringify(prefix)} is invalid: use 1-40 letters, digits and "-".`);
  }
  return prefix;
}

const encode = (queue: string) => queue.replace(/[_.]/g, (c) => (c === '_' ? '__' : '_-'));

/**
 * The SQS queue name that holds Durably queue `queue` under `prefix` (`dlq`: its dead-letter queue;
 * `fifo`: the `.fifo` form): `<prefix>_<queue>`, with `_` written `__` and `.` written `_-`, so that
 * distinct queues never share a name. A name past SQS's 80 characters keeps its start and ends with
 * a hash of the whole. Use it to find a queue in the AWS console or to grant access to it.
 *
 * @example
 * ```ts
 * import { sqsQueueName } from '@durably/aws';
 *
 * sqsQueueName('orders-prod', 'durably.default'); // 'orders-prod_durably_-default'
 * sqsQueueName('orders-prod', 'durably.default', { dlq: true }); // 'orders-prod_durably_-default_dlq'
 * ```
 */
export function sqsQueueName(prefix: string, queue: string, options: { dlq?: boolean; fifo?: boolean } = {}): string {
  const suffix = `${options.dlq ? '_dlq' : ''}${options.fifo ? '.fifo' : ''}`;
  const encoded = encode(queue);
  const full = `${prefix}_${encoded}${suffix}`;
  if (full.length <= 80) return full;
  const hash = `_h${createHash('sha256').update(queue).digest('hex').slice(0, 16)}`;
  let head = encoded.slice(0, 80 - prefix.length - 1 - hash.length - suffix.length);
  // Do not cut an escape in two.
  if (/(^|[^_])(__)*_$/.test(head)) head = head.slice(0, -1);
  return `${prefix}_${head}${hash}${suffix}`;
}
