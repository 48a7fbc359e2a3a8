/**
 * Lua scripts of the Redis storage. ioredis loads each once and calls it by EVALSHA. Every script
 * touches only keys of one hash tag, ARGV[1] (`{durably}` on a single Redis, a bucket's tag such as
 * `{durably~3}` on a cluster: see KeyLayout), so each is single-slot. KEYS[1] is always a key of that
 * tag, which a cluster client routes the script by.
 */

import type { RedisClient } from './connection.js';
import { APPEND_TIMERS, TIMER_HELPERS } from './timer-scripts.js';

export { CLAIM_TIMERS } from './timer-scripts.js';

/** A client with the storage's scripts defined (by RedisStorage's constructor); KEYS[1] comes first. */
export type Scripted = RedisClient & {
  durablyCreateRun(...args: (string | number)[]): Promise<string[]>;
  durablyAppend(...args: (string | number)[]): Promise<string[]>;
  durablyTouch(...args: (string | number)[]): Promise<number>;
  durablyClaimTimers(...args: (string | number)[]): Promise<string[]>;
  durablyDeleteFinished(...args: (string | number)[]): Promise<number | string>;
  durablySaveSchedule(...args: (string | number)[]): Promise<number>;
  durablyDeleteSchedule(...args: (string | number)[]): Promise<number>;
  durablyClaimSchedules(...args: (string | number)[]): Promise<string[]>;
  durablyAcquireSlot(...args: (string | number)[]): Promise<number>;
  durablyTakePermit(...args: (string | number)[]): Promise<number>;
  durablyMigrateIdem(...args: (string | number)[]): Promise<number>;
  durablyIdemClaim(...args: (string | number)[]): Promise<string[]>;
  durablyVoidRun(...args: (string | number)[]): Promise<string>;
  durablyIdemRelease(...args: (string | number)[]): Promise<number>;
  durablyReleaseSlots(...args: (string | number)[]): Promise<number>;
};

/** Lex-sortable index member: zero-padded creation time, then the run id. */
const MEMBER = `local function member(createdAt, runId) return string.format('%016d', createdAt) .. ':' .. runId end`;

const INDEX_KEYS = `
local function indexKeys(P, workflow, status, parent)
  local keys = { P .. ':idx:all', P .. ':idx:wf:' .. workflow, P .. ':idx:st:' .. status }
  if parent and parent ~= '' then table.insert(keys, P .. ':idx:parent:' .. parent) end
  return keys
end`;

/**
 * Idempotency keys are unique per workflow: `P:idem:<workflow>` maps a key to its run. Releases
 * before scoped keys kept one hash, `P:idem`, for every workflow; migrate() moves its entries
 * (MIGRATE_IDEM), and until that is done a key found there counts only for its own workflow.
 */
const IDEM_LOOKUP = `
local function findByKey(P, workflow, idem)
  local id = redis.call('HGET', P .. ':idem:' .. workflow, idem)
  if id then return id end
  id = redis.call('HGET', P .. ':idem', idem)
  if id and redis.call('HGET', P .. ':run:' .. id, 'workflow') == workflow then return id end
  return nil
end`;

/**
 * KEYS[1] run hash. ARGV: P, runId, idemKey, workflow, queue, args, parent, createdAt, startAt, firstEvent,
 * tags JSON ('' = none), claimed ('1' = the idempotency key was claimed in another slot by IDEM_CLAIM: only recorded on the run).
 */
export const CREATE_RUN = `
${MEMBER}
${INDEX_KEYS}
${IDEM_LOOKUP}
local P, runId, idem = ARGV[1], ARGV[2], ARGV[3]
local claimed = ARGV[12] == '1'
if idem ~= '' and not claimed then
  local existing = findByKey(P, ARGV[4], idem)
  if existing then return { 'exists', existing } end
end
-- A run id is taken when its log exists: the first event's RPUSH finds that out (and is taken back).
-- A key claimed on a cluster may point to a run id given up by VOID_RUN, whose marker hash has no
-- log: there the hash itself is checked.
if claimed and redis.call('EXISTS', KEYS[1]) == 1 then return { 'exists', runId } end
if redis.call('RPUSH', P .. ':ev:' .. runId, ARGV[10]) > 1 then
  redis.call('RPOP', P .. ':ev:' .. runId)
  return { 'exists', runId }
end
local fields = { 'workflow', ARGV[4], 'status', 'pending', 'queue', ARGV[5], 'args', ARGV[6], 'createdAt', ARGV[8], 'updatedAt', ARGV[8], 'lastSeq', '1', 'timers', '{}' }
if idem ~= '' then table.insert(fields, 'idempotencyKey'); table.insert(fields, idem) end
if ARGV[7] ~= '' then table.insert(fields, 'parentRunId'); table.insert(fields, ARGV[7]) end
if ARGV[9] ~= '' then table.insert(fields, 'startAt'); table.insert(fields, ARGV[9]) end
if ARGV[11] ~= '' then table.insert(fields, 'tags'); table.insert(fields, ARGV[11]) end
redis.call('HSET', KEYS[1], unpack(fields))
if idem ~= '' and not claimed then redis.call('HSET', P .. ':idem:' .. ARGV[4], idem, runId) end
local m = member(tonumber(ARGV[8]), runId)
for _, k in ipairs(indexKeys(P, ARGV[4], 'pending', ARGV[7])) do redis.call('ZADD', k, 0, m) end
if ARGV[11] ~= '' then
  for _, tag in ipairs(cjson.decode(ARGV[11])) do redis.call('ZADD', P .. ':idx:tag:' .. tag, 0, m) end
end
return { 'created' }
`;

