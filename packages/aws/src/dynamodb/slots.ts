import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { RunNotFoundError } from '@durably/contracts';
import { N, S, cancellationCodes, isConditionFailure, key, num, type Dynamo, type Item } from './dynamo.js';
import { RUN_SK, permitPk, runPk, slotPk } from './keys.js';

/**
 * Concurrency slots: one item per key holds the ids of the runs that hold a slot (a string set `h`).
 * Taking one is a single conditional ADD (`size(h) < limit`, or the run is already in it), so of
 * concurrent takers at most `limit` succeed. The same transaction records the key on the run item
 * (`sl`, and bumps `slv`), which is how the run's final append knows which slots to release: it reads
 * them, and its transaction requires `slv` unchanged, so a slot taken in between is not left behind.
 * A key holds up to about 9,000 runs (the 400 KB item limit).
 */
export async function acquireSlot(db: Dynamo, slotKey: string, runId: string, limit: number): Promise<boolean> {
  try {
    await db.transact(`take a slot of "${slotKey}"`, [
      {
        Update: {
          TableName: db.table,
          Key: key(slotPk(slotKey), 'L'),
          UpdateExpression: 'ADD #h :r SET #k = :k',
          ConditionExpression: 'attribute_not_exists(#h) OR contains(#h, :id) OR size(#h) < :limit',
          ExpressionAttributeNames: { '#h': 'h', '#k': 'k' },
          ExpressionAttributeValues: { ':r': { SS: [runId] }, ':id': S(runId), ':limit': N(limit), ':k': S(slotKey) },
        },
      },
      {
        Update: {
          TableName: db.table,
          Key: key(runPk(runId), RUN_SK),
          UpdateExpression: 'ADD #sl :key, #slv :one',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#sl': 'sl', '#slv': 'slv', '#pk': 'pk' },
          ExpressionAttributeValues: { ':key': { SS: [slotKey] }, ':one': N(1) },
        },
      },
    ]);
    return true;
  } catch (err) {
    const codes = cancellationCodes(err);
    if (!codes) throw err;
    if (codes[1] === 'ConditionalCheckFailed') throw new RunNotFoundError(runId);
    if (codes[0] === 'ConditionalCheckFailed') return false;
    throw db.wrap(`take a slot of "${slotKey}"`, err);
  }
}

/**
 * Rate permits in fixed windows: the key's item holds the current window `w` and the permits used in
 * it `u`. Taking one increments `u` only while it is below the limit in the same window; a caller in a
 * later window restarts the count at 1 only if the stored window is older. Each is one conditional
 * update, so a window never grants more than `limit`, whatever the races.
 */
export async function takePermit(db: Dynamo, permitKey: string, limit: number, periodMs: number, now: number): Promise<number> {
  const win = Math.floor(now / periodMs);
  const wait = (win + 1) * periodMs - now;
  if (limit < 1) return wait;
  const Key = key(permitPk(permitKey), 'P');
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await db.send(
        'take a permit',
        new UpdateItemCommand({
          TableName: db.table,
          Key,
          UpdateExpression: 'ADD #u :one',
          ConditionExpression: '#w = :w AND #u < :limit',
          ExpressionAttributeNames: { '#u': 'u', '#w': 'w' },
          ExpressionAttributeValues: { ':one': N(1), ':w': N(win), ':limit': N(limit) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        ['ConditionalCheckFailedException'],
      );
      return 0;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const old = (err as { Item?: Item }).Item;
      const stored = num(old, 'w');
      if (stored === win) return wait; // this window is used up
      if (stored !== undefined && stored > win) return wait; // a caller with a later clock moved on: wait for ours to pass
    }
    try {
      await db.send(
        'take a permit',
        new UpdateItemCommand({
          TableName: db.table,
          Key,
          UpdateExpression: 'SET #w = :w, #u = :one',
          ConditionExpression: 'attribute_not_exists(#w) OR #w < :w',
          ExpressionAttributeNames: { '#u': 'u', '#w': 'w' },
          ExpressionAttributeValues: { ':one': N(1), ':w': N(win) },
        }),
        ['ConditionalCheckFailedException'],
      );
      return 0;
    } catch (err) {
      // Another caller opened the window first: count in it.
      if (!isConditionFailure(err)) throw err;
    }
  }
  return wait;
}
