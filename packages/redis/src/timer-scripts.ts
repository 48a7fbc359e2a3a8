/**
 * How the Redis storage keeps timers (Lua, shared by the append, the claim and retention).
 *
 * Up to INLINE_TIMERS of a run's live timers are one field of its hash, `timers`: a JSON object
 * { timerId: [fireAt, leaseUntil?] } (times as strings, so no digit is lost to Lua's number printing).
 * The tag's sorted set `P:timers` holds one member per run with such timers, the run id, scored no
 * later than its earliest inline fireAt (equal, unless the earliest has since been replaced by a later
 * one). The append reads the field with the run's other fields (one HMGET), rewrites it in the run's
 * HSET, and moves the run's member only when a timer earlier than its score is set, or removes it with
 * the run's last inline timer: a step that clears its lease and sets the next one writes no sorted set
 * at all. A claim that reaches a member by a score earlier than the run's earliest timer moves it there.
 *
 * The rest of a run's timers, past INLINE_TIMERS (a wide fan-out of sleeps or leased steps), keep the
 * layout of releases before this one, where each costs the same whatever the run's count: a member
 * `<runId>|<timerId>` per timer scored by fireAt, its claim in the hash `P:timer-lease`, the run's ids
 * in the set `P:rt:<runId>`; the run hash's field `to` counts them. While a run has any, its new timer
 * ids go there too (so an id is never in both places). A run of an older release (its hash has no
 * `timers` field) has all its timers in that form: its first append here counts them (SCARD) and
 * leaves them where they are. The claim handles members of either form; the append clears an id it
 * does not find inline the old way (which also removes one an older worker set during an upgrade).
 */

/** At most this many of a run's timers are kept in its hash (each append that changes one rewrites them). */
export const INLINE_TIMERS = 16;

/**
 * Lua helpers: earliest(timers) is the smallest fireAt (string) or nil; setSpilled and clearSpilled
 * write and delete a timer of the per-timer form, returning 1 when they added or removed one.
 */
export const TIMER_HELPERS = `
local function earliest(timers)
  local best, bestN
  for _, e in pairs(timers) do
    local n = tonumber(e[1])
    if not bestN or n < bestN then best, bestN = e[1], n end
  end
  return best
end
local function setSpilled(P, runId, id, fireAt)
  local m = runId .. '|' .. id
  redis.call('ZADD', P .. ':timers', fireAt, m)
  redis.call('HDEL', P .. ':timer-lease', m)
  return redis.call('SADD', P .. ':rt:' .. runId, id)
end
local function clearSpilled(P, runId, id)
  local m = runId .. '|' .. id
  if redis.call('ZREM', P .. ':timers', m) == 0 then return 0 end
  redis.call('HDEL', P .. ':timer-lease', m)
  redis.call('SREM', P .. ':rt:' .. runId, id)
  return 1
end`;

/**
 * The append's timer part (inside APPEND, after the run's fields were read into cur: cur[4] is the
 * `timers` field, cur[5] the count `to`). Applies c.setTimers and c.clearTimers, adds the fields to
 * the HSET (sets), and moves the run's member of P:timers when its earliest inline timer changed.
 */
export const APPEND_TIMERS = `
if #c.setTimers > 0 or #c.clearTimers > 0 or not cur[4] then
  local timers, before, spilled
  if cur[4] then
    timers = cjson.decode(cur[4])
    before = earliest(timers)
    spilled = tonumber(cur[5] or '0')
  else
    -- A run of an older release: its timers stay in their per-timer form.
    timers = {}
    spilled = redis.call('SCARD', P .. ':rt:' .. runId)
  end
  local size = 0
  for _ in pairs(timers) do size = size + 1 end
  -- Moving a timer ends its claim: the entry is written anew, without a lease.
  for _, t in ipairs(c.setTimers) do
    if timers[t[1]] then
      timers[t[1]] = { t[2] }
    elseif spilled == 0 and size < ${INLINE_TIMERS} then
      timers[t[1]] = { t[2] }
      size = size + 1
    else
      spilled = spilled + setSpilled(P, runId, t[1], t[2])
    end
  end
  for _, id in ipairs(c.clearTimers) do
    if timers[id] then
      timers[id] = nil
    else
      spilled = math.max(0, spilled - clearSpilled(P, runId, id))
    end
  end
  local after = earliest(timers)
  table.insert(sets, 'timers'); table.insert(sets, cjson.encode(timers))
  table.insert(sets, 'to'); table.insert(sets, tostring(spilled))
  -- The member's score is at most the earliest timer: a later one (the next step's lease replacing
  -- this one's) leaves it, and a claim that finds nothing due by it moves it up.
  if after == nil then
    if before ~= nil then redis.call('ZREM', P .. ':timers', runId) end
  elseif before == nil or tonumber(after) < tonumber(before) then
    redis.call('ZADD', P .. ':timers', after, runId)
  end
end`;

