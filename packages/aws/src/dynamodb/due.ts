import { DeleteItemCommand, GetItemCommand, QueryCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Timer } from '@durably/contracts';
import { N, S, isConditionFailure, key, num, str, type Dynamo, type Item } from './dynamo.js';
import { INDEX, RUN_SK, runPk, timerDueKey } from './keys.js';

/**
 * Claiming by due time, shared by timers and schedules. Their items carry `dk` (a shard partition of
 * the `gdue` index: `T#<n>` or `S#<n>`) and `dt`, the time from which they may be claimed: the due
 * time, and while leased the end of the lease. A claim reads the entries of every shard with `dt <=
 * now` (the index is eventually consistent and only proposes), then leases each with a conditional
 * update on the item itself (`dt <= now`, set `dt` to the lease's end), so of two claimers only one
 * wins an item, a leased item leaves the claimable range until its lease runs out, and a claim never
 * reads past the leased ones. Spreading over shards keeps one partition from holding every due entry.
 */
export async function claimDue(
  db: Dynamo,
  dueKeys: string[],
  now: number,
  limit: number,
  leaseMs: number,
): Promise<Item[]> {
  if (limit <= 0) return [];
  const perShard = await Promise.all(dueKeys.map((k) => dueCandidates(db, k, now, limit)));
  const candidates = perShard.flat().sort((a, b) => Number(a.dt.N) - Number(b.dt.N));
  const claimed: Item[] = [];
  let next = 0;
  while (claimed.length < limit && next < candidates.length) {
    const wave = candidates.slice(next, next + (limit - claimed.length));
    next += wave.length;
    const results = await Promise.all(wave.map((c) => lease(db, c, now, now + leaseMs)));
    for (const r of results) if (r) claimed.push(r);
  }
  return claimed;
}

async function dueCandidates(db: Dynamo, dueKey: string, now: number, want: number): Promise<Item[]> {
  const out: Item[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await db.send<{ Items?: Item[]; LastEvaluatedKey?: Record<string, AttributeValue> }>(
      'look for due timers',
      new QueryCommand({
        TableName: db.table,
        IndexName: INDEX.due,
        KeyConditionExpression: '#dk = :k AND #dt <= :now',
        ExpressionAttributeNames: { '#dk': 'dk', '#dt': 'dt' },
        ExpressionAttributeValues: { ':k': S(dueKey), ':now': N(now) },
        ExclusiveStartKey: start,
        Limit: Math.min(1000, want * 2),
      }),
    );
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start && out.length < want * 2);
  return out;
}

/** Leases one item if it is still due and free; returns its new image, or undefined if another claimer won. */
async function lease(db: Dynamo, candidate: Item, now: number, until: number): Promise<Item | undefined> {
  try {
    const out = await db.send<{ Attributes?: Item }>(
      'lease a due item',
      new UpdateItemCommand({
        TableName: db.table,
        Key: { pk: candidate.pk, sk: candidate.sk },
        UpdateExpression: 'SET #dt = :until',
        ConditionExpression: 'attribute_exists(#dk) AND #dt <= :now',
        ExpressionAttributeNames: { '#dt': 'dt', '#dk': 'dk' },
        ExpressionAttributeValues: { ':until': N(until), ':now': N(now) },
        ReturnValues: 'ALL_NEW',
      }),
      ['ConditionalCheckFailedException'],
    );
    return out.Attributes;
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}

export function timerDueKeys(shards: number): string[] {
  return Array.from({ length: shards }, (_, i) => timerDueKey(i));
}

export function toTimer(item: Item): Timer {
  return { runId: str(item, 'id')!, timerId: str(item, 'ti')!, fireAt: num(item, 'ft')! };
}

export async function claimDueTimers(db: Dynamo, now: number, options: { limit: number; leaseMs: number }, shards: number): Promise<Timer[]> {
  const claimed = await claimDue(db, timerDueKeys(shards), now, options.limit, options.leaseMs);
  const checked = await Promise.all(claimed.map((t) => (t.gs ? committed(db, t) : true)));
  return claimed
    .filter((_, i) => checked[i])
    .map(toTimer)
    .sort((a, b) => a.fireAt - b.fireAt);
}

/** Timers written ahead of an append that is still committing are not fired yet. */
const STAGED_GRACE_MS = 60_000;

/**
 * A timer written ahead of its append (it did not fit in the transaction; see planAppend) counts once
 * the run's log reaches the seq that append commits. One whose append never committed (its process
 * died in between) is deleted once it is older than a minute; one still within that minute is left
 * leased, so that the next claim after the lease looks again.
 */
async function committed(db: Dynamo, timer: Item): Promise<boolean> {
  const out = await db.send<{ Item?: Item }>(
    'check a timer written ahead',
    new GetItemCommand({ TableName: db.table, Key: key(str(timer, 'pk')!, RUN_SK), ConsistentRead: true, ProjectionExpression: '#ls', ExpressionAttributeNames: { '#ls': 'ls' } }),
  );
  const last = num(out.Item, 'ls');
  const token = str(timer, 'sg')!;
  const names = { '#sg': 'sg', '#gs': 'gs', '#sw': 'sw' };
  if (last !== undefined && last >= num(timer, 'gs')!) {
    // Committed: it is an ordinary timer from now on.
    await db
      .send('settle a timer written ahead', new UpdateItemCommand({ TableName: db.table, Key: { pk: timer.pk, sk: timer.sk }, UpdateExpression: 'REMOVE #sg, #gs, #sw', ConditionExpression: '#sg = :t', ExpressionAttributeNames: names, ExpressionAttributeValues: { ':t': S(token) } }), ['ConditionalCheckFailedException'])
      .catch(() => undefined);
    return true;
  }
  if (last === undefined || Date.now() - num(timer, 'sw')! > STAGED_GRACE_MS) {
    await db
      .send('drop a timer whose append never committed', new DeleteItemCommand({ TableName: db.table, Key: { pk: timer.pk, sk: timer.sk }, ConditionExpression: '#sg = :t', ExpressionAttributeNames: { '#sg': 'sg' }, ExpressionAttributeValues: { ':t': S(token) } }), ['ConditionalCheckFailedException'])
      .catch(() => undefined);
  }
  return false;
}

export async function listTimers(db: Dynamo, runId: string): Promise<Timer[]> {
  const items = await db.queryAll('list timers', {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :t)',
    ExpressionAttributeValues: { ':pk': S(runPk(runId)), ':t': S('T#') },
    ConsistentRead: true,
  });
  return items.map(toTimer).sort((a, b) => a.fireAt - b.fireAt);
}
