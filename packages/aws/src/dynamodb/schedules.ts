import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { StorageError, type ScheduleRecord } from '@durably/contracts';
import { fromMap, toMap } from './codec.js';
import { claimDue } from './due.js';
import { N, S, isConditionFailure, key, type Dynamo, type Item } from './dynamo.js';
import { SCHEDULES_PK, scheduleDueKey, shardOf } from './keys.js';

/**
 * Schedules live in one partition (`SCHED`, sorted by id: listSchedules is one Query); the few writes
 * a schedule makes per fire are far below a partition's limits. Due ones are found through the
 * sharded `gdue` index: a schedule that is not paused and has a next slot (or a buffered one, due at
 * once) carries `dk`/`dt`, and is claimed with a lease like a timer. Every save rewrites the item
 * and so clears the lease.
 */
const MAX_SCHEDULE_BYTES = 350_000;

function scheduleItem(s: ScheduleRecord, shards: number): Item {
  const buffered = s.bufferedSlot !== undefined || (s.bufferedSlots?.length ?? 0) > 0;
  const item: Item = { ...key(SCHEDULES_PK, s.scheduleId), rec: toMap(s), v: N(s.version) };
  if (!s.paused && (buffered || s.nextFireAt !== undefined)) {
    item.dk = S(scheduleDueKey(shardOf(s.scheduleId, shards)));
    item.dt = N(buffered ? 0 : s.nextFireAt!);
  }
  const size = Buffer.byteLength(JSON.stringify(s), 'utf8');
  if (size > MAX_SCHEDULE_BYTES) {
    throw new StorageError(`Schedule ${s.scheduleId} is ${size} bytes, more than a DynamoDB item holds (${MAX_SCHEDULE_BYTES}); its history or list of running runs is too long.`);
  }
  return item;
}

export async function saveSchedule(db: Dynamo, schedule: ScheduleRecord, expectedVersion: number | undefined, shards: number): Promise<boolean> {
  const condition =
    expectedVersion === undefined
      ? {}
      : expectedVersion === 0
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': N(expectedVersion) } };
  try {
    await db.send('save a schedule', new PutItemCommand({ TableName: db.table, Item: scheduleItem(schedule, shards), ...condition }), ['ConditionalCheckFailedException']);
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

export async function getSchedule(db: Dynamo, scheduleId: string): Promise<ScheduleRecord | undefined> {
  const out = await db.send<{ Item?: Item }>('read a schedule', new GetItemCommand({ TableName: db.table, Key: key(SCHEDULES_PK, scheduleId), ConsistentRead: true }));
  return fromMap<ScheduleRecord>(out.Item?.rec);
}

export async function listSchedules(db: Dynamo): Promise<ScheduleRecord[]> {
  const items = await db.queryAll('list schedules', { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': S(SCHEDULES_PK) }, ConsistentRead: true });
  return items.map((i) => fromMap<ScheduleRecord>(i.rec)!).sort((a, b) => (a.scheduleId < b.scheduleId ? -1 : a.scheduleId > b.scheduleId ? 1 : 0));
}

export async function deleteSchedule(db: Dynamo, scheduleId: string): Promise<boolean> {
  const out = await db.send<{ Attributes?: Item }>('delete a schedule', new DeleteItemCommand({ TableName: db.table, Key: key(SCHEDULES_PK, scheduleId), ReturnValues: 'ALL_OLD' }));
  return out.Attributes !== undefined;
}

export async function claimDueSchedules(db: Dynamo, now: number, options: { limit: number; leaseMs: number }, shards: number): Promise<ScheduleRecord[]> {
  const keys = Array.from({ length: shards }, (_, i) => scheduleDueKey(i));
  return (await claimDue(db, keys, now, options.limit, options.leaseMs)).map((i) => fromMap<ScheduleRecord>(i.rec)!);
}
