import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { attributeFromIndexValue, type NewRun, type RunRecord, type RunStatus, type SerializedError } from '@durably/contracts';
import { assemble, makeBlob, readRef, refValue, type PendingBlob } from './blobs.js';
import { N, S, num, str, type Item } from './dynamo.js';
import { RUN_SK, allKey, createdKey, parentKey, runPk, shardOf, statusKey, workflowKey } from './keys.js';

/**
 * The run item. Attribute names are short (DynamoDB bills their bytes on every write):
 * id runId · wf workflow (wn when wf is a hash) · s status · q queue · a args · r result · e error (a map) · ik idempotency key ·
 * pr parent (pn when pr is a hash) · ca createdAt · ua updatedAt · sa startAt · fa finishedAt · ls lastSeq · tags ·
 * ab / rb / eb references to chunked args / result / error · index keys ck, st, al, fk ·
 * sl slot keys held, slv their version · a:<key> a search attribute, its typed value (`s:`, `n:` or `b:` and the text).
 *
 * The run item is rewritten by every append, and a write is billed by the larger of the old and new
 * item (1 unit per KB, twice in a transaction), so large values live in chunk items beside it.
 */
export const INLINE_ARGS_BYTES = 1024;
export const INLINE_RESULT_BYTES = 8192;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

export const toMap = (value: object): AttributeValue => ({ M: marshall(value, { removeUndefinedValues: true, convertClassInstanceToMap: false }) });
export const fromMap = <T>(value: AttributeValue | undefined): T | undefined => (value?.M ? (unmarshall(value.M) as T) : undefined);

/** A run field value as attributes: inline, or a reference to chunks written first. */
export function fieldValue(pk: string, field: 'a' | 'r' | 'e', text: string, inlineMax: number, asMap?: object): { attrs: Record<string, AttributeValue>; blob?: PendingBlob } {
  if (bytes(text) <= inlineMax) return { attrs: { [field]: asMap ? toMap(asMap) : S(text) } };
  const blob = makeBlob(pk, `${RUN_SK}#${field}`, text);
  return { attrs: { [`${field}b`]: refValue(blob.ref) }, blob };
}

export function newRunItem(run: NewRun, shards: number): { item: Item; blobs: PendingBlob[] } {
  const pk = runPk(run.runId);
  const args = fieldValue(pk, 'a', run.args, INLINE_ARGS_BYTES);
  const item: Item = {
    pk: S(pk),
    sk: S(RUN_SK),
    id: S(run.runId),
    wf: S(workflowKey(run.workflow)),
    s: S('pending'),
    q: S(run.queue),
    ca: N(run.createdAt),
    ua: N(run.createdAt),
    ls: N(1),
    ck: S(createdKey(run.createdAt, run.runId)),
    st: S(statusKey('pending', shardOf(run.runId, shards))),
    al: S(allKey(shardOf(run.runId, shards))),
    ...args.attrs,
  };
  // Index keys are the values themselves unless too long for a key (then a hash, and the value beside it).
  if (workflowKey(run.workflow) !== run.workflow) item.wn = S(run.workflow);
  if (run.idempotencyKey !== undefined) item.ik = S(run.idempotencyKey);
  if (run.parentRunId !== undefined && run.parentRunId !== '') {
    item.pr = S(parentKey(run.parentRunId));
    if (parentKey(run.parentRunId) !== run.parentRunId) item.pn = S(run.parentRunId);
  }
  if (run.startAt !== undefined) item.sa = N(run.startAt);
  if (run.tags?.length) item.tags = { L: [...new Set(run.tags)].map(S) };
  return { item, blobs: args.blob ? [args.blob] : [] };
}

/** The run item and its chunk items, as one `begins_with(sk, "R")` read returns them. */
export function decodeRun(items: Item[]): RunRecord | undefined {
  const run = items.find((i) => i.sk?.S === RUN_SK);
  if (!run) return undefined;
  const field = (name: 'a' | 'r' | 'e'): string | undefined => {
    const ref = readRef(run[`${name}b`]);
    return ref ? assemble(items, `${RUN_SK}#${name}`, ref, `The ${name === 'a' ? 'arguments' : name === 'r' ? 'result' : 'error'} of run ${str(run, 'id')}`) : undefined;
  };
  const record: RunRecord = {
    runId: str(run, 'id')!,
    workflow: str(run, 'wn') ?? str(run, 'wf')!,
    status: str(run, 's') as RunStatus,
    queue: str(run, 'q')!,
    args: str(run, 'a') ?? field('a') ?? '',
    createdAt: num(run, 'ca')!,
    updatedAt: num(run, 'ua')!,
    lastSeq: num(run, 'ls')!,
  };
  const result = str(run, 'r') ?? field('r');
  if (result !== undefined) record.result = result;
  const errorText = field('e');
  const error = errorText !== undefined ? (JSON.parse(errorText) as SerializedError) : fromMap<SerializedError>(run.e);
  if (error !== undefined) record.error = error;
  const ik = str(run, 'ik');
  if (ik !== undefined) record.idempotencyKey = ik;
  const parent = str(run, 'pn') ?? str(run, 'pr');
  if (parent !== undefined) record.parentRunId = parent;
  const sa = num(run, 'sa');
  if (sa !== undefined) record.startAt = sa;
  const fa = num(run, 'fa');
  if (fa !== undefined) record.finishedAt = fa;
  if (run.tags?.L) record.tags = run.tags.L.map((t) => t.S!);
  for (const [name, value] of Object.entries(run)) {
    if (name.startsWith('a:') && value.S !== undefined) (record.attributes ??= {})[name.slice(2)] = attributeFromIndexValue(value.S);
  }
  return record;
}

/** True when the run item refers to chunks (its record needs them read too). */
export function hasChunks(run: Item): boolean {
  return run.ab !== undefined || run.rb !== undefined || run.eb !== undefined;
}
