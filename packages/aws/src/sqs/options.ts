import { SQSClient } from '@aws-sdk/client-sqs';
import { InvalidArgumentError } from '@durably/contracts';
import { checkPrefix } from './names.js';

/**
 * Options of `new SqsBroker(...)`; an `sqs://PREFIX?region=..&fifo=true&wait=20&maxReceiveCount=25`
 * URL sets the same. Credentials come from the SDK's usual chain or from the `client` you pass.
 * Throws `InvalidArgumentError` for a bad prefix, `waitSeconds` or `maxReceiveCount`.
 *
 * @example
 * ```ts
 * import { SqsBroker } from '@durably/aws';
 *
 * const broker = new SqsBroker({ prefix: 'orders-prod', region: 'eu-west-1' });
 * await broker.migrate(); // creates the queues it needs
 * ```
 */
export interface SqsBrokerOptions {
  /** Prefix of every queue this broker creates and uses (1-40 letters, digits, "-"): one per app or environment. */
  prefix: string;
  /** An SQSClient you already have; close() leaves it open. */
  client?: SQSClient;
  /** Region of the client the broker creates (default: the SDK's, from AWS_REGION or the profile). */
  region?: string;
  /** Endpoint of the client the broker creates, for an emulator (`http://127.0.0.1:4566`). */
  endpoint?: string;
  /** FIFO queues instead of standard ones (exactly-once sends within 5 minutes, lower throughput). Default false. */
  fifo?: boolean;
  /** Long-poll wait of each ReceiveMessage, 1-20 s. Default 20 (the fewest empty receives). */
  waitSeconds?: number;
  /**
   * SQS's own redrive: a message received this many times goes to the dead-letter queue without Durably
   * (the backstop for a message whose handler keeps killing its process). Must exceed every consumer's
   * maxDeliveries, which dead-letters failing handlers first, with their error. Default 25.
   */
  maxReceiveCount?: number;
  /** Delay before redelivering a message whose handler threw (rounded up to whole seconds). Default min(100 ms x 2^(n-1), 5 s). */
  retryBackoffMs?: (deliveryCount: number) => number;
}

/** `sqs://PREFIX?region=eu-west-1&endpoint=http://127.0.0.1:4566&fifo=true&wait=20&maxReceiveCount=25`. */
export function brokerOptionsFromUrl(url: string): SqsBrokerOptions {
  const match = /^sqs:\/\/([^/?#]+)\/?(\?[^#]*)?$/i.exec(url);
  if (!match) throw new InvalidArgumentError(`Invalid SQS URL "${url}": use sqs://QUEUE_PREFIX?region=REGION (and &endpoint=http://host:port for an emulator).`);
  const params = new URLSearchParams(match[2] ?? '');
  const known = new Set(['region', 'endpoint', 'fifo', 'wait', 'maxReceiveCount']);
  for (const name of params.keys()) {
    if (!known.has(name)) throw new InvalidArgumentError(`Unknown parameter "${name}" in SQS URL "${url}". Known: ${[...known].join(', ')}.`);
  }
  const options: SqsBrokerOptions = { prefix: checkPrefix(decodeURIComponent(match[1])) };
  if (params.get('region')) options.region = params.get('region')!;
  if (params.get('endpoint')) options.endpoint = params.get('endpoint')!;
  const fifo = params.get('fifo');
  if (fifo !== null) {
    if (fifo !== 'true' && fifo !== 'false') throw new InvalidArgumentError(`SQS URL "${url}": fifo must be true or false, got "${fifo}".`);
    options.fifo = fifo === 'true';
  }
  if (params.get('wait')) options.waitSeconds = Number(params.get('wait'));
  if (params.get('maxReceiveCount')) options.maxReceiveCount = Number(params.get('maxReceiveCount'));
  return options;
}

export function checkBrokerOptions(options: SqsBrokerOptions): Required<Pick<SqsBrokerOptions, 'waitSeconds' | 'maxReceiveCount'>> {
  checkPrefix(options.prefix);
  const waitSeconds = options.waitSeconds ?? 20;
  if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 20) throw new InvalidArgumentError(`SQS broker: "waitSeconds" must be a whole number from 1 to 20, got ${waitSeconds}.`);
  const maxReceiveCount = options.maxReceiveCount ?? 25;
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 2 || maxReceiveCount > 1000) throw new InvalidArgumentError(`SQS broker: "maxReceiveCount" must be a whole number from 2 to 1000, got ${maxReceiveCount}.`);
  return { waitSeconds, maxReceiveCount };
}

export function openSqs(options: SqsBrokerOptions): { client: SQSClient; owned: boolean; where: string } {
  if (options.client) return { client: options.client, owned: false, where: options.endpoint ?? (options.region ? `region ${options.region}` : 'the given SQSClient') };
  // Long polls hold a socket each for up to 20 s: more sockets than the SDK's 50.
  const agent = { keepAlive: true, maxSockets: 256 };
  const client = new SQSClient({ region: options.region, endpoint: options.endpoint, maxAttempts: 6, requestHandler: { httpAgent: agent, httpsAgent: agent } });
  return { client, owned: true, where: options.endpoint ?? `region ${options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '(SDK default)'}` };
}
