import {
  CreateTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateTableCommand,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { StorageError } from '@durably/contracts';
import { N, S, key, num, type Dynamo } from './dynamo.js';
import { INDEX, META_PK, SCHEMA_VERSION } from './keys.js';

const ATTRIBUTES: AttributeDefinition[] = [
  { AttributeName: 'pk', AttributeType: 'S' },
  { AttributeName: 'sk', AttributeType: 'S' },
  { AttributeName: 'ck', AttributeType: 'S' },
  { AttributeName: 'wf', AttributeType: 'S' },
  { AttributeName: 'st', AttributeType: 'S' },
  { AttributeName: 'al', AttributeType: 'S' },
  { AttributeName: 'pr', AttributeType: 'S' },
  { AttributeName: 'tg', AttributeType: 'S' },
  { AttributeName: 'dk', AttributeType: 'S' },
  { AttributeName: 'dt', AttributeType: 'N' },
  { AttributeName: 'fk', AttributeType: 'S' },
  { AttributeName: 'fa', AttributeType: 'N' },
];

const gsi = (IndexName: string, hash: string, range: string, include?: string[]): GlobalSecondaryIndex => ({
  IndexName,
  KeySchema: [
    { AttributeName: hash, KeyType: 'HASH' },
    { AttributeName: range, KeyType: 'RANGE' },
  ],
  // Keys only (or an attribute that never changes after the item is written): an append then writes
  // no index unless the status changes. Records are read from the table.
  Projection: include ? { ProjectionType: 'INCLUDE', NonKeyAttributes: include } : { ProjectionType: 'KEYS_ONLY' },
});

/** The indexes of schema version 1 (see keys.ts for what each serves). */
export const INDEXES: GlobalSecondaryIndex[] = [
  gsi(INDEX.workflow, 'wf', 'ck'),
  gsi(INDEX.status, 'st', 'ck', ['wf']),
  gsi(INDEX.all, 'al', 'ck'),
  gsi(INDEX.parent, 'pr', 'ck'),
  gsi(INDEX.tag, 'tg', 'ck'),
  gsi(INDEX.due, 'dk', 'dt'),
  gsi(INDEX.finished, 'fk', 'fa'),
];

export interface TableOptions {
  /** Create the table (on-demand capacity) or add missing indexes when needed. Default true. */
  create: boolean;
  /** Shards of the spread indexes, fixed when the table is set up. */
  shards: number;
  /** How long to wait for a new table or index to become active. */
  waitMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function describe(db: Dynamo): Promise<TableDescription | undefined> {
  try {
    const out = await db.send<{ Table?: TableDescription }>('describe the table', new DescribeTableCommand({ TableName: db.table }), ['ResourceNotFoundException']);
    return out.Table;
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

function ready(t: TableDescription | undefined): boolean {
  return t?.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
}

async function waitActive(db: Dynamo, waitMs: number): Promise<TableDescription> {
  const deadline = Date.now() + waitMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 2000)) {
    const t = await describe(db);
    if (ready(t)) return t!;
    if (Date.now() > deadline) throw new StorageError(`DynamoDB table "${db.table}" (${db.where}) did not become active within ${waitMs} ms (status ${t?.TableStatus ?? 'missing'}).`);
    await sleep(delay);
  }
}

/**
 * Creates the table with on-demand capacity and every index, or checks an existing one (created by
 * hand, by CloudFormation or Terraform) and adds indexes it lacks. Safe to run from many processes at
 * once: a CreateTable that loses the race waits for the winner's table. Returns the shard count
 * stored in the table's META item, which every client then uses.
 */
export async function migrateTable(db: Dynamo, options: TableOptions): Promise<number> {
  let table = await describe(db);
  if (!table) {
    if (!options.create) throw new StorageError(`DynamoDB table "${db.table}" (${db.where}) does not exist, and table creation is off (create=false). Create it as docs/backends/aws.md shows, or allow creation.`);
    try {
      await db.send(
        'create the table',
        new CreateTableCommand({
          TableName: db.table,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: ATTRIBUTES,
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: INDEXES,
        }),
        ['ResourceInUseException'],
      );
    } catch (err) {
      if ((err as { name?: string }).name !== 'ResourceInUseException') throw err;
    }
  }
  table = await waitActive(db, options.waitMs);
  const keys = (table.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  if (keys !== 'pk:HASH,sk:RANGE') {
    throw new StorageError(`DynamoDB table "${db.table}" (${db.where}) has the key schema ${keys}; Durably needs pk (HASH, string) and sk (RANGE, string). Use another table.`);
  }
  const present = new Set((table.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of INDEXES.filter((i) => !present.has(i.IndexName))) {
    if (!options.create) throw new StorageError(`DynamoDB table "${db.table}" (${db.where}) lacks the index ${index.IndexName}, and table changes are off (create=false). Add it as docs/backends/aws.md shows.`);
    try {
      await db.send('add an index', new UpdateTableCommand({ TableName: db.table, AttributeDefinitions: ATTRIBUTES, GlobalSecondaryIndexUpdates: [{ Create: index }] }), ['ResourceInUseException', 'ValidationException', 'LimitExceededException']);
    } catch (err) {
      // Another process is adding it (or another index) right now: wait and look again.
      if (!['ResourceInUseException', 'ValidationException', 'LimitExceededException'].includes((err as { name?: string }).name ?? '')) throw err;
    }
    await waitActive(db, options.waitMs);
  }
  return meta(db, options.shards);
}

/** Writes the META item once (first writer wins) and returns the stored shard count. */
async function meta(db: Dynamo, shards: number): Promise<number> {
  try {
    await db.send(
      'write the schema version',
      new PutItemCommand({ TableName: db.table, Item: { ...key(META_PK, META_PK), v: N(SCHEMA_VERSION), shards: N(shards), by: S('@durably/aws') }, ConditionExpression: 'attribute_not_exists(pk)' }),
      ['ConditionalCheckFailedException'],
    );
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
  }
  return readMeta(db);
}

export async function readMeta(db: Dynamo): Promise<number> {
  const out = await db.send<{ Item?: Record<string, { N?: string }> }>('read the schema version', new GetItemCommand({ TableName: db.table, Key: key(META_PK, META_PK), ConsistentRead: true }));
  const version = num(out.Item as never, 'v');
  if (version === undefined) throw new StorageError(`DynamoDB table "${db.table}" (${db.where}) is not set up for Durably: run migrate() (or "durably migrate") first.`);
  if (version > SCHEMA_VERSION) {
    throw new StorageError(`DynamoDB table "${db.table}" (${db.where}) has Durably schema version ${version}, newer than this @durably/aws understands (${SCHEMA_VERSION}). Upgrade @durably/aws.`);
  }
  return num(out.Item as never, 'shards') ?? 4;
}
