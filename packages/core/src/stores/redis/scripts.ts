import { DEFAULT_BUCKETS_PER_WINDOW, LATE_ARRIVAL_GRACE_MS } from '../../time';

/**
 * The Lua scripts of RedisStore. Each one is a single atomic step for one client (all its keys
 * share one hash tag, so it runs on one Cluster slot) and mirrors, decision for decision, the
 * in-process engines in `algorithms/` (count-deque.ts and sliding-counter.ts): same operation
 * order, same floating-point expressions, same fields.
 *
 * Conventions shared by every check script:
 * - Times are whole ms (SPEC, "Time"); windows W are configured in seconds and used as W * 1000.
 * - Reply: one binary string (a table reply costs Redis more to convert than a packed string):
 *   struct '<Bddddddd' = allowed (1/0), limit, windowSeconds, remaining, retryAfter in ms (-1 =
 *   Infinity), resetAfter in ms, timestamp (effective e, ms), granted: whole numbers, as doubles
 *   (packed with less work than 'i8', exact to 2^53). Every field comes from one snapshot. A plain
 *   allowed check gets a short reply (see REPLY).
 * - A denial writes nothing (a lease release before it may, and so may moving a client's counts
 *   to a new bucket width, which changes no decision). Every write of a counting key sets a
 *   relative TTL of the client's window plus its bucket plus the late-arrival grace (PX W_ms + g +
 *   LATE_ARRIVAL_GRACE_MS, time.ts), so no counting key is ever left without one.
 * - Every script runs in time bounded by the number of buckets (or log entries) it touches,
 *   whatever the cost: units are doubles, never split or repeated.
 * - Numbers go into text state as '%.0f' (exact for integers up to 2^53, unlike tostring's 14 digits).
 * - Hot paths avoid what costs Redis most per call: extra redis.call()s, closures created per
 *   run, tonumber() of arguments that are absent or unused, and table replies.
 */

/**
 * Lua that sets `target` to the bucket width g for a window of `windowMs` ms and the limiter's
 * `bucketArg` (0: the default), as time.ts bucketWidth does.
 */
export function bucketWidthLua(target: string, windowMs: string): string {
  return `if bucketArg == 0 then ${target} = math.ceil(${windowMs} / ${DEFAULT_BUCKETS_PER_WINDOW}) elseif bucketArg < ${windowMs} then ${target} = bucketArg else ${target} = ${windowMs} end`;
}

/** Lua that sets `t`: the request's time in ms from `argTimestamp`, or Redis TIME in ms when it is ''. */
export function requestTimeLua(toNumber: string): string {
  return `local t
if argTimestamp == '' then
  local now = redis.call('TIME')
  t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
else
  t = ${toNumber}(argTimestamp)
end`;
}

/** Size in bytes of a check script's full reply (see REPLY). */
export const CHECK_REPLY_BYTES = 57;
/** First byte of a short reply (see REPLY); a full reply starts with 0 or 1. */
export const REPLY_SHORT = 3;
/** Size in bytes of a short reply. */
export const CHECK_REPLY_SHORT_BYTES = 17;

/**
 * ARGV of every check script (KEYS differ per algorithm and are listed with each script). Trailing
 * arguments at their usual value may be left out: the caller sends only as many as it needs.
 */
const CHECK_ARGS = `
local argTimestamp = ARG(1)                 -- whole ms, or '' to take Redis TIME (clock: 'redis')
local defaultLimit = ARG(2)                 -- the limiter's default L, for a client with no config
local defaultWindow = ARG(3)                -- the limiter's default W in seconds
-- ARG(4): the limiter's bucketMs option; 0: the default ceil(W_ms / 60) (read where it is needed: RESOLVE)
local cost, limitFactor, extra, releaseAt, releaseUnits, releaseClock = 1, nil, 0, nil, 0, nil
if ARGC > 4 then
  cost = NUMBER(ARG(5) or 1)                -- units the request needs, >= 1 (0 for a release-only call); absent: 1
  limitFactor = ARG(6)                      -- effective L = floor(L * factor); absent: 1 (L unchanged)
  extra = tonumber(ARG(7) or 0)             -- lease: units to grant beyond cost, as far as they fit; absent: 0
  releaseAt = ARG(8)                        -- lease release: effective time (ms) of the unspent units; absent: none
  releaseUnits = tonumber(ARG(9) or 0)      -- lease release: unspent units to remove; absent: 0
  releaseClock = ARG(10)                    -- lease release: newest time (ms) the lease decided; the clock moves up to it; absent: none
end
`;
/**
 * Resolves the client's own limit (its config hash), else the defaults; then its bucket width g
 * (time.ts bucketWidth), the TTL and the clock. A script whose state says the client had no config
 * when it was last written (noConfig) skips the config read: SET_LIMIT clears that mark on every
 * state key of the client when it writes a config. A client with no state at all (fresh: new, or
 * forgotten) is asked EXISTS first: most have no config, and EXISTS answers that for half of what
 * HMGET's reply of nils costs Redis (in a batch, one EXISTS may answer for all the entries after
 * it: see BATCH_CONFIG_ABSENT). `ttlArg` is the TTL as given to redis.call (in a batch, text
 * made once: a number is formatted with sprintf on every call).
 */
const RESOLVE = `
local L, W
if not noConfig then
  if fresh and CONFIG_ABSENT() then
    noConfig = true
  else
    local cfg = redis.call('HMGET', CONFIG_KEY, 'L', 'W')
    if cfg[1] and cfg[2] then
      L, W = tonumber(cfg[1]), tonumber(cfg[2])
    else
      noConfig = true
    end
  end
end
local Wms, g, ttl, ttlArg
if noConfig then
  DEFAULT_LIMIT()
else
  local bucketArg = NUMBER(ARG(4))
  Wms = W * 1000
  ${bucketWidthLua('g', 'Wms')}
  ttl = Wms + g + ${LATE_ARRIVAL_GRACE_MS}
  ttlArg = ttl
end
if limitFactor and limitFactor ~= '1' then L = math.floor(L * tonumber(limitFactor)) end
${requestTimeLua('NUMBER')}
`;

/** DEFAULT_LIMIT() in a script of its own: L, W and what follows from them, from the defaults. */
const DEFAULT_LIMIT_SINGLE = `L, W = tonumber(defaultLimit), tonumber(defaultWindow)
  local bucketArg = tonumber(ARGV[4])
  Wms = W * 1000
  ${bucketWidthLua('g', 'Wms')}
  ttl = Wms + g + ${LATE_ARRIVAL_GRACE_MS}
  ttlArg = ttl`;

