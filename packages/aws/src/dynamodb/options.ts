import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError } from '@durably/contracts';

/**
 * Options of `new DynamoStorage(...)` / `DynamoStorage.create(...)`; a `dynamodb://TABLE?region=..`
 * URL sets `table`, `region`, `endpoint` and `createTable`. Credentials come from the SDK's usual chain
 * (environment, profile, role) or from the `client` you pass. The constructor throws
 * `InvalidArgumentError` for a bad table name or `shards` outside 1-64.
 *
 * @example
 * ```ts
 * import { DynamoStorage } from '@durably/aws';
 *
 * const storage = await DynamoStorage.create({ table: 'durably', region: 'eu-west-1' });
 * ```
 */
export interface DynamoStorageOptions {
  /** Table name (3-255 of letters, digits, "_", "-", "."). Created by migrate() unless `createTable` is false. */
  table: string;
  /** A DynamoDBClient you already have (its region, credentials, retries are used); close() leaves it open. */
  client?: DynamoDBClient;
  /** Region of the client the storage creates (default: the SDK's, from AWS_REGION or the profile). */
  region?: string;
  /** Endpoint of the client the storage creates, for DynamoDB Local (`http://127.0.0.1:8000`). */
  endpoint?: string;
  /** Let migrate() create the table (on-demand capacity) and add missing indexes. Default true. */
  createTable?: boolean;
  /** Shards of the spread indexes (status, all runs, timers, schedules, retention) when migrate() creates the table. Default 4. */
  shards?: number;
  /** How long migrate() waits for a new table or index to become active. Default 5 minutes. */
  tableWaitMs?: number;
}

const TABLE = /^[A-Za-z0-9_.-]{3,255}$/;

export function checkTable(table: string): string {
  if (typeof table !== 'string' || !TABLE.test(table)) {
    throw new InvalidArgumentError(`DynamoDB table name ${JSON.stringify(table)} is invalid: use 3-255 letters, digits, "_", "-" and ".".`);
  }
  return table;
}

export function checkShards(shards: number): number {
  if (!Number.isInteger(shards) || shards < 1 || shards > 64) throw new InvalidArgumentError(`DynamoDB storage: "shards" must be a whole number from 1 to 64, got ${shards}.`);
  return shards;
}

/**
 * `dynamodb://TABLE?region=eu-west-1&endpoint=http://127.0.0.1:8000&shards=4&create=false`. Credentials
 * come from the SDK's usual chain (environment, profile, container or instance role), never the URL.
 */
export function storageOptionsFromUrl(url: string): DynamoStorageOptions {
  const match = /^dynamodb:\/\/([^/?#]+)\/?(\?[^#]*)?$/i.exec(url);
  if (!match) throw new InvalidArgumentError(`Invalid DynamoDB URL "${url}": use dynamodb://TABLE?region=REGION (and &endpoint=http://host:port for DynamoDB Local).`);
  const params = new URLSearchParams(match[2] ?? '');
  const known = new Set(['region', 'endpoint', 'shards', 'create']);
  for (const name of params.keys()) {
    if (!known.has(name)) throw new InvalidArgumentError(`Unknown parameter "${name}" in DynamoDB URL "${url}". Known: ${[...known].join(', ')}.`);
  }
  const options: DynamoStorageOptions = { table: checkTable(decodeURIComponent(match[1])) };
  if (params.get('region')) options.region = params.get('region')!;
  if (params.get('endpoint')) options.endpoint = params.get('endpoint')!;
  if (params.get('shards')) options.shards = checkShards(Number(params.get('shards')));
  const create = params.get('create');
  if (create !== null) {
    if (create !== 'true' && create !== 'false') throw new InvalidArgumentError(`DynamoDB URL "${url}": create must be true or false, got "${create}".`);
    options.createTable = create === 'true';
  }
  return options;
}

/** The client to use, whether the storage owns it (and so destroys it on close), and where it points. */
export function openClient(options: DynamoStorageOptions): { client: DynamoDBClient; owned: boolean; where: string } {
  if (options.client) return { client: options.client, owned: false, where: options.endpoint ?? (options.region ? `region ${options.region}` : 'the given DynamoDBClient') };
  // A few more attempts than the SDK's 3: on-demand tables throttle briefly when traffic jumps. More
  // sockets than the SDK's 50: a busy worker has more calls in flight (keep-alive is on by default).
  const agent = { keepAlive: true, maxSockets: 256 };
  const client = new DynamoDBClient({ region: options.region, endpoint: options.endpoint, maxAttempts: 6, requestHandler: { httpAgent: agent, httpsAgent: agent } });
  return { client, owned: true, where: options.endpoint ?? `region ${options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '(SDK default)'}` };
}
