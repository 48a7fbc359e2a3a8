import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { HookRecord } from '@durably/contracts';
import { assemble, dropBlobs, makeBlob, readRef, refValue, stageBlobs } from './blobs.js';
import { S, key, num, str, type Dynamo, type Item } from './dynamo.js';
import { checkpointSk, chunkSk, hookPk, runPk } from './keys.js';

/** Hook index entries (written by append); read strongly consistent so a fresh token is found at once. */
export async function getHook(db: Dynamo, token: string): Promise<HookRecord | undefined> {
  const out = await db.send<{ Item?: Item }>('read a hook', new GetItemCommand({ TableName: db.table, Key: key(hookPk(token), 'H'), ConsistentRead: true }));
  const i = out.Item;
  if (!i) return undefined;
  const hook: HookRecord = { token: str(i, 'tk')!, runId: str(i, 'id')!, correlationId: str(i, 'c')!, name: str(i, 'n')!, createdAt: num(i, 'ca')! };
  const ea = num(i, 'ea');
  if (ea !== undefined) hook.expiresAt = ea;
  const co = num(i, 'co');
  if (co !== undefined) hook.consumedAt = co;
  return hook;
}

/** Checkpoint values up to this size sit in their item; larger ones in chunks beside it. */
const INLINE_CHECKPOINT_BYTES = 64 * 1024;

export async function putCheckpoint(db: Dynamo, runId: string, stepId: string, value: string): Promise<void> {
  const pk = runPk(runId);
  const sk = checkpointSk(stepId);
  const item: Item = { ...key(pk, sk) };
  const blob = Buffer.byteLength(value, 'utf8') > INLINE_CHECKPOINT_BYTES ? makeBlob(pk, sk, value) : undefined;
  if (blob) {
    await stageBlobs(db, 'save a checkpoint', [blob]);
    item.vb = refValue(blob.ref);
  } else {
    item.v = S(value);
  }
  const out = await db.send<{ Attributes?: Item }>('save a checkpoint', new PutItemCommand({ TableName: db.table, Item: item, ReturnValues: 'ALL_OLD' }));
  await dropOldChunks(db, pk, sk, out.Attributes);
}

export async function getCheckpoint(db: Dynamo, runId: string, stepId: string): Promise<string | undefined> {
  const pk = runPk(runId);
  const sk = checkpointSk(stepId);
  const out = await db.send<{ Item?: Item }>('read a checkpoint', new GetItemCommand({ TableName: db.table, Key: key(pk, sk), ConsistentRead: true }));
  if (!out.Item) return undefined;
  const ref = readRef(out.Item.vb);
  if (!ref) return str(out.Item, 'v');
  const chunks = await db.queryAll('read a checkpoint', {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
    ExpressionAttributeValues: { ':pk': S(pk), ':p': S(`${sk}#${ref.id}#`) },
    ConsistentRead: true,
  });
  return assemble(chunks, sk, ref, `The checkpoint of step ${stepId} of run ${runId}`);
}

export async function deleteCheckpoint(db: Dynamo, runId: string, stepId: string): Promise<void> {
  const pk = runPk(runId);
  const sk = checkpointSk(stepId);
  const out = await db.send<{ Attributes?: Item }>('delete a checkpoint', new DeleteItemCommand({ TableName: db.table, Key: key(pk, sk), ReturnValues: 'ALL_OLD' }));
  await dropOldChunks(db, pk, sk, out.Attributes);
}

/** The chunks of a replaced or deleted checkpoint value. */
async function dropOldChunks(db: Dynamo, pk: string, sk: string, old: Item | undefined): Promise<void> {
  const ref = readRef(old?.vb);
  if (!ref) return;
  const items = Array.from({ length: ref.n }, (_, n) => key(pk, chunkSk(sk, ref.id, n)) as Item);
  await dropBlobs(db, [{ items }]);
}
