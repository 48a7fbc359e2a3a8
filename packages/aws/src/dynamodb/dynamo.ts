import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  type AttributeValue,
  type TransactWriteItem,
  type ConsumedCapacity,
  type DynamoDBClient,
  type QueryCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { DurablyError, StorageError } from '@durably/contracts';

export type Item = Record<string, AttributeValue>;
export type Key = { pk: AttributeValue; sk: AttributeValue };

/** Capacity units and requests this storage has used, as DynamoDB reported them (ReturnConsumedCapacity). */
export interface CapacityUsage {
  /** Read units (RCU/RRU) of GetItem, Query, BatchGetItem. */
  readUnits: number;
  /** Write units (WCU/WRU) of PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems, indexes included. */
  writeUnits: number;
  /** Requests sent, by operation (failed conditional writes included; DynamoDB charges them one write unit each). */
  requests: Record<string, number>;
  /** Conditional writes and transactions refused by their condition (not in writeUnits). */
  conditionFailures: number;
}

const RETRYABLE_CANCELLATIONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The DynamoDB client of one storage, bound to its table: every call goes through `send`, which asks
 * for the consumed capacity, adds it up, and wraps driver errors in StorageError (naming the table
 * and where it is) unless the caller interprets them (condition failures, cancelled transactions).
 */
export class Dynamo {
  readonly usage: CapacityUsage = { readUnits: 0, writeUnits: 0, requests: {}, conditionFailures: 0 };
  closed = false;

  constructor(
    readonly client: DynamoDBClient,
    readonly table: string,
    /** "region eu-west-1" or "http://127.0.0.1:8000", for error messages. */
    readonly where: string,
  ) {}

  wrap(what: string, err: unknown): Error {
    if (err instanceof DurablyError) return err;
    const e = err as { name?: string; message?: string };
    return new StorageError(`DynamoDB table "${this.table}" (${this.where}) failed to ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`, { cause: err });
  }

  /**
   * Sends a command with ReturnConsumedCapacity. Errors named in `pass` are rethrown as they are (the
   * caller reads them: ConditionalCheckFailedException, TransactionCanceledException); others are wrapped.
   */
  async send<O>(what: string, command: { input: object; constructor: { name: string } }, pass: string[] = []): Promise<O> {
    if (this.closed) throw new StorageError(`This DynamoStorage (table "${this.table}") is closed.`);
    const op = command.constructor.name.replace(/Command$/, '');
    (command.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity ??= 'TOTAL';
    this.usage.requests[op] = (this.usage.requests[op] ?? 0) + 1;
    try {
      const out = (await this.client.send(command as never)) as unknown as O & { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] };
      this.count(op, out.ConsumedCapacity);
      return out;
    } catch (err) {
      const name = (err as { name?: string }).name ?? '';
      if (name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException') this.usage.conditionFailures++;
      if (pass.includes(name)) throw err;
      throw this.wrap(what, err);
    }
  }

  private count(op: string, consumed: ConsumedCapacity | ConsumedCapacity[] | undefined): void {
    if (!consumed) return;
    const units = (Array.isArray(consumed) ? consumed : [consumed]).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
    if (READS.has(op)) this.usage.readUnits += units;
    else this.usage.writeUnits += units;
  }

  /**
   * One TransactWriteItems. A transaction cancelled only because another transaction was busy with one
   * of its items (TransactionConflict) or by throttling is tried again after a jittered pause; any other
   * cancellation (a condition that failed) is thrown as TransactionCanceledException for the caller.
   */
  async transact(what: string, items: TransactWriteItem[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.send(what, new TransactWriteItemsCommand({ TransactItems: items }), ['TransactionCanceledException', 'TransactionConflictException']);
        return;
      } catch (err) {
        const codes = cancellationCodes(err) ?? [];
        const busy =
          (err as { name?: string }).name === 'TransactionConflictException' ||
          (codes.some((c) => RETRYABLE_CANCELLATIONS.has(c)) && !codes.includes('ConditionalCheckFailed'));
        if (busy && attempt < 10) {
          await sleep(Math.min(10 * 2 ** attempt, 500) * (0.5 + Math.random()));
          continue;
        }
        if (busy) throw this.wrap(what, err);
        throw err;
      }
    }
  }

  /** Every page of a Query (or up to `max` items). */
  async queryAll(what: string, input: Omit<QueryCommandInput, 'TableName'>, max = Infinity): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.send<{ Items?: Item[]; LastEvaluatedKey?: Item }>(what, new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start && items.length < max);
    return items;
  }

  /** Writes and deletes in batches of 25, retrying what DynamoDB left unprocessed (throttling). */
  async batchWrite(what: string, requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      let pending: WriteRequest[] = requests.slice(i, i + 25);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt > 10) throw this.wrap(what, new Error(`${pending.length} writes stayed unprocessed after ${attempt} attempts (throttled)`));
          await sleep(Math.min(50 * 2 ** attempt, 2000) * (0.5 + Math.random()));
        }
        const out = await this.send<{ UnprocessedItems?: Record<string, WriteRequest[]> }>(what, new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
        pending = out.UnprocessedItems?.[this.table] ?? [];
      }
    }
  }

  /** Reads items by key in batches of 100 (eventually consistent unless `consistent`); missing ones are left out. */
  async batchGet(what: string, keys: Key[], consistent = false): Promise<Item[]> {
    const found: Item[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Key[] = keys.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt > 10) throw this.wrap(what, new Error(`${pending.length} reads stayed unprocessed after ${attempt} attempts (throttled)`));
          await sleep(Math.min(50 * 2 ** attempt, 2000) * (0.5 + Math.random()));
        }
        const out = await this.send<{ Responses?: Record<string, Item[]>; UnprocessedKeys?: Record<string, { Keys?: Item[] }> }>(
          what,
          new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: consistent } } }),
        );
        found.push(...(out.Responses?.[this.table] ?? []));
        pending = (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as Key[];
      }
    }
    return found;
  }
}

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });
export const key = (pk: string, sk: string): Key => ({ pk: S(pk), sk: S(sk) });
export const str = (item: Item | undefined, name: string): string | undefined => item?.[name]?.S;
export const num = (item: Item | undefined, name: string): number | undefined => (item?.[name]?.N === undefined ? undefined : Number(item[name].N));

export function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string }).name === 'ConditionalCheckFailedException';
}

/** The cancellation reason codes of a cancelled transaction, one per item ('None' where that item was fine). */
export function cancellationCodes(err: unknown): string[] | undefined {
  if ((err as { name?: string }).name !== 'TransactionCanceledException') return undefined;
  return ((err as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? []).map((r) => r.Code ?? 'None');
}

export function cancellationItems(err: unknown): Array<Item | undefined> {
  return ((err as { CancellationReasons?: Array<{ Item?: Item }> }).CancellationReasons ?? []).map((r) => r.Item);
}
