import { GetItemCommand, QueryCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { AppendConflictError, RunNotFoundError, StorageError, type AppendRequest, type DurablyEvent } from '@durably/contracts';
import { dropStagedTimers, fitTimers, planAppend } from './append-plan.js';
import { dropBlobs, stageBlobs, type BlobRef } from './blobs.js';
import { S, cancellationCodes, cancellationItems, key, num, type Dynamo, type Item } from './dynamo.js';
import { decodeEvents } from './events.js';
import { EVENTS_END, RUN_SK, eventSk, runPk } from './keys.js';

/**
 * The conditional append: one TransactWriteItems whose first item updates the run item only if its
 * `ls` (lastSeq) still equals `expectedSeq`; the event items, timers, hook entries and slot releases
 * ride in the same transaction, so either all are written or none.
 *
 * DynamoDB allows 100 items and 4 MB per transaction. Large values are chunked and written first
 * (invisible until referred to); events are packed a few items per append (or into chunks when too
 * many); timers and hooks beyond the 100 items are split off safely (see planAppend).
 */
export async function append(db: Dynamo, request: AppendRequest, shards: number): Promise<void> {
  const { runId, expectedSeq, events } = request;
  events.forEach((e, i) => {
    if (e.seq !== expectedSeq + 1 + i) throw new StorageError(`Append to run ${runId}: event ${i} has seq ${e.seq}, expected ${expectedSeq + 1 + i}.`);
  });
  for (let attempt = 0; ; attempt++) {
    const slots = request.releaseSlots ? await heldSlots(db, runId) : undefined;
    const createdAt = attributesToIndex(request) ? await createdAtOf(db, runId) : undefined;
    const plan = planAppend(db, request, shards, slots, createdAt);
    await stageBlobs(db, `append to run ${runId}`, plan.before.blobs);
    if (plan.before.hooks.length) await db.batchWrite(`append to run ${runId}`, plan.before.hooks.map((Item) => ({ PutRequest: { Item } })));
    const staged = plan.overflowTimers.length ? await fitTimers(db, plan) : [];
    try {
      await db.transact(`append to run ${runId}`, [...plan.transaction, ...plan.txTimers.map((Item): TransactWriteItem => ({ Put: { TableName: db.table, Item } }))]);
    } catch (err) {
      const codes = cancellationCodes(err) ?? cancellationCodes((err as { cause?: unknown }).cause);
      if (!codes) throw err;
      await Promise.all([dropBlobs(db, plan.before.blobs), dropStagedTimers(db, staged, plan.token)]);
      if (codes[0] === 'ConditionalCheckFailed') {
        const old = cancellationItems(err)[0];
        if (!old) throw new RunNotFoundError(runId);
        const last = num(old, 'ls')!;
        if (last !== expectedSeq) throw new AppendConflictError(runId, expectedSeq, last);
        // The log still ends at expectedSeq but the run took a slot since its slots were read: read again.
        if (attempt < 5) continue;
      }
      // Still cancelled by other transactions on these items after the retries: another writer is
      // busy with this run; the caller re-reads and tries again as after a conflict.
      if (codes.includes('TransactionConflict')) throw new AppendConflictError(runId, expectedSeq);
      throw db.wrap(`append to run ${runId}`, err);
    }
    if (plan.after.length) await db.batchWrite(`clear timers of run ${runId}`, plan.after).catch(() => undefined);
    return;
  }
}

function attributesToIndex(request: AppendRequest): boolean {
  return Object.values(request.run?.attributes ?? {}).some((v) => v !== null);
}

/** The run's createdAt (its attribute index items sort by it; it never changes). */
async function createdAtOf(db: Dynamo, runId: string): Promise<number> {
  const out = await db.send<{ Item?: Item }>(
    'read the creation time of a run',
    new GetItemCommand({ TableName: db.table, Key: key(runPk(runId), RUN_SK), ProjectionExpression: '#ca', ExpressionAttributeNames: { '#ca': 'ca' } }),
  );
  const createdAt = num(out.Item, 'ca');
  if (createdAt === undefined) throw new RunNotFoundError(runId);
  return createdAt;
}

async function heldSlots(db: Dynamo, runId: string): Promise<{ keys: string[]; version?: number }> {
  const out = await db.send<{ Item?: Item }>(
    'read the slots of a run',
    new GetItemCommand({ TableName: db.table, Key: key(runPk(runId), RUN_SK), ConsistentRead: true, ProjectionExpression: '#sl, #slv', ExpressionAttributeNames: { '#sl': 'sl', '#slv': 'slv' } }),
  );
  return { keys: out.Item?.sl?.SS ?? [], version: num(out.Item, 'slv') };
}

/** Events from `fromSeq`, at most `limit`: a strongly consistent range read of the run's event items. */
export async function readEvents(db: Dynamo, runId: string, fromSeq = 1, limit?: number): Promise<DurablyEvent[]> {
  if (limit !== undefined && limit <= 0) return [];
  const pk = runPk(runId);
  const from = Math.max(1, fromSeq);
  const items: Item[] = [];
  let available = 0;
  let start: Item | undefined;
  do {
    const out = await db.send<{ Items?: Item[]; LastEvaluatedKey?: Item }>(
      'read events',
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': S(pk), ':from': S(eventSk(from)), ':to': S(EVENTS_END) },
        ConsistentRead: true,
        ExclusiveStartKey: start,
        // An item holds one event or more: `limit` items are enough unless chunks are among them.
        ...(limit !== undefined ? { Limit: Math.min(limit + 1, 1000) } : {}),
      }),
    );
    for (const item of out.Items ?? []) {
      items.push(item);
      if (item.ev?.L) available += item.ev.L.filter((e) => Number(e.M?.s?.N) >= from).length;
      else if (item.evb) available += Number(item.sk!.S!.slice(2)) - Math.max(from, num(item, 'f') ?? from) + 1;
    }
    start = out.LastEvaluatedKey;
  } while (start && (limit === undefined || available < limit));
  const chunksOf = (ownerSk: string, ref: BlobRef) =>
    db.queryAll('read event chunks', {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': S(pk), ':p': S(`${ownerSk}#${ref.id}#`) },
      ConsistentRead: true,
    });
  const out = await decodeEvents(runId, items, from, chunksOf);
  return limit === undefined ? out : out.slice(0, limit);
}
