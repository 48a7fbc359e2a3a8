import { QueryCommand, TransactWriteItemsCommand, type AttributeValue, type TransactWriteItem, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { FINISHED_STATUSES, type RunStatus } from '@durably/contracts';
import { N, S, key, num, str, type Dynamo, type Item } from './dynamo.js';
import { INDEX, RUN_SK, finishedKey, hookPk, idempotencyPk } from './keys.js';

/**
 * Retention. Finished runs are found oldest first through the sparse `gfin` index (`fk` shard,
 * `fa` finishedAt). Each run's partition is read whole; every item but the run item is deleted first
 * (with the hook entries its pointers name), then the run item and its idempotency item together. A
 * crash part-way leaves the run item, so the next pass finds the run again and finishes the job.
 */
export async function deleteFinishedRuns(db: Dynamo, finishedBefore: number, limit: number, shards: number): Promise<number> {
  if (limit <= 0) return 0;
  const perShard = await Promise.all(
    Array.from({ length: shards }, async (_, n) => {
      const out = await db.send<{ Items?: Item[] }>(
        'find finished runs',
        new QueryCommand({
          TableName: db.table,
          IndexName: INDEX.finished,
          KeyConditionExpression: '#fk = :k AND #fa < :before',
          ExpressionAttributeNames: { '#fk': 'fk', '#fa': 'fa' },
          ExpressionAttributeValues: { ':k': S(finishedKey(n)), ':before': N(finishedBefore) },
          Limit: limit,
        }),
      );
      return out.Items ?? [];
    }),
  );
  const doomed = perShard
    .flat()
    .sort((a, b) => Number(a.fa.N) - Number(b.fa.N))
    .slice(0, limit);
  let deleted = 0;
  for (let i = 0; i < doomed.length; i += 4) {
    const results = await Promise.all(doomed.slice(i, i + 4).map((c) => deleteRun(db, c.pk, finishedBefore)));
    deleted += results.filter(Boolean).length;
  }
  return deleted;
}

async function deleteRun(db: Dynamo, pk: AttributeValue, finishedBefore: number): Promise<boolean> {
  const items = await db.queryAll('read a finished run', { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true });
  const run = items.find((i) => i.sk.S === RUN_SK);
  if (!run) return false;
  const fa = num(run, 'fa');
  if (fa === undefined || fa >= finishedBefore || !FINISHED_STATUSES.has(str(run, 's') as RunStatus)) return false;
  const requests: WriteRequest[] = [];
  for (const item of items) {
    if (item.sk.S === RUN_SK) continue;
    const sk = item.sk.S!;
    if (sk.startsWith('H#')) requests.push({ DeleteRequest: { Key: key(hookPk(sk.slice(2)), 'H') } });
    requests.push({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } });
  }
  await db.batchWrite('delete a finished run', requests);
  const last: TransactWriteItem[] = [{ Delete: { TableName: db.table, Key: { pk, sk: S(RUN_SK) } } }];
  const ik = str(run, 'ik');
  if (ik !== undefined) {
    // Only this run's key: a later run may hold the same (workflow, key) if this one's was freed.
    last.push({
      Delete: {
        TableName: db.table,
        Key: key(idempotencyPk(str(run, 'wn') ?? str(run, 'wf')!, ik), 'K'),
        ConditionExpression: 'attribute_not_exists(#id) OR #id = :id',
        ExpressionAttributeNames: { '#id': 'id' },
        ExpressionAttributeValues: { ':id': S(str(run, 'id')!) },
      },
    });
  }
  try {
    await db.send('delete a finished run', new TransactWriteItemsCommand({ TransactItems: last }), ['TransactionCanceledException']);
  } catch (err) {
    if ((err as { name?: string }).name !== 'TransactionCanceledException') throw err;
    // The key belongs to another run now: delete the run item alone.
    await db.batchWrite('delete a finished run', [{ DeleteRequest: { Key: { pk, sk: S(RUN_SK) } } }]);
  }
  return true;
}
