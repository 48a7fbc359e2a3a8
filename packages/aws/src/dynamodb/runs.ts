import { DeleteItemCommand, GetItemCommand, QueryCommand, UpdateItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { StorageError, type CreateRunResult, type NewRun, type RunRecord } from '@durably/contracts';
import { dropBlobs, stageBlobs } from './blobs.js';
import { decodeRun, hasChunks, newRunItem } from './codec.js';
import { N, S, cancellationCodes, cancellationItems, isConditionFailure, key, str, type Dynamo, type Item } from './dynamo.js';
import { encodeEvents } from './events.js';
import { RUN_SK, createdKey, idempotencyPk, runPk, tagKey, tagSk } from './keys.js';

/**
 * The run holding an idempotency key: the key item (strongly consistent) names it. A key item whose
 * run is gone (a create that lost its run write, or retention between the two reads) finds nothing.
 */
export async function getRunByKey(db: Dynamo, workflow: string, idempotencyKey: string): Promise<RunRecord | undefined> {
  const out = await db.send<{ Item?: Item }>('read an idempotency key', new GetItemCommand({ TableName: db.table, Key: key(idempotencyPk(workflow, idempotencyKey), 'K'), ConsistentRead: true }));
  const runId = out.Item ? str(out.Item, 'id') : undefined;
  if (runId === undefined) return undefined;
  const run = await getRun(db, runId);
  return run?.workflow === workflow && run.idempotencyKey === idempotencyKey ? run : undefined;
}

/** The run record with its chunks: one strongly consistent Query of `begins_with(sk, "R")`. */
export async function getRun(db: Dynamo, runId: string): Promise<RunRecord | undefined> {
  const out = await db.send<{ Items?: Item[]; LastEvaluatedKey?: Item }>(
    'read a run',
    new QueryCommand({
      TableName: db.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :r)',
      ExpressionAttributeValues: { ':pk': S(runPk(runId)), ':r': S(RUN_SK) },
      ConsistentRead: true,
    }),
  );
  let items = out.Items ?? [];
  // Only runs with large values have chunks past the first 1 MB page.
  if (out.LastEvaluatedKey) items = await db.queryAll('read a run', { KeyConditionExpression: 'pk = :pk AND begins_with(sk, :r)', ExpressionAttributeValues: { ':pk': S(runPk(runId)), ':r': S(RUN_SK) }, ConsistentRead: true });
  return decodeRun(items);
}

/** The record of a run item read on its own: complete unless it refers to chunks, which are then read. */
export async function recordOf(db: Dynamo, item: Item): Promise<RunRecord | undefined> {
  return hasChunks(item) ? getRun(db, str(item, 'id')!) : decodeRun([item]);
}

/**
 * Creates a run in one transaction: the run item (if its pk is free), its first event, the
 * idempotency item (if its key is free) and the tag index items. Large arguments go to chunks first.
 * An existing run id or an existing (workflow, key) cancels the transaction with ConditionalCheckFailed
 * on that item, and its old image says which run exists: that run is returned with created: false.
 * Of two concurrent creates DynamoDB lets one commit; the other is cancelled and sees the winner.
 */
export async function createRun(db: Dynamo, run: NewRun, shards: number): Promise<CreateRunResult> {
  const pk = runPk(run.runId);
  const { item, blobs } = newRunItem(run, shards);
  const events = encodeEvents(pk, [{ ...run.firstEvent, seq: 1 } as NewRun['firstEvent']]);
  const staged = [...blobs, ...events.blobs];
  const tags = [...new Set(run.tags ?? [])].map(
    (tag): Item => ({ pk: S(pk), sk: S(tagSk(tag)), tg: S(tagKey(tag)), ck: S(createdKey(run.createdAt, run.runId)), id: S(run.runId) }),
  );
  const items: TransactWriteItem[] = [
    { Put: { TableName: db.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
    ...events.items.map((Item): TransactWriteItem => ({ Put: { TableName: db.table, Item } })),
  ];
  const keyIndex = run.idempotencyKey === undefined ? -1 : items.length;
  if (run.idempotencyKey !== undefined) {
    items.push({
      Put: {
        TableName: db.table,
        Item: { ...key(idempotencyPk(run.workflow, run.idempotencyKey), 'K'), id: S(run.runId), ca: N(run.createdAt) },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  }
  // Tag items pointing at a run that does not exist (yet, or ever) are skipped by listRuns: they may
  // be written ahead when they do not fit in the transaction.
  const inTx = tags.length + items.length <= 100 ? tags : [];
  items.push(...inTx.map((Item): TransactWriteItem => ({ Put: { TableName: db.table, Item } })));
  await stageBlobs(db, `create run ${run.runId}`, staged);
  if (inTx.length < tags.length) await db.batchWrite(`index the tags of run ${run.runId}`, tags.map((Item) => ({ PutRequest: { Item } })));

  for (let attempt = 0; ; attempt++) {
    try {
      await db.transact(`create run ${run.runId}`, items);
      return { run: decodeRun([item, ...blobs.flatMap((b) => b.items)])!, created: true };
    } catch (err) {
      const codes = cancellationCodes(err);
      if (!codes) throw err;
      await dropBlobs(db, staged);
      const old = cancellationItems(err);
      if (codes[0] === 'ConditionalCheckFailed') {
        const existing = await recordOf(db, old[0]!);
        if (existing) return { run: existing, created: false };
      } else if (keyIndex >= 0 && codes[keyIndex] === 'ConditionalCheckFailed') {
        const holder = str(old[keyIndex], 'id')!;
        const existing = await getRun(db, holder);
        if (existing) return { run: existing, created: false };
        // The key names a run that no longer exists (deleted by retention between two reads): free it.
        await db
          .send('free an idempotency key', new DeleteItemCommand({ TableName: db.table, Key: key(idempotencyPk(run.workflow, run.idempotencyKey!), 'K'), ConditionExpression: '#id = :id', ExpressionAttributeNames: { '#id': 'id' }, ExpressionAttributeValues: { ':id': S(holder) } }), ['ConditionalCheckFailedException'])
          .catch((e: unknown) => {
            if (!isConditionFailure(e)) throw e;
          });
      } else {
        throw db.wrap(`create run ${run.runId}`, err);
      }
      if (attempt >= 3) throw new StorageError(`Creating run ${run.runId} kept racing with retention of the run it duplicates; try again.`);
      await stageBlobs(db, `create run ${run.runId}`, staged);
    }
  }
}

/** Sets updatedAt of an existing run (a missing run is left alone: no item is created). */
export async function touchRun(db: Dynamo, runId: string, at: number): Promise<void> {
  try {
    await db.send(
      'touch a run',
      new UpdateItemCommand({
        TableName: db.table,
        Key: key(runPk(runId), RUN_SK),
        UpdateExpression: 'SET ua = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':at': N(at) },
      }),
      ['ConditionalCheckFailedException'],
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}