/**
 * The conditional append. KEYS[1] run hash. ARGV: P, runId, expectedSeq, control JSON, event JSON...
 * control: { status?, result?, error?, finishedAt?, updatedAt, setTimers: [[id, fireAt as a string]], clearTimers: [id],
 * hooks: [[token, json, pexpireat or 0]], releaseSlots, channel?, attributes? }. channel: where finished run ids are published
 * (default P:finished). attributes: [[key, typed value or '']]:
 * each is kept as the run hash's field `a:<key>` and indexed in `P:idx:attr:<key>:<typed value>` ('' removes it).
 */
export const APPEND = `
${MEMBER}
${TIMER_HELPERS}
local P, runId, expected = ARGV[1], ARGV[2], tonumber(ARGV[3])
local c = cjson.decode(ARGV[4])
-- One read of what the append decides on: the seq, the status and creation time (index members),
-- the timers (see timer-scripts.ts), and the attributes it replaces.
local fields = { 'lastSeq', 'status', 'createdAt', 'timers', 'to' }
if c.attributes then
  for _, a in ipairs(c.attributes) do table.insert(fields, 'a:' .. a[1]) end
end
local cur = redis.call('HMGET', KEYS[1], unpack(fields))
if not cur[1] then return { 'missing' } end
if tonumber(cur[1]) ~= expected then return { 'conflict', cur[1] } end
local n = #ARGV - 4
if n > 0 then redis.call('RPUSH', P .. ':ev:' .. runId, unpack(ARGV, 5, #ARGV)) end
local sets = { 'lastSeq', tostring(expected + n), 'updatedAt', string.format('%d', c.updatedAt) }
local m = member(tonumber(cur[3]), runId)
if c.status then
  if cur[2] ~= c.status then
    redis.call('ZREM', P .. ':idx:st:' .. cur[2], m)
    redis.call('ZADD', P .. ':idx:st:' .. c.status, 0, m)
  end
  table.insert(sets, 'status'); table.insert(sets, c.status)
end
if c.result then table.insert(sets, 'result'); table.insert(sets, c.result) end
if c.error then table.insert(sets, 'error'); table.insert(sets, c.error) end
if c.finishedAt then
  table.insert(sets, 'finishedAt'); table.insert(sets, string.format('%d', c.finishedAt))
  redis.call('ZADD', P .. ':idx:finished', c.finishedAt, runId)
  -- Clients waiting on result() in any process hear of it at once (see subscribeFinished).
  redis.call('PUBLISH', c.channel or (P .. ':finished'), runId)
end
${APPEND_TIMERS}
if c.attributes then
  local removed = {}
  for i, a in ipairs(c.attributes) do
    local old = cur[5 + i]
    if old then redis.call('ZREM', P .. ':idx:attr:' .. a[1] .. ':' .. old, m) end
    if a[2] == '' then
      table.insert(removed, 'a:' .. a[1])
    else
      table.insert(sets, 'a:' .. a[1]); table.insert(sets, a[2])
      redis.call('ZADD', P .. ':idx:attr:' .. a[1] .. ':' .. a[2], 0, m)
    end
  end
  if #removed > 0 then redis.call('HDEL', KEYS[1], unpack(removed)) end
end
redis.call('HSET', KEYS[1], unpack(sets))
for _, h in ipairs(c.hooks) do
  local key = P .. ':hook:' .. h[1]
  redis.call('SET', key, h[2])
  if h[3] > 0 then redis.call('PEXPIREAT', key, h[3]) end
  redis.call('SADD', P .. ':rh:' .. runId, h[1])
end
if c.releaseSlots then
  for _, k in ipairs(redis.call('SMEMBERS', P .. ':slots-of:' .. runId)) do redis.call('SREM', P .. ':slot:' .. k, runId) end
  redis.call('DEL', P .. ':slots-of:' .. runId)
end
return { 'ok' }
`;