/**
 * DEFAULT_LIMIT() in a batch: its entries mostly share their four first arguments (s: their offset),
 * so what follows from the defaults is worked out once per batch (per run of entries with the same s).
 */
const DEFAULT_LIMIT_BATCH = `if defaultsAt ~= s then resolveDefaults(s) end
  L, W, Wms, g, ttl, ttlArg = dL, dW, dWms, dG, dTtl, dTtlArg`;

/**
 * Batch level: CONFIG_ABSENT() of the entry whose keys sit at offset k, true when its config key does
 * not exist. No check writes a config, so what EXISTS says holds for the whole batch: from the second
 * client with no state on, one EXISTS over the config keys of every entry from there to the end
 * answers for all of them when none exists (many new clients at once), at a fraction of an EXISTS
 * each; when one does, each asks its own, as the first did.
 */
function batchConfigAbsent(numberOfKeys: number): string {
  return `local listed = unpack
local absentFrom, freshSeen, probed = nil, 0, false
local function configAbsent(k)
  if absentFrom and k >= absentFrom then return true end
  freshSeen = freshSeen + 1
  if freshSeen >= 2 and not probed then
    probed = true
    local configKeys, n = {}, 0
    for j = k + 2, #batchKeys, ${numberOfKeys} do
      n = n + 1
      configKeys[n] = batchKeys[j]
    end
    if redis.call('EXISTS', listed(configKeys)) == 0 then
      absentFrom = k
      return true
    end
  end
  return redis.call('EXISTS', batchKeys[k + 2]) == 0
end`;
}

/** Batch level: the defaults of the entries whose first four arguments sit at offset s. */
const BATCH_DEFAULTS = `local defaultsAt, dL, dW, dWms, dG, dTtl, dTtlArg = nil, 0, 0, 0, 0, 0, ''
local function resolveDefaults(s)
  local bucketArg = cachedNumber(batchArgs[s + 4])
  dL, dW = cachedNumber(batchArgs[s + 2]), cachedNumber(batchArgs[s + 3])
  dWms = dW * 1000
  ${bucketWidthLua('dG', 'dWms')}
  dTtl = dWms + dG + ${LATE_ARRIVAL_GRACE_MS}
  dTtlArg = string.format('%.0f', dTtl)
  defaultsAt = s
end`;

/**
 * The reply of every check script (see the conventions above). A plain allowed check (the request's
 * defaults for L and W, decided at its own timestamp, nothing granted) gets a short reply instead:
 * struct '<Bdd' = REPLY_SHORT, remaining, resetAfter in ms; the caller fills in the rest from its
 * request. Packing three fields costs Redis half of eight.
 */
const REPLY = `if allowed and granted == 0 and noConfig and e == t and argTimestamp ~= '' and not (limitFactor and limitFactor ~= '1') then
  RUN_STARTS()
  return struct.pack('<Bdd', ${REPLY_SHORT}, remaining, resetAfter)
end
return struct.pack('<Bddddddd', allowed and 1 or 0, L, W, remaining, retryAfter, resetAfter, e, granted)
`;

// ---- 'sliding-window': a packed string of buckets, front-pruned ---------------------------------
//
// Layout (little-endian): a 28-byte header, then 16-byte pairs oldest first.
//   header: clock T in ms (double) | total units from head on (double) | g, the bucket width in ms
//           the pairs were made with (double) | head (uint32)
//   head:   the byte offset of the first pair, plus NO_CONFIG (2^31) when the client had no config
//           of its own at the last write (so the next check skips the config read)
//   pair:   bucket index (double) | units (double)
// Records are only appended in the bucket of the clock, which never runs backwards, and a bucket
// is recorded once (units merge into the last pair), so the pairs stay sorted, and a client holds
// at most ceil(W_ms / g) + 1 of them: pruning moves `head` forward. A small value (read whole) is
// rewritten with one SET (cheaper for Redis than SETRANGEs plus a PEXPIRE); a larger one is changed
// in place (SETRANGE header, APPEND or SETRANGE of the last pair) and rewritten without its dead
// front only when the dead part is at least as long as the live part (amortized O(1) per record).
// Reads fetch the header and the first READ bytes in one GETRANGE; later pairs are fetched in
// READ-byte chunks only when a walk reaches them. Units released down to 0 stay as empty pairs
// until pruned (walks skip them).

/** The sliding-window value's layout (see above); the policy scripts use the same one. */
export const WINDOW_HEADER_BYTES = 28;
export const WINDOW_PAIR_BYTES = 16;
const WINDOW_READ_BYTES = 512;
/** Bytes a check reads first (the header and the first pairs): a value shorter than this is read whole. */
const WINDOW_FIRST_READ = WINDOW_HEADER_BYTES + WINDOW_READ_BYTES;
/** The NO_CONFIG mark in the head field of the 'sliding-window' header. */
const WINDOW_NO_CONFIG = 2147483648;

/**
 * Lua that moves the pairs of `value` from byte offset `head` on, in buckets after `horizon`, to
 * buckets of width `g` (SPEC: each unit to the bucket of min(end of its old bucket, clock), never
 * earlier), merging equal buckets. Sets `movedBody` (the packed pairs) and `movedTotal`.
 */
export function rebucketLua(value: string, head: string, oldG: string, clock: string, g: string, horizon: string): string {
  return `local movedBody, movedTotal = {}, 0
do
  local last, lastUnits = nil, 0
  for pos = ${head}, #${value} - ${WINDOW_PAIR_BYTES}, ${WINDOW_PAIR_BYTES} do
    local b, n = struct.unpack('<dd', ${value}, pos + 1)
    if b > ${horizon} and n > 0 then
      local lastMs = (b + 1) * ${oldG} - 1
      if lastMs > ${clock} then lastMs = ${clock} end
      local nb = math.floor(lastMs / ${g})
      if nb == last then
        lastUnits = lastUnits + n
      else
        if last then movedBody[#movedBody + 1] = struct.pack('<dd', last, lastUnits) end
        last, lastUnits = nb, n
      end
      movedTotal = movedTotal + n
    end
  end
  if last then movedBody[#movedBody + 1] = struct.pack('<dd', last, lastUnits) end
end
movedBody = table.concat(movedBody)
`;
}

/**
 * The window value being read and the reader of its pairs: declared once (in a batch, once for all
 * its entries: a closure made per entry costs Redis more than most of a check), set by WINDOW_STATE.
 */