/**
 * KEYS[1] P:timers. ARGV: P, now, limit, leaseUntil. Claims up to limit due, unleased timers, the
 * earliest first, leasing each until leaseUntil. Returns flat [runId|timerId, fireAt, ...] by fireAt.
 * Members are runs scored no later than their earliest timer (so none of a run's timers is due
 * before its score): the walk stops once `limit` candidates are found that are no later than the
 * next score. A member found with a score below its run's earliest timer is moved to it.
 */
export const CLAIM_TIMERS = `
${TIMER_HELPERS}
local P, now, limit, leaseUntil = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if limit < 1 then return {} end
local cand = {}
local runs = {}
local sorted = true
local function byFire(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end
local offset = 0
local full = false
while not full do
  local batch = redis.call('ZRANGEBYSCORE', P .. ':timers', '-inf', now, 'WITHSCORES', 'LIMIT', offset, 200)
  if #batch == 0 then break end
  local removed = 0
  for i = 1, #batch, 2 do
    local member, score = batch[i], tonumber(batch[i + 1])
    if #cand >= limit then
      if not sorted then table.sort(cand, byFire); sorted = true end
      if cand[limit][1] <= score then full = true; break end
    end
    if runs[member] then
      -- Met again: it moved within the range after it was visited (below).
    elseif string.find(member, '|', 1, true) then
      -- A timer of the per-timer form (see the note above).
      local lease = redis.call('HGET', P .. ':timer-lease', member)
      if not lease or tonumber(lease) <= now then
        table.insert(cand, { score, member, batch[i + 1] }); sorted = false
      end
    else
      local raw = redis.call('HGET', P .. ':run:' .. member, 'timers')
      if not raw then
        -- No such run (or one without timers): nothing to wake.
        redis.call('ZREM', P .. ':timers', member)
        removed = removed + 1
      else
        local timers = cjson.decode(raw)
        runs[member] = timers
        for id, e in pairs(timers) do
          if tonumber(e[1]) <= now and (not e[2] or tonumber(e[2]) <= now) then
            table.insert(cand, { tonumber(e[1]), member .. '|' .. id, e[1], member, id }); sorted = false
          end
        end
        local first = earliest(timers)
        if first == nil then
          redis.call('ZREM', P .. ':timers', member)
          removed = removed + 1
        elseif tonumber(first) > score then
          -- Left behind by an append that replaced the earliest timer with a later one (see APPEND_TIMERS).
          -- It leaves its place: the members after it move up one, and it is skipped when met again.
          redis.call('ZADD', P .. ':timers', first, member)
          removed = removed + 1
        end
      end
    end
  end
  offset = offset + 200 - removed
end
if not sorted then table.sort(cand, byFire) end
local out = {}
local dirty = {}
for i = 1, math.min(limit, #cand) do
  local c = cand[i]
  if c[4] then
    runs[c[4]][c[5]][2] = leaseUntil
    dirty[c[4]] = true
  else
    redis.call('HSET', P .. ':timer-lease', c[2], leaseUntil)
  end
  table.insert(out, c[2]); table.insert(out, c[3])
end
for runId in pairs(dirty) do redis.call('HSET', P .. ':run:' .. runId, 'timers', cjson.encode(runs[runId])) end
return out
`;