/** KEYS[1] run hash. ARGV: P, runId, at. (A hash without lastSeq is no run: see VOID_RUN.) */
export const TOUCH = `
if redis.call('HEXISTS', KEYS[1], 'lastSeq') == 1 then redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3]) end
return 1
`;

/**
 * ARGV: P, finishedBefore, limit, clustered ('1'). Deletes finished runs with all they own. Returns the
 * count; clustered, a JSON list of [runId, workflow, idempotencyKey, hookTokens] instead, for the
 * idempotency entries and hook locators the caller removes in their own slots.
 */
export const DELETE_FINISHED = `
${MEMBER}
local P, before, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local clustered = ARGV[4] == '1'
local gone = {}
local ids = redis.call('ZRANGEBYSCORE', P .. ':idx:finished', '-inf', '(' .. before, 'LIMIT', 0, limit)
for _, runId in ipairs(ids) do
  local runKey = P .. ':run:' .. runId
  local f = redis.call('HMGET', runKey, 'workflow', 'status', 'parentRunId', 'createdAt', 'idempotencyKey', 'tags')
  if f[1] then
    local m = member(tonumber(f[4]), runId)
    if f[6] then
      for _, tag in ipairs(cjson.decode(f[6])) do redis.call('ZREM', P .. ':idx:tag:' .. tag, m) end
    end
    local all = redis.call('HGETALL', runKey)
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 'a:' then redis.call('ZREM', P .. ':idx:attr:' .. string.sub(all[i], 3) .. ':' .. all[i + 1], m) end
    end
    redis.call('ZREM', P .. ':idx:all', m)
    redis.call('ZREM', P .. ':idx:wf:' .. f[1], m)
    redis.call('ZREM', P .. ':idx:st:' .. f[2], m)
    if f[3] then redis.call('ZREM', P .. ':idx:parent:' .. f[3], m) end
    if f[5] and not clustered then
      redis.call('HDEL', P .. ':idem:' .. f[1], f[5])
      if redis.call('HGET', P .. ':idem', f[5]) == runId then redis.call('HDEL', P .. ':idem', f[5]) end
    end
  end
  redis.call('ZREM', P .. ':timers', runId)
  -- Timers of the per-timer form (see timer-scripts.ts).
  for _, t in ipairs(redis.call('SMEMBERS', P .. ':rt:' .. runId)) do
    redis.call('ZREM', P .. ':timers', runId .. '|' .. t)
    redis.call('HDEL', P .. ':timer-lease', runId .. '|' .. t)
  end
  local tokens = redis.call('SMEMBERS', P .. ':rh:' .. runId)
  for _, token in ipairs(tokens) do redis.call('DEL', P .. ':hook:' .. token) end
  redis.call('DEL', runKey, P .. ':ev:' .. runId, P .. ':rt:' .. runId, P .. ':rh:' .. runId, P .. ':cp:' .. runId)
  redis.call('ZREM', P .. ':idx:finished', runId)
  table.insert(gone, { runId, f[1] or '', f[5] or '', tokens })
end
if clustered then
  if #gone == 0 then return '[]' end
  return cjson.encode(gone)
end
return #ids
`;

/** ARGV: P, id, json, version, expectedVersion ('' = unconditional), paused ('1'/'0'), score (nextFireAt, or 0 when buffered, '' when none). */
export const SAVE_SCHEDULE = `
local P, id = ARGV[1], ARGV[2]
local key = P .. ':sched:' .. id
if ARGV[5] == '0' then
  if redis.call('EXISTS', key) == 1 then return 0 end
elseif ARGV[5] ~= '' and redis.call('HGET', key, 'version') ~= ARGV[5] then
  return 0
end
redis.call('HSET', key, 'json', ARGV[3], 'version', ARGV[4])
redis.call('SADD', P .. ':sched:ids', id)
redis.call('HDEL', P .. ':sched:lease', id)
if ARGV[6] == '1' or ARGV[7] == '' then redis.call('ZREM', P .. ':sched:due', id) else redis.call('ZADD', P .. ':sched:due', ARGV[7], id) end
return 1
`;

/** ARGV: P, id. */
export const DELETE_SCHEDULE = `
local P, id = ARGV[1], ARGV[2]
redis.call('ZREM', P .. ':sched:due', id)
redis.call('SREM', P .. ':sched:ids', id)
redis.call('HDEL', P .. ':sched:lease', id)
return redis.call('DEL', P .. ':sched:' .. id)
`;