const WINDOW_READER = `
local HEADER, PAIR, READ, NO_CONFIG = ${WINDOW_HEADER_BYTES}, ${WINDOW_PAIR_BYTES}, ${WINDOW_READ_BYTES}, ${WINDOW_NO_CONFIG}
local unpack, pack = struct.unpack, struct.pack
local key, chunkAt, chunk, valueEnd
-- The pair at byte offset pos: bucket, units; nil past the end. backward: fetch the chunk ending at pos.
local function pairAt(pos, backward)
  if pos < HEADER or (valueEnd and pos + PAIR > valueEnd) then return nil end
  if pos < chunkAt or pos + PAIR > chunkAt + #chunk then
    local from = pos
    if backward then from = math.max(HEADER, pos + PAIR - READ) end
    chunk = redis.call('GETRANGE', key, from, from + READ - 1)
    chunkAt = from
    if #chunk < READ then valueEnd = from + #chunk end
    if pos + PAIR > chunkAt + #chunk then return nil end
  end
  return unpack('<dd', chunk, pos - chunkAt + 1)
end
`;

const WINDOW_STATE = `
key = KEY(1)
-- String arguments: redis.call() would format numbers with sprintf('%.14g') on every run.
local raw = LOAD_WINDOW(key) -- bytes 0 .. HEADER + READ - 1
local clock, total, storedG, head, noConfig, fresh = -1, 0, 0, HEADER, false, false
chunkAt, chunk, valueEnd = 0, raw, nil
if #raw >= HEADER then
  clock, total, storedG, head = unpack('<dddI4', raw)
  if head >= NO_CONFIG then head, noConfig = head - NO_CONFIG, true end
  if #raw < HEADER + READ then valueEnd = #raw end
else
  raw = ''
  chunk, valueEnd, fresh = '', HEADER, true
end
-- True while raw holds the whole value (a release changes it in raw, and marks it dirty: to be written).
local whole = valueEnd ~= nil
local dirty = false
`;

/**
 * count-deque.ts release(): only units whose bucket (under the width they were recorded with) the
 * window at the clock still counts; newest pairs first.
 */
const WINDOW_RELEASE = `
if releaseAt and clock >= 0 then
  local bucket = math.floor(tonumber(releaseAt) / storedG)
  if bucket >= math.floor((clock - Wms + 1) / storedG) then
    local units = releaseUnits
    if not valueEnd then valueEnd = redis.call('STRLEN', key) end
    local pos = valueEnd - PAIR
    local changed = false
    while pos >= head and units > 0 do
      local b, n = pairAt(pos, true)
      if b < bucket then break end
      if b == bucket and n > 0 then
        local take = math.min(units, n)
        if whole then
          raw = string.sub(raw, 1, pos) .. pack('<dd', b, n - take) .. string.sub(raw, pos + PAIR + 1)
          chunk = raw
        else
          redis.call('SETRANGE', key, pos, pack('<dd', b, n - take))
        end
        total = total - take
        units = units - take
        changed = true
      end
      pos = pos - PAIR
    end
    if changed then
      if whole then
        dirty = true
      else
        chunk = ''
        redis.call('SETRANGE', key, 0, pack('<dddI4', clock, total, storedG, noConfig and head + NO_CONFIG or head))
        redis.call('PEXPIRE', key, ttlArg)
      end
    end
  end
  -- Requests the lease decided after the units' time (in the same bucket) were allowed up to releaseClock.
  if releaseClock and tonumber(releaseClock) > clock then
    clock = tonumber(releaseClock)
    if whole then
      dirty = true
    else
      redis.call('SETRANGE', key, 0, pack('<dddI4', clock, total, storedG, noConfig and head + NO_CONFIG or head))
    end
  end
end
`;

/**
 * A release applied to a value held whole is written once, by the check's own write when it
 * records; otherwise (a denial, a release alone) here.
 */
const WINDOW_FLUSH = `
if dirty then
  SAVE_WINDOW(key, pack('<dddI4', clock, total, storedG, noConfig and head + NO_CONFIG or head) .. string.sub(raw, HEADER + 1), ttlArg)
end
`;

/** count-deque.ts rebucket(): counts made with another bucket width move to this one (written at once). */
const WINDOW_REBUCKET = `
if clock >= 0 and storedG ~= g then
  local value = raw
  if not whole then value = redis.call('GET', key) end
  ${rebucketLua('value', 'head', 'storedG', 'clock', 'g', '-1/0')}
  raw = pack('<dddI4', clock, movedTotal, g, noConfig and HEADER + NO_CONFIG or HEADER) .. movedBody
  SAVE_WINDOW(key, raw, ttlArg)
  chunk, chunkAt, valueEnd, whole, head, total, storedG, dirty = raw, 0, #raw, true, HEADER, movedTotal, g, false
end
`;

