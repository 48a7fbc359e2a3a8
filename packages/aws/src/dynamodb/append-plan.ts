import { DeleteItemCommand, PutItemCommand, type TransactWriteItem, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { StorageError, attributeIndexValue, type AppendRequest, type HookRecord } from '@durably/contracts';
import { newBlobId, type PendingBlob } from './blobs.js';
import { INLINE_RESULT_BYTES, fieldValue } from './codec.js';
import { N, S, isConditionFailure, key, str, type Dynamo, type Item } from './dynamo.js';
import { encodeEvents } from './events.js';
import { Expr } from './expr.js';
import { RUN_SK, attributeIndexKey, attributeSk, createdKey, finishedKey, hookPk, hookPointerSk, runPk, shardOf, slotPk, statusKey, timerDueKey, timerSk } from './keys.js';

/** DynamoDB's limit on the items of one TransactWriteItems. */
export const MAX_TRANSACTION_ITEMS = 100;

export function hookItem(h: HookRecord): Item {
  const item: Item = { ...key(hookPk(h.token), 'H'), tk: S(h.token), id: S(h.runId), c: S(h.correlationId), n: S(h.name), ca: N(h.createdAt) };
  if (h.expiresAt !== undefined) item.ea = N(h.expiresAt);
  if (h.consumedAt !== undefined) item.co = N(h.consumedAt);
  return item;
}

export function timerItem(runId: string, timerId: string, fireAt: number, shards: number): Item {
  // ft: when it fires; dt: when it may be claimed (the fire time, or the end of a lease; see due.ts).
  return { ...key(runPk(runId), timerSk(timerId)), id: S(runId), ti: S(timerId), ft: N(fireAt), dt: N(fireAt), dk: S(timerDueKey(shardOf(`${runId}\n${timerId}`, shards))) };
}

export interface Plan {
  /** The transaction but its timer puts: the fenced run update, event items, slot releases, timer deletions and hook entries that fit. */
  transaction: TransactWriteItem[];
  /** Timers put in the transaction. */
  txTimers: Item[];
  /** Timers that did not fit: written ahead (see fitTimers). */
  overflowTimers: Item[];
  /** Written before the transaction: chunk items, and the hook entries that did not fit in it. */
  before: { blobs: PendingBlob[]; hooks: Item[] };
  /** Timer deletions that did not fit: done after the commit (a timer left behind only wakes the run once more). */
  after: WriteRequest[];
  /** Marks the timers written ahead, so that only this append's are removed if it loses. */
  token: string;
}

/**
 * Puts what must commit together in the transaction: the run update (the fence), the event items
 * and the slot releases. Then, while there is room under DynamoDB's 100 items, new timers, timer
 * deletions and hook entries. What does not fit goes outside it, in the order that keeps every
 * crash safe: timers and hook entries before (a timer is written ahead only where none exists yet,
 * marked with this append's token and the seq it commits, see fitTimers and due.ts; a hook token is
 * known to nobody until the append commits), timer deletions after (a timer a crash leaves behind
 * costs one spurious wake-up, which the engine ignores).
 */
export function planAppend(db: Dynamo, request: AppendRequest, shards: number, slots?: { keys: string[]; version?: number }, createdAt?: number): Plan {
  const { runId, expectedSeq, events } = request;
  const pk = runPk(runId);
  const shard = shardOf(runId, shards);
  const blobs: PendingBlob[] = [];
  const ev = encodeEvents(pk, events);
  blobs.push(...ev.blobs);
  const newSeq = expectedSeq + events.length;

  const x = new Expr();
  x.set('ls', N(newSeq)).set('ua', N(events.length > 0 ? Math.max(...events.map((e) => e.at)) : Date.now()));
  const p = request.run ?? {};
  if (p.status !== undefined) x.set('s', S(p.status)).set('st', S(statusKey(p.status, shard)));
  if (p.result !== undefined) {
    const f = fieldValue(pk, 'r', p.result, INLINE_RESULT_BYTES);
    setField(x, 'r', f.attrs);
    if (f.blob) blobs.push(f.blob);
  }
  if (p.error !== undefined) {
    const f = fieldValue(pk, 'e', JSON.stringify(p.error), INLINE_RESULT_BYTES, p.error);
    setField(x, 'e', f.attrs);
    if (f.blob) blobs.push(f.blob);
  }
  if (p.finishedAt !== undefined) x.set('fa', N(p.finishedAt)).set('fk', S(finishedKey(shard)));
  // Search attributes: the run item's `a:<key>` and the run's `A#<key>` item in the gtg index, put (a
  // new value moves the item to that value's partition) or deleted, in the same transaction.
  const attributeWrites: TransactWriteItem[] = [];
  for (const [k, value] of Object.entries(p.attributes ?? {})) {
    if (value === null) {
      x.remove(`a:${k}`);
      attributeWrites.push({ Delete: { TableName: db.table, Key: key(pk, attributeSk(k)) } });
      continue;
    }
    if (createdAt === undefined) throw new StorageError(`Append to run ${runId}: its createdAt is needed to index attribute "${k}".`);
    const typed = attributeIndexValue(value);
    x.set(`a:${k}`, S(typed));
    attributeWrites.push({ Put: { TableName: db.table, Item: { ...key(pk, attributeSk(k)), tg: S(attributeIndexKey(k, typed)), ck: S(createdKey(createdAt, runId)), id: S(runId) } } });
  }
  let condition = `attribute_exists(${x.n('pk')}) AND ${x.n('ls')} = ${x.v(N(expectedSeq))}`;
  const slotUpdates: TransactWriteItem[] = [];
  if (slots) {
    condition += slots.version === undefined ? ` AND attribute_not_exists(${x.n('slv')})` : ` AND ${x.n('slv')} = ${x.v(N(slots.version))}`;
    if (slots.keys.length) x.remove('sl');
    for (const k of slots.keys) {
      slotUpdates.push({ Update: { TableName: db.table, Key: key(slotPk(k), 'L'), UpdateExpression: 'DELETE #h :r', ExpressionAttributeNames: { '#h': 'h' }, ExpressionAttributeValues: { ':r': { SS: [runId] } } } });
    }
  }
  const runUpdate: TransactWriteItem = {
    Update: { TableName: db.table, Key: key(pk, RUN_SK), UpdateExpression: x.update, ConditionExpression: condition, ...x.attributes, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' },
  };

  // One operation per item and transaction: a timer both set and cleared ends cleared (as if applied in order).
  const cleared = new Set(request.clearTimers ?? []);
  const setTimers = new Map<string, number>();
  for (const t of request.setTimers ?? []) if (!cleared.has(t.timerId)) setTimers.set(t.timerId, t.fireAt);
  const timerItems = [...setTimers].map(([id, fireAt]) => timerItem(runId, id, fireAt, shards));
  const timerDeletes = [...cleared].map((id) => key(pk, timerSk(id)));
  const hooks = new Map<string, HookRecord>();
  for (const h of request.setHooks ?? []) hooks.set(h.token, h);
  const hookPairs = [...hooks.values()].map((h) => [hookItem(h), key(pk, hookPointerSk(h.token)) as Item]);

  const transaction: TransactWriteItem[] = [runUpdate, ...ev.items.map((Item): TransactWriteItem => ({ Put: { TableName: db.table, Item } })), ...slotUpdates, ...attributeWrites];
  if (transaction.length > MAX_TRANSACTION_ITEMS) {
    throw new StorageError(
      `Append to run ${runId} needs ${transaction.length} items in one DynamoDB transaction (the limit is ${MAX_TRANSACTION_ITEMS}): ` +
        `${slotUpdates.length} concurrency slots to release, ${attributeWrites.length} search attributes to index and ${ev.items.length} event items. Use fewer concurrency keys per workflow, or set fewer attributes at once.`,
    );
  }
  const token = newBlobId();
  const room = () => MAX_TRANSACTION_ITEMS - transaction.length - txTimers.length;
  const txTimers = timerItems.slice(0, MAX_TRANSACTION_ITEMS - transaction.length);
  // sg: the append that wrote it ahead; gs: the seq that append commits; sw: when.
  const overflowTimers = timerItems.slice(txTimers.length).map((item) => ({ ...item, sg: S(token), gs: N(newSeq), sw: N(Date.now()) }));
  const plan: Plan = { transaction, txTimers, overflowTimers, before: { blobs, hooks: [] }, after: [], token };
  const deletes = timerDeletes.slice(0, room());
  transaction.push(...deletes.map((Key): TransactWriteItem => ({ Delete: { TableName: db.table, Key } })));
  plan.after = timerDeletes.slice(deletes.length).map((Key) => ({ DeleteRequest: { Key } }));
  const pairs = hookPairs.slice(0, Math.floor(room() / 2));
  transaction.push(...pairs.flat().map((Item): TransactWriteItem => ({ Put: { TableName: db.table, Item } })));
  plan.before.hooks = hookPairs.slice(pairs.length).flat();
  return plan;
}

/**
 * Writes the overflow timers ahead of the transaction, each only where no timer of that id exists
 * (a conditional put): a timer written ahead is then removed if the append loses, and removing it
 * can never take away a timer that an earlier append committed. A timer that exists already is
 * moved into the transaction in exchange for one that does not. Returns the timers written ahead.
 */
export async function fitTimers(db: Dynamo, plan: Plan): Promise<Item[]> {
  const stage = async (item: Item): Promise<boolean> => {
    try {
      await db.send('write a timer ahead', new PutItemCommand({ TableName: db.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }), ['ConditionalCheckFailedException']);
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  };
  const staged: Item[] = [];
  const existing: Item[] = [];
  for (let i = 0; i < plan.overflowTimers.length; i += 16) {
    const wave = plan.overflowTimers.slice(i, i + 16);
    const ok = await Promise.all(wave.map(stage));
    wave.forEach((t, j) => (ok[j] ? staged : existing).push(t));
  }
  const marks = (t: Item) => ({ ...t, sg: plan.overflowTimers[0].sg, gs: plan.overflowTimers[0].gs, sw: plan.overflowTimers[0].sw });
  const plain = (t: Item) => {
    const { sg: _sg, gs: _gs, sw: _sw, ...rest } = t;
    return rest;
  };
  for (let i = plan.txTimers.length - 1; existing.length > 0 && i >= 0; i--) {
    if (await stage(marks(plan.txTimers[i]))) {
      staged.push(marks(plan.txTimers[i]));
      plan.txTimers[i] = plain(existing.pop()!);
    }
  }
  if (existing.length > 0) {
    await dropStagedTimers(db, staged, plan.token);
    throw new StorageError(`Append to run ${plan.txTimers[0] ? str(plan.txTimers[0], 'id') : ''} moves ${existing.length} more existing timers than one DynamoDB transaction holds; move fewer timers at once.`);
  }
  return staged;
}

function setField(x: Expr, field: 'r' | 'e', attrs: Record<string, Item[string]>): void {
  const inline = attrs[field] !== undefined;
  x.set(inline ? field : `${field}b`, inline ? attrs[field] : attrs[`${field}b`]);
  x.remove(inline ? `${field}b` : field);
}

/** Removes the timers a losing append wrote ahead, each only if it is still that append's (the winner may have set the same timer). */
export async function dropStagedTimers(db: Dynamo, timers: Item[], token: string): Promise<void> {
  for (let i = 0; i < timers.length; i += 16) {
    await Promise.all(
      timers.slice(i, i + 16).map((t) =>
        db
          .send('drop a timer of a lost append', new DeleteItemCommand({ TableName: db.table, Key: { pk: t.pk, sk: t.sk }, ConditionExpression: '#sg = :t', ExpressionAttributeNames: { '#sg': 'sg' }, ExpressionAttributeValues: { ':t': S(token) } }), ['ConditionalCheckFailedException'])
          .catch(() => undefined),
      ),
    );
  }
}