/** ARGV: P, now, limit, leaseUntil. Returns schedule JSONs. */
export const CLAIM_SCHEDULES = `
local P, now, limit, leaseUntil = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':sched:due', '-inf', now, 'LIMIT', 0, limit * 4)) do
  local lease = redis.call('HGET', P .. ':sched:lease', id)
  if (not lease or tonumber(lease) <= now) and #out < limit then
    redis.call('HSET', P .. ':sched:lease', id, leaseUntil)
    table.insert(out, redis.call('HGET', P .. ':sched:' .. id, 'json'))
  end
end
return out
`;

/** ARGV: P, key, runId, limit. */
export const ACQUIRE_SLOT = `
local P, key, runId, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local k = P .. ':slot:' .. key
if redis.call('SISMEMBER', k, runId) == 1 then return 1 end
if redis.call('SCARD', k) >= limit then return 0 end
redis.call('SADD', k, runId)
redis.call('SADD', P .. ':slots-of:' .. runId, key)
return 1
`;

/** ARGV: P, key, limit, window. Returns 1 when granted. */
export const TAKE_PERMIT = `
local P, key, limit, win = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local k = P .. ':permit:' .. key
local cur = redis.call('HMGET', k, 'win', 'used')
if cur[1] ~= win then
  redis.call('HSET', k, 'win', win, 'used', 1)
  return 1
end
if tonumber(cur[2]) < limit then
  redis.call('HINCRBY', k, 'used', 1)
  return 1
end
return 0
`;

/**
 * Moves up to ARGV[2] entries of the unscoped idempotency hash `P:idem` (releases before keys were
 * scoped by workflow) into `P:idem:<workflow>`. ARGV: P, count. Returns the entries left to move.
 * Entries of runs that no longer exist are dropped.
 */
export const MIGRATE_IDEM = `
local P, count = ARGV[1], tonumber(ARGV[2])
local old = P .. ':idem'
local scan = redis.call('HSCAN', old, '0', 'COUNT', count)
local flat = scan[2]
for i = 1, #flat, 2 do
  local key, runId = flat[i], flat[i + 1]
  local workflow = redis.call('HGET', P .. ':run:' .. runId, 'workflow')
  if workflow then redis.call('HSETNX', P .. ':idem:' .. workflow, key, runId) end
  redis.call('HDEL', old, key)
end
return redis.call('HLEN', old)
`;

/**
 * Cluster only: claims an idempotency key for a run before the run is created in its own slot.
 * KEYS[1] the key's hash `P:idem:<workflow>` (its own bucket). ARGV: idemKey, runId, staleRunId ('' = none).
 * The entry is `runId|claimedAtMs` (server time). Claimed when free, already this run's, or held by
 * staleRunId (a claim whose run was never created: VOID_RUN has made sure it never will be).
 * Returns { 'claimed' } or { 'taken', runId, ageMs }.
 */
export const IDEM_CLAIM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local sep = string.find(cur, '|[^|]*$')
  local id = sep and string.sub(cur, 1, sep - 1) or cur
  local at = sep and tonumber(string.sub(cur, sep + 1)) or 0
  if id ~= ARGV[2] and (ARGV[3] == '' or id ~= ARGV[3]) then return { 'taken', id, tostring(math.max(0, now - at)) } end
  if id == ARGV[2] then return { 'claimed' } end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. now)
return { 'claimed' }
`;

/**
 * Cluster only: makes sure a run that an idempotency entry points to is never created (its creator
 * claimed the key, then died or stalled before creating it). KEYS[1] run hash. ARGV: ttlMs.
 * Leaves a marker hash without lastSeq (no run to every reader, and CREATE_RUN finds it exists).
 * Returns 'voided', or 'exists' when the run was created after all.
 */
export const VOID_RUN = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HEXISTS', KEYS[1], 'lastSeq') == 1 then return 'exists' end
  return 'voided'
end
redis.call('HSET', KEYS[1], 'void', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 'voided'
`;

/** Cluster only: removes an idempotency entry if it still points to this run. KEYS[1] `P:idem:<workflow>`. ARGV: idemKey, runId. */
export const IDEM_RELEASE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local sep = string.find(cur, '|[^|]*$')
local id = sep and string.sub(cur, 1, sep - 1) or cur
if id ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
`;

/** Cluster only: the slots a run holds, released after the append that finished it. KEYS[1] `P:slots-of:<runId>`. ARGV: P, runId. */
export const RELEASE_SLOTS = `
local P, runId = ARGV[1], ARGV[2]
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('SREM', P .. ':slot:' .. k, runId) end
return redis.call('DEL', KEYS[1])
`;