/** count-deque.ts check(). */
const WINDOW_CHECK = `
local e = t
if clock > e then e = clock end
-- floor(x) as x - x % 1 (exact for every double; no C call).
local horizon = (e - Wms + 1) / g
horizon = horizon - horizon % 1 - 1
-- A value held whole (and not pruned in place) has its first two pairs read in one unpack: most
-- checks need no other but the last.
local b1, n1, b2, n2
if whole and head == HEADER then
  if valueEnd >= HEADER + 2 * PAIR then
    b1, n1, b2, n2 = unpack('<dddd', raw, HEADER + 1)
  elseif valueEnd >= HEADER + PAIR then
    b1, n1 = unpack('<dd', raw, HEADER + 1)
  end
end
-- Buckets at or before the horizon no longer count at e; they are dropped only if this request is
-- recorded (a denial must keep what a late request at the clock still counts).
local firstLive, stale, oldest, oldestUnits = head, 0, nil, 0
while true do
  local b, n
  if firstLive == HEADER and b1 then
    b, n = b1, n1
  elseif firstLive == HEADER + PAIR and b2 then
    b, n = b2, n2
  else
    b, n = pairAt(firstLive)
  end
  if not b then break end
  if b > horizon then oldest, oldestUnits = b, n break end
  stale = stale + n
  firstLive = firstLive + PAIR
end
-- The oldest live bucket with units (released pairs may sit empty before it).
if oldest and oldestUnits == 0 then
  local pos = firstLive
  oldest = nil
  while true do
    pos = pos + PAIR
    local b, n = pairAt(pos)
    if not b then break end
    if n > 0 then oldest = b break end
  end
end
local used = total - stale
local allowed = used + cost <= L
local granted, remaining, retryAfter, resetAfter = 0, 0, 0, 0
if allowed then
  if extra > 0 then granted = math.min(extra, L - used - cost) end
  local units = cost + granted
  local newTotal = used + units
  local bucket = e / g
  bucket = bucket - bucket % 1
  resetAfter = ((oldest or bucket) + 1) * g + Wms - 1 - e
  remaining = L - newTotal
  if remaining < 0 then remaining = 0 end
  if not valueEnd then valueEnd = redis.call('STRLEN', key) end
  local last = valueEnd - PAIR
  local live = valueEnd - firstLive
  -- Merge into the last pair when it is this bucket (pairs sit at or before the clock's bucket).
  local mergeUnits = nil
  if live > 0 then
    local b, n
    if last == HEADER and b1 then
      b, n = b1, n1
    elseif last == HEADER + PAIR and b2 then
      b, n = b2, n2
    else
      b, n = pairAt(last, true)
    end
    if b == bucket then mergeUnits = n + units end
  end
  local newHead = HEADER
  if noConfig then newHead = HEADER + NO_CONFIG end
  if valueEnd <= HEADER + READ or firstLive - HEADER >= live then
    -- Rewrite the whole value without its dead front: always when it is small (one SET, and the
    -- value keeps its exact size, where APPEND would over-allocate), else when the dead front is
    -- at least as long as the live part. The kept body ends before the last pair when that pair
    -- is replaced by the merged one.
    local body = nil
    if live > 0 then
      local bodyEnd = valueEnd
      if mergeUnits then bodyEnd = last end
      if bodyEnd > firstLive then
        if whole then
          body = string.sub(raw, firstLive + 1, bodyEnd)
        else
          body = redis.call('GETRANGE', key, firstLive, bodyEnd - 1)
        end
      end
    end
    -- With no body (a new client, or one bucket that takes this request too): one pack, no concatenation.
    SAVE_WINDOW(key, body and pack('<dddI4', e, newTotal, g, newHead) .. body .. pack('<dd', bucket, mergeUnits or units) or pack('<dddI4dd', e, newTotal, g, newHead, bucket, mergeUnits or units), ttlArg)
    dirty = false
  else
    redis.call('SETRANGE', key, 0, pack('<dddI4', e, newTotal, g, firstLive + newHead - HEADER))
    if mergeUnits then
      redis.call('SETRANGE', key, last, pack('<dd', bucket, mergeUnits))
    else
      redis.call('APPEND', key, pack('<dd', bucket, units))
    end
    redis.call('PEXPIRE', key, ttlArg)
    WRITTEN_IN_PLACE(e, newTotal, g, firstLive + newHead - HEADER, mergeUnits and last or valueEnd, bucket, mergeUnits or units)
  end
else
  remaining = L - used
  if remaining < 0 then remaining = 0 end
  if cost > L then
    retryAfter = -1
  else
    -- The least d >= 1 at which what is left in the window at e + d is <= L - cost: bucket b
    -- stops counting at (b + 1) * g + W_ms - 1.
    local target, left, pos = L - cost, total, head
    retryAfter = 1
    while true do
      local b, n = pairAt(pos)
      if not b then break end
      left = left - n
      if left <= target then
        retryAfter = math.max(1, (b + 1) * g + Wms - 1 - e)
        break
      end
      pos = pos + PAIR
    end
  end
  if oldest then resetAfter = (oldest + 1) * g + Wms - 1 - e end
end
`;

/**
 * KEYS[1] the client's sliding-window string ({prefix}{id}:sw2)
 * KEYS[2] the client's config hash ({prefix}{id}:cfg), read only, and only when KEYS[1] lacks the NO_CONFIG mark
 * ARGV: see CHECK_ARGS
 */
const SLIDING_WINDOW_CHECK_BODY = `local CONFIG_KEY = KEY(2)
${CHECK_ARGS}${WINDOW_STATE}${RESOLVE}${WINDOW_RELEASE}${WINDOW_REBUCKET}${WINDOW_CHECK}${WINDOW_FLUSH}${REPLY}`;

/** KEYS and ARGV as SLIDING_WINDOW_CHECK (cost 0, extra 0); removes unspent lease units only. */
const SLIDING_WINDOW_RELEASE_BODY = `local CONFIG_KEY = KEY(2)
${CHECK_ARGS}${WINDOW_STATE}${RESOLVE}${WINDOW_RELEASE}${WINDOW_FLUSH}return 0`;

// ---- 'sliding-log': a sorted set, one member per allowed request --------------------------------
//
// KEYS[1] zset: score = effective time in ms, member = '<seq>:<units>' (seq makes members unique). It
//   holds the entries after clock - W (pruned whenever one is recorded), as count-deque.ts's buffer
//   does: 'sliding-window' with g = 1 ms.
// KEYS[3] meta string '<clock> <seq> <total units in the zset>', then ' n' (NO_CONFIG: the client had
//   no config of its own at the last write) or ' c' (SET_LIMIT cleared that mark) or nothing. Without
//   meta the zset is treated as empty (and replaced). The total makes `used` O(entries leaving the
//   window), not O(window).

/** Read before RESOLVE, which needs the NO_CONFIG mark. */
const LOG_STATE = `
local log, metaKey = KEY(1), KEY(3)
local clock, seq, total, noConfig = -1, 0, 0, false
local fresh = true
do
  local meta = redis.call('GET', metaKey)
  if meta then
    fresh = false
    local c, s, n, mark = string.match(meta, '^(%d+) (%d+) (%d+)(.*)$')
    clock, seq, total, noConfig = tonumber(c), tonumber(s), tonumber(n), mark == ' n'
  end
end
`;

/** After RESOLVE: the helpers need its ttl (the log's buckets are 1 ms). */
const LOG_HELPERS = `
ttl = Wms + 1 + ${LATE_ARRIVAL_GRACE_MS}
local function fmt(n) return string.format('%.0f', n) end
local function unitsOf(member) return tonumber(string.match(member, ':(%d+)$')) end
local function saveMeta()
  redis.call('SET', metaKey, string.format(noConfig and '%.0f %.0f %.0f n' or '%.0f %.0f %.0f', clock, seq, total), 'PX', ttl)
end
`;

const LOG_RELEASE = `
if releaseAt and clock >= 0 then
  local at = tonumber(releaseAt)
  if at > clock - Wms then
    local units = releaseUnits
    local members = redis.call('ZRANGEBYSCORE', log, at, at)
    for i = #members, 1, -1 do
      if units <= 0 then break end
      local member = members[i]
      local n = unitsOf(member)
      local take = math.min(units, n)
      redis.call('ZREM', log, member)
      if n - take > 0 then
        redis.call('ZADD', log, at, string.match(member, '^(%d+):') .. ':' .. fmt(n - take))
      end
      units = units - take
      total = total - take
    end
    if units ~= releaseUnits then
      redis.call('PEXPIRE', log, ttl)
      saveMeta()
    end
  end
  -- Requests the lease decided after the units' time were allowed up to releaseClock.
  if releaseClock and tonumber(releaseClock) > clock then
    clock = tonumber(releaseClock)
    saveMeta()
  end
end
`;

const LOG_CHECK = `
local e = t
if clock > e then e = clock end
local horizon = e - Wms
-- Entries at or before the horizon no longer count at e (they are removed only if this request is recorded).
local stale, staleCount, oldest = 0, 0, nil
if clock >= 0 then
  local leaving = redis.call('ZRANGEBYSCORE', log, '-inf', fmt(horizon))
  staleCount = #leaving
  for i = 1, staleCount do stale = stale + unitsOf(leaving[i]) end
  local first = redis.call('ZRANGEBYSCORE', log, '(' .. fmt(horizon), '+inf', 'WITHSCORES', 'LIMIT', '0', '1')
  if first[2] then oldest = tonumber(first[2]) end
end
local used = total - stale
local allowed = used + cost <= L
local granted, remaining, retryAfter, resetAfter = 0, 0, 0, 0
if allowed then
  granted = math.min(extra, L - used - cost)
  local units = cost + granted
  if clock < 0 then redis.call('DEL', log) elseif staleCount > 0 then redis.call('ZREMRANGEBYSCORE', log, '-inf', fmt(horizon)) end
  seq = seq + 1
  redis.call('ZADD', log, e, fmt(seq) .. ':' .. fmt(units))
  redis.call('PEXPIRE', log, ttl)
  clock, total = e, used + units
  saveMeta()
  remaining = math.max(0, L - total)
  resetAfter = (oldest or e) + Wms - e
else
  remaining = math.max(0, L - used)
  if cost > L then
    retryAfter = -1
  else
    -- Walk the window oldest first, a page at a time, until what is left fits.
    local target, left, offset, PAGE = L - cost, used, 0, 64
    retryAfter = 1
    local found = false
    while not found do
      local page = redis.call('ZRANGEBYSCORE', log, '(' .. fmt(horizon), '+inf', 'WITHSCORES', 'LIMIT', offset, PAGE)
      for i = 1, #page, 2 do
        left = left - unitsOf(page[i])
        if left <= target then
          retryAfter = math.max(1, tonumber(page[i + 1]) + Wms - e)
          found = true
          break
        end
      end
      if #page < 2 * PAGE then break end
      offset = offset + PAGE
    end
  end
  resetAfter = oldest and (oldest + Wms - e) or 0
end
`;

/**
 * KEYS[1] the client's log zset ({prefix}{id}:sl2)
 * KEYS[2] the client's config hash ({prefix}{id}:cfg), read only, and only when KEYS[3] lacks the NO_CONFIG mark
 * KEYS[3] the client's log meta string ({prefix}{id}:slm2): '<clock> <seq> <total>' and the NO_CONFIG mark (see above)
 * ARGV: see CHECK_ARGS
 */
const SLIDING_LOG_CHECK_BODY = `local CONFIG_KEY = KEY(2)
${CHECK_ARGS}${LOG_STATE}${RESOLVE}${LOG_HELPERS}${LOG_RELEASE}${LOG_CHECK}${REPLY}`;

/** KEYS and ARGV as SLIDING_LOG_CHECK (cost 0, extra 0); removes unspent lease units only. */
const SLIDING_LOG_RELEASE_BODY = `local CONFIG_KEY = KEY(2)
${CHECK_ARGS}${LOG_STATE}${RESOLVE}${LOG_HELPERS}${LOG_RELEASE}return 0`;

// ---- 'sliding-counter': '<clock> <index> <previous> <current>[ n| c]' ------------------------------
//
// A trailing ' n' is the NO_CONFIG mark (the client had no config of its own at the last write);
// SET_LIMIT turns it into ' c' in place (same length, TTL kept); a check's rewrite drops that.

/** sliding-counter.ts estimateAt / delayUntilAtMost, with the same operation order. */
const COUNTER_MATH = `
local function estimateAt(vIndex, vPrevious, vCurrent, at, window)
  local index = math.floor(at / window)
  local intoWindow = at - index * window
  if index == vIndex then return (vPrevious * (window - intoWindow)) / window + vCurrent end
  if index == vIndex + 1 then return (vCurrent * (window - intoWindow)) / window end
  return 0
end
-- estimateAt inlined (same expressions): this search runs on every decision, for resetAfter.
local function delayUntilAtMost(vIndex, vPrevious, vCurrent, e, target, window)
  local floor = math.floor
  local lo, hi = 1, math.max(1, (vIndex + 2) * window - e)
  while lo < hi do
    local mid = lo + floor((hi - lo) / 2)
    local at = e + mid
    local index = floor(at / window)
    local intoWindow = at - index * window
    local estimate = 0
    if index == vIndex then
      estimate = (vPrevious * (window - intoWindow)) / window + vCurrent
    elseif index == vIndex + 1 then
      estimate = (vCurrent * (window - intoWindow)) / window
    end
    if floor(estimate) <= target then hi = mid else lo = mid + 1 end
  end
  return lo
end
-- The two windows as seen from e >= clock (sliding-counter.ts viewAt).
local function viewAt(clock, index, previous, current, e, window)
  local vIndex = math.floor(e / window)
  if clock < 0 or vIndex > index + 1 then return vIndex, 0, 0 end
  if vIndex == index + 1 then return vIndex, current, 0 end
  return vIndex, previous, current
end
`;

/** Read before RESOLVE, which needs the NO_CONFIG mark. */
const COUNTER_STATE = `
local key = KEY(1)
local clock, index, previous, current, noConfig = -1, 0, 0, 0, false
local fresh = true
do
  local state = redis.call('GET', key)
  if state then
    fresh = false
    local c, i, p, n, mark = string.match(state, '^(%d+) (%-?%d+) (%d+) (%d+)(.*)$')
    clock, index, previous, current, noConfig = tonumber(c), tonumber(i), tonumber(p), tonumber(n), mark == ' n'
  end
end
`;

/** After RESOLVE: needs its ttl. */
const COUNTER_SAVE = `
local function save()
  redis.call('SET', key, string.format(noConfig and '%.0f %.0f %.0f %.0f n' or '%.0f %.0f %.0f %.0f', clock, index, previous, current), 'PX', ttl)
end
`;

const COUNTER_RELEASE = `
if releaseAt and clock >= 0 then
  local at = tonumber(releaseAt)
  local releasedIndex = math.floor(at / Wms)
  if releasedIndex == index then
    current = math.max(0, current - releaseUnits)
    save()
  elseif releasedIndex == index - 1 then
    previous = math.max(0, previous - releaseUnits)
    save()
  end
end
`;

const COUNTER_CHECK = `
local e = t
if clock > e then e = clock end
local vIndex, vPrevious, vCurrent = viewAt(clock, index, previous, current, e, Wms)
local used = math.floor(estimateAt(vIndex, vPrevious, vCurrent, e, Wms))
local allowed = used + cost <= L
local granted, retryAfter = 0, 0
if allowed then
  granted = math.min(extra, L - used - cost)
  vCurrent = vCurrent + cost + granted
  clock, index, previous, current = e, vIndex, vPrevious, vCurrent
  save()
end
local usedAfter = used
if allowed then usedAfter = used + cost + granted end
if not allowed then
  if cost > L then retryAfter = -1 else retryAfter = delayUntilAtMost(vIndex, vPrevious, vCurrent, e, L - cost, Wms) end
end
local resetAfter = 0
if usedAfter > 0 then resetAfter = delayUntilAtMost(vIndex, vPrevious, vCurrent, e, usedAfter - 1, Wms) end
local remaining = math.max(0, L - usedAfter)
`;

/**
 * KEYS[1] the client's counter string ({prefix}{id}:sc2)
 * KEYS[2] the client's config hash ({prefix}{id}:cfg), read only, and only when KEYS[1] lacks the NO_CONFIG mark
 * ARGV: see CHECK_ARGS
 */
const SLIDING_COUNTER_CHECK_BODY = `local CONFIG_KEY = KEY(2)
${CHECK_ARGS}${COUNTER_STATE}${RESOLVE}${COUNTER_MATH}${COUNTER_SAVE}${COUNTER_RELEASE}${COUNTER_CHECK}${REPLY}`;

/** KEYS and ARGV as SLIDING_COUNTER_CHECK (cost 0, extra 0); removes unspent lease units only. */
const SLIDING_COUNTER_RELEASE_BODY = `local CONFIG_KEY = KEY(2)
${CHECK_ARGS}${COUNTER_STATE}${RESOLVE}${COUNTER_SAVE}${COUNTER_RELEASE}return 0`;

// ---- setLimit ------------------------------------------------------------------------------------

/**
 * Stores a client's own limit, applies the window-change rule to the algorithm's state at the
 * client's clock (engine changeWindow: units that had left the old window go, the rest move to
 * buckets of the new width), clears the NO_CONFIG mark of every algorithm's state (so every later
 * check reads the config), and announces the change.
 *
 * KEYS[1] the client's config hash ({prefix}{id}:cfg): HSET L W, never expires
 * KEYS[2] the client's sliding-window string ({prefix}{id}:sw2)
 * KEYS[3] the client's log zset ({prefix}{id}:sl2)
 * KEYS[4] the client's log meta string ({prefix}{id}:slm2)
 * KEYS[5] the client's counter string ({prefix}{id}:sc2)
 * ARGV[1] algorithm whose state the window change applies to: 'sliding-window' | 'sliding-log' | 'sliding-counter'
 * ARGV[2] the new limit L
 * ARGV[3] the new window W in seconds
 * ARGV[4] the limiter's default W, the old window when the client had no config of its own
 * ARGV[5] the pub/sub channel ({prefix}limits)
 * ARGV[6] the message: the encoded client id
 * ARGV[7] the limiter's bucketMs option; 0: the default ceil(W_ms / 60)
 */
export const SET_LIMIT = `
local algorithm = ARGV[1]
local newWindow = tonumber(ARGV[3])
local oldWindow = tonumber(redis.call('HGET', KEYS[1], 'W') or ARGV[4])
local newWms, oldWms = newWindow * 1000, oldWindow * 1000
local bucketArg = tonumber(ARGV[7])
local newG
${bucketWidthLua('newG', 'newWms')}
local ttl = newWms + newG + ${LATE_ARRIVAL_GRACE_MS}
local HEADER, NO_CONFIG = ${WINDOW_HEADER_BYTES}, ${WINDOW_NO_CONFIG}
local function fmt(n) return string.format('%.0f', n) end
${COUNTER_MATH}
if oldWindow ~= newWindow then
  if algorithm == 'sliding-window' then
    local key = KEYS[2]
    local value = redis.call('GET', key)
    if value and #value >= HEADER then
      local clock, total, oldG, head = struct.unpack('<dddI4', value)
      if head >= NO_CONFIG then head = head - NO_CONFIG end
      ${rebucketLua('value', 'head', 'oldG', 'clock', 'newG', 'math.floor((clock - oldWms + 1) / oldG) - 1')}
      -- Written without the NO_CONFIG mark: the client has a config from now on.
      redis.call('SET', key, struct.pack('<dddI4', clock, movedTotal, newG, HEADER) .. movedBody, 'PX', ttl)
    end
  elseif algorithm == 'sliding-log' then
    local key = KEYS[3]
    local meta = redis.call('GET', KEYS[4])
    if meta then
      local c, s, n = string.match(meta, '^(%d+) (%d+) (%d+)')
      local total = tonumber(n)
      local leaving = redis.call('ZRANGEBYSCORE', key, '-inf', fmt(tonumber(c) - oldWms))
      for i = 1, #leaving do total = total - tonumber(string.match(leaving[i], ':(%d+)$')) end
      redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(tonumber(c) - oldWms))
      redis.call('PEXPIRE', key, newWms + 1 + ${LATE_ARRIVAL_GRACE_MS})
      redis.call('SET', KEYS[4], c .. ' ' .. s .. ' ' .. fmt(total), 'PX', newWms + 1 + ${LATE_ARRIVAL_GRACE_MS})
    end
  else
    local key = KEYS[5]
    local state = redis.call('GET', key)
    if state then
      local c, i, p, n = string.match(state, '^(%d+) (%-?%d+) (%d+) (%d+)')
      local clock = tonumber(c)
      -- The estimate at the clock under the old alignment becomes the new current window, rounded up.
      local vIndex, vPrevious, vCurrent = viewAt(clock, tonumber(i), tonumber(p), tonumber(n), clock, oldWms)
      local carried = math.ceil(estimateAt(vIndex, vPrevious, vCurrent, clock, oldWms))
      redis.call('SET', key, c .. ' ' .. fmt(math.floor(clock / newWms)) .. ' 0 ' .. fmt(carried), 'PX', ttl)
    end
  end
end
-- Clear the NO_CONFIG marks in place (SETRANGE keeps each key's TTL; a missing key is left missing).
do
  local headField = redis.call('GETRANGE', KEYS[2], HEADER - 4, HEADER - 1)
  if #headField == 4 then
    local head = struct.unpack('<I4', headField)
    if head >= NO_CONFIG then redis.call('SETRANGE', KEYS[2], HEADER - 4, struct.pack('<I4', head - NO_CONFIG)) end
  end
  for _, key in ipairs({ KEYS[4], KEYS[5] }) do
    if redis.call('GETRANGE', key, -2, -1) == ' n' then redis.call('SETRANGE', key, redis.call('STRLEN', key) - 1, 'c') end
  end
end
redis.call('HSET', KEYS[1], 'L', ARGV[2], 'W', ARGV[3])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`;

// ---- a script of its own, or one entry of a batch ---------------------------------------------

/**
 * Check bodies reach their keys and arguments through KEY(n) and ARG(n), and convert numbers
 * through NUMBER(). As a script of its own they are KEYS[n], ARGV[n] and tonumber(). As one entry of a batch they read the batch's flat KEYS and ARGV at the entry's
 * offsets (no tables per entry), and the conversions are cached for the batch: its entries mostly
 * share their defaults and timestamp, and tonumber() (strtod) is among the dearest steps of a check.
 */
function asScript(body: string, prelude = ''): string {
  return (prelude + body)
    .replace(/^\s*RUN_STARTS\(\)\n/m, '')
    .replace(/^\s*WRITTEN_IN_PLACE\(.*\)\n/m, '')
    .replace(/\bDEFAULT_LIMIT\(\)/g, DEFAULT_LIMIT_SINGLE)
    .replace(/\bCONFIG_ABSENT\(\)/g, "redis.call('EXISTS', CONFIG_KEY) == 0")
    .replace(/\bLOAD_WINDOW\(key\)/g, `redis.call('GETRANGE', key, '0', '${WINDOW_FIRST_READ - 1}')`)
    .replace(/\bSAVE_WINDOW\(key, (.*), ttlArg\)$/gm, "redis.call('SET', key, $1, 'PX', ttlArg)")
    .replace(/\bKEY\((\d+)\)/g, 'KEYS[$1]')
    .replace(/\bARGC\b/g, '#ARGV')
    .replace(/\bARG\((\d+)\)/g, 'ARGV[$1]')
    .replace(/\bNUMBER\(/g, 'tonumber(');
}

/**
 * Every check has at least the first four arguments of CHECK_ARGS (timestamp, default limit and
 * window, bucketMs); in a batch, an entry whose four equal the first entry's sends none of them.
 */
export const ALWAYS_SENT_ARGS = 4;

function asBatchEntry(body: string, numberOfKeys: number): string {
  return body
    // A plain allowed check whose value was handed on or written in place starts a run (see HOT_RUN).
    .replace(/^(\s*)RUN_STARTS\(\)$/m, (_match, indent: string) =>
      body.includes('LOAD_WINDOW') ? `${indent}if carriedKey == key or placedKey == key then startRun(key, CONFIG_KEY, s, L, L - remaining, resetAfter) end` : '',
    )
    .replace(/^(\s*)WRITTEN_IN_PLACE\((.*)\)$/m, (_match, indent: string, fields: string) => `${indent}placed(key, ${fields})`)
    .replace(/\bDEFAULT_LIMIT\(\)/g, DEFAULT_LIMIT_BATCH)
    .replace(/\bCONFIG_ABSENT\(\)/g, 'configAbsent(k)')
    // Inlined rather than called: they run for every entry, and a Lua call costs more than the test.
    .replace(
      /^local raw = LOAD_WINDOW\(key\).*$/m,
      `local raw
if carriedKey == key and not releaseAt then
  raw = carriedValue
else
  if carriedKey then flushWindow() end
  raw = redis.call('GETRANGE', key, '0', '${WINDOW_FIRST_READ - 1}')
end`,
    )
    .replace(
      /^(\s*)SAVE_WINDOW\(key, (.*), ttlArg\)$/gm,
      (_match, indent: string, value: string) =>
        `${indent}local saved = ${value}\n` +
        `${indent}if batchKeys[k + ${numberOfKeys + 1}] == key and #saved < ${WINDOW_FIRST_READ} then -- read whole by the next entry (see WINDOW_STATE)\n` +
        `${indent}  carriedKey, carriedValue, carriedTtl = key, saved, ttlArg\n` +
        `${indent}else\n` +
        `${indent}  -- Written before the hand-on is dropped: if the write fails, what was handed on is still written.\n` +
        `${indent}  redis.call('SET', key, saved, 'PX', ttlArg)\n` +
        `${indent}  carriedKey = nil\n` +
        `${indent}end`,
    )
    .replace(/\bKEY\((\d+)\)/g, 'batchKeys[k + $1]')
    .replace(/\bARGC\b/g, 'argc')
    .replace(/\bARG\((\d+)\)/g, (_match, n: string) => (Number(n) <= ALWAYS_SENT_ARGS ? `batchArgs[s + ${n}]` : `(argc >= ${n} and batchArgs[a + ${n}] or nil)`))
    .replace(/\bNUMBER\(/g, 'cachedNumber(');
}

/** Status byte of a batch entry that failed (a decision's first byte is 0 or 1). */
export const BATCH_ENTRY_ERROR = 2;

/**
 * A check script that runs many checks, in order, in one call: what a RedisStore sends when several
 * checks are waiting at once. Each entry runs the single-check body unchanged (as a function of its
 * offsets in KEYS and ARGV), so it decides exactly as that script would, one after another, each on
 * the state the previous left. Entries are independent: one that fails (WRONGTYPE, say) is reported
 * in its place, as its own EVALSHA would fail, and the others go on.
 * KEYS: numberOfKeys keys per entry, entries in order (a Cluster batch holds one slot's entries).
 * ARGV: for each entry with arguments of its own, in order: its number (1-based), its argument count,
 * then its arguments (CHECK_ARGS). The first entry always has its own; an entry left out has the
 * first entry's first four arguments and nothing more (the usual case: one limiter, one second, no
 * lease), and costs no argument at all.
 * Reply: the entries' replies back to back: a decision (CHECK_REPLY_BYTES, or CHECK_REPLY_SHORT_BYTES) or BATCH_ENTRY_ERROR,
 * a uint32 length and the error's message.
 */
function batchCheckScript(body: string, numberOfKeys: number, prelude = ''): string {
  const carries = body.includes('LOAD_WINDOW');
  return `local batchKeys, batchArgs = KEYS, ARGV
local numbers = {}
local function cachedNumber(text)
  local n = numbers[text]
  if n == nil then
    n = tonumber(text)
    numbers[text] = n
  end
  return n
end
${BATCH_DEFAULTS}
${batchConfigAbsent(numberOfKeys)}
${asBatchEntry(prelude, numberOfKeys)}
${carries ? CARRIED_WINDOW + HOT_RUN : ''}
-- k, a: offsets of the entry's keys and of its argument count; s: of its first four arguments (a, or the first entry's).
local function checkOne(k, a, s, argc)
${asBatchEntry(body, numberOfKeys)}
end
-- nextEntry: the next entry with arguments of its own; a: the offset of its count.
local replies, k, a, nextEntry = {}, 0, 2, 1
for i = 1, #batchKeys / ${numberOfKeys} do
  local argc, s = 0, 2
  if i == nextEntry then argc, s = cachedNumber(batchArgs[a]), a end
  local reply
${carries ? RUN_ENTRY : ''}  if not reply then
    local ok
${carries ? '    placedKey = nil\n' : ''}    ok, reply = pcall(checkOne, k, a, s, argc)
    if not ok then
      local message = type(reply) == 'table' and (reply.err or 'ERR unknown') or tostring(reply)
      reply = struct.pack('<BI4', ${BATCH_ENTRY_ERROR}, #message) .. message
    end
  end
  replies[i] = reply
  k = k + ${numberOfKeys}
  if i == nextEntry then
    local following = batchArgs[a + argc + 1]
    a = a + argc + 2
    nextEntry = following and cachedNumber(following)
  end
end
${carries ? 'endRun()\nflushWindow()\n' : ''}return table.concat(replies)
`;
}

/**
 * 'sliding-window' entries of one client that follow each other in a batch (a hot client's
 * requests in flight at once) hand the client's value on in memory: an entry whose successor is
 * the same client keeps its new value instead of writing it, and the successor reads it instead
 * of Redis; the last one writes. Redis sees one read and one write for the run, with the TTL of
 * the last write, exactly as the writes one after another would leave it. Only a small value
 * (read whole) is handed on; an entry with a lease release reads Redis itself. What was handed on
 * stays until it is written, so an entry that fails or denies leaves it for the next.
 */
const CARRIED_WINDOW = `local carriedKey, carriedValue, carriedTtl = nil, nil, nil
local function flushWindow()
  if carriedKey then
    redis.call('SET', carriedKey, carriedValue, 'PX', carriedTtl)
    carriedKey = nil
  end
end`;

/**
 * A hot client's run: after a plain allowed check (a short reply), the entries that follow for
 * the same client with the same four first arguments and nothing more (cost 1, no lease, no
 * release: what a hot client's requests in flight send) see exactly the state it left: the same
 * time and bucket, the same oldest bucket, one more unit used each. So each is decided by a
 * count, not by the whole check: allowed while the count fits L, with the same resetAfter. The
 * run's units are added once, when it ends: to the value handed on in memory, or, for a value too
 * large to hand on (written in place), with two SETRANGEs. The first entry that does not fit, or
 * any other entry, ends the run and goes through the whole check.
 */
const HOT_RUN = `
local runKey, runConfigKey, runS, runL, runUsed, runResetAfter, runPending = nil, nil, 0, 0, 0, 0, 0
-- A value too large to hand on, written in place by the entry before: its header and its last pair.
local placedKey, placedClock, placedTotal, placedG, placedHead, placedAt, placedBucket, placedUnits
local function placed(key, clock, total, g, head, at, bucket, units)
  placedKey, placedClock, placedTotal, placedG, placedHead, placedAt, placedBucket, placedUnits = key, clock, total, g, head, at, bucket, units
end
local runPlaced = false
local function startRun(key, configKey, s, L, used, resetAfter)
  runKey, runConfigKey, runS, runL, runUsed, runResetAfter, runPending = key, configKey, s, L, used, resetAfter, 0
  runPlaced = placedKey == key and carriedKey ~= key
end
-- Adds the run's units to the client's value: to the header's total and to its last pair (the bucket of the run's time).
local function endRun()
  if runPending > 0 then
    if runPlaced then
      redis.call('SETRANGE', runKey, 0, pack('<dddI4', placedClock, placedTotal + runPending, placedG, placedHead))
      redis.call('SETRANGE', runKey, placedAt, pack('<dd', placedBucket, placedUnits + runPending))
    else
      local value = carriedValue
      local clock, total, g, head = unpack('<dddI4', value)
      local b, n = unpack('<dd', value, #value - PAIR + 1)
      carriedValue = pack('<dddI4', clock, total + runPending, g, head) .. string.sub(value, HEADER + 1, #value - PAIR) .. pack('<dd', b, n + runPending)
    end
    runPending = 0
  end
  runKey = nil
end
`;

/** In the batch loop: the entry decided as part of a run, or the run ended (reply stays nil). */
const RUN_ENTRY = `  if runKey then
    if argc <= ${ALWAYS_SENT_ARGS} and batchKeys[k + 1] == runKey and batchKeys[k + 2] == runConfigKey and runUsed + 1 <= runL
      and (s == runS or (batchArgs[s + 1] == batchArgs[runS + 1] and batchArgs[s + 2] == batchArgs[runS + 2] and batchArgs[s + 3] == batchArgs[runS + 3] and batchArgs[s + 4] == batchArgs[runS + 4])) then
      runUsed = runUsed + 1
      runPending = runPending + 1
      reply = pack('<Bdd', ${REPLY_SHORT}, runL - runUsed, runResetAfter)
    else
      endRun()
    end
  end
`;

export const SLIDING_WINDOW_CHECK = asScript(SLIDING_WINDOW_CHECK_BODY, WINDOW_READER);
export const SLIDING_WINDOW_RELEASE = asScript(SLIDING_WINDOW_RELEASE_BODY, WINDOW_READER);
export const SLIDING_WINDOW_CHECK_BATCH = batchCheckScript(SLIDING_WINDOW_CHECK_BODY, 2, WINDOW_READER);
export const SLIDING_LOG_CHECK = asScript(SLIDING_LOG_CHECK_BODY);
export const SLIDING_LOG_RELEASE = asScript(SLIDING_LOG_RELEASE_BODY);
export const SLIDING_LOG_CHECK_BATCH = batchCheckScript(SLIDING_LOG_CHECK_BODY, 3);
export const SLIDING_COUNTER_CHECK = asScript(SLIDING_COUNTER_CHECK_BODY);
export const SLIDING_COUNTER_RELEASE = asScript(SLIDING_COUNTER_RELEASE_BODY);
export const SLIDING_COUNTER_CHECK_BATCH = batchCheckScript(SLIDING_COUNTER_CHECK_BODY, 2);
