/**
 * The Lua scripts of RedisStore. Each one is a single atomic step for one client (all its keys
 * share one hash tag, so it runs on one Cluster slot) and mirrors, decision for decision, the
 * in-process engines in `algorithms/` (count-deque.ts and sliding-counter.ts): same operation
 * order, same floating-point expressions, same fields.
 *
 * Conventions shared by every check script:
 * - Reply: { allowed (1/0), limit, windowSeconds, remaining, retryAfter (-1 = Infinity), resetAfter,
 *   timestamp (effective e), granted } — all integers, computed from one snapshot.
 * - A denial writes nothing (a lease release before it may). Every write of a counting key sets a
 *   relative TTL of the client's window (PX W*1000), so no counting key is ever left without one.
 * - Numbers go into state as '%.0f' (exact for integers up to 2^53, unlike tostring's 14 digits).
 */

/** ARGV of every check script (KEYS differ per algorithm and are listed with each script). */
const CHECK_ARGS = `
local argTimestamp = ARGV[1]             -- whole seconds, or '' to take Redis TIME (clock: 'redis')
local cost = tonumber(ARGV[2])           -- units the request needs, >= 1 (0 for a release-only call)
local defaultLimit = ARGV[3]             -- the limiter's default L, for a client with no config
local defaultWindow = ARGV[4]            -- the limiter's default W in seconds
local limitFactor = tonumber(ARGV[5])    -- effective L = floor(L * factor); 1 leaves L unchanged
local extra = tonumber(ARGV[6])          -- lease: units to grant beyond cost, as far as they fit
local releaseAt = ARGV[7]                -- lease release: second of the unspent units, or '' for none
local releaseUnits = tonumber(ARGV[8])   -- lease release: unspent units to remove
`;

/** Resolves the client's own limit (its config hash), else the defaults; then the clock. */
const RESOLVE = `
local L, W
do
  local cfg = redis.call('HMGET', CONFIG_KEY, 'L', 'W')
  if cfg[1] and cfg[2] then
    L, W = tonumber(cfg[1]), tonumber(cfg[2])
  else
    L, W = tonumber(defaultLimit), tonumber(defaultWindow)
  end
end
if limitFactor ~= 1 then L = math.floor(L * limitFactor) end
local t
if argTimestamp == '' then
  t = tonumber(redis.call('TIME')[1])
else
  t = tonumber(argTimestamp)
end
local ttl = W * 1000
local function fmt(n) return string.format('%.0f', n) end
`;

// ---- 'sliding-window': a packed string, front-pruned ------------------------------------------
//
// Layout (little-endian): a 24-byte header, then 8-byte pairs oldest first.
//   header: base (double) | clock - base (uint32) | total units from head on (double) | head (uint32 byte offset)
//   pair:   second - base (uint32) | units (uint32; more units at one second take several pairs)
// Records are only appended at the clock, which never runs backwards, so the pairs stay sorted:
// pruning moves `head` forward. A small value (<= 536 bytes, read whole) is rewritten with one SET;
// a larger one is changed in place (SETRANGE header, APPEND or SETRANGE of the last pair) and
// rewritten without its dead front only when the dead part is at least as long as the live part
// (amortized O(1) per record). Reads fetch the header
// and the first 512 bytes in one GETRANGE; later pairs are fetched in 512-byte chunks only when a
// walk reaches them. Units released down to 0 stay as empty pairs until pruned (walks skip them).

const WINDOW_STATE = `
local key = KEYS[1]
local HEADER, PAIR, READ = 24, 8, 512
local MAX_UINT32 = 4294967295
local raw = redis.call('GETRANGE', key, 0, HEADER + READ - 1)
local exists = #raw >= HEADER
local base, clock, total, head = 0, -1, 0, HEADER
local chunkAt, chunk, valueEnd = 0, raw, nil
if exists then
  local offset
  base, offset, total, head = struct.unpack('<dI4dI4', raw)
  clock = base + offset
  if #raw < HEADER + READ then valueEnd = #raw end
else
  raw = ''
  chunk, valueEnd = '', HEADER
end
-- True while raw holds the whole value as stored (a release rewrites parts of it).
local whole = valueEnd ~= nil
local function lengthOf()
  if not valueEnd then valueEnd = redis.call('STRLEN', key) end
  return valueEnd
end
-- The pair at byte offset pos: second, units; nil past the end. backward: fetch the chunk ending at pos.
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
  local offset, units = struct.unpack('<I4I4', chunk, pos - chunkAt + 1)
  return base + offset, units
end
local function header(newBase, newClock, newTotal, newHead)
  return struct.pack('<dI4dI4', newBase, newClock - newBase, newTotal, newHead)
end
local function packUnits(offset, units)
  local out = ''
  while units > MAX_UINT32 do
    out = out .. struct.pack('<I4I4', offset, MAX_UINT32)
    units = units - MAX_UINT32
  end
  return out .. struct.pack('<I4I4', offset, units)
end
-- The second of the first pair with units at or after byte pos, or nil.
local function oldestFrom(pos)
  while true do
    local second, units = pairAt(pos)
    if not second then return nil end
    if units > 0 then return second end
    pos = pos + PAIR
  end
end
`;

/** count-deque.ts release(): only units still inside the window at the clock; newest pairs first. */
const WINDOW_RELEASE = `
if releaseAt ~= '' and clock >= 0 then
  local at = tonumber(releaseAt)
  if at > clock - W then
    local units = releaseUnits
    local pos = lengthOf() - PAIR
    local changed = false
    while pos >= head and units > 0 do
      local second, n = pairAt(pos, true)
      if second < at then break end
      if second == at and n > 0 then
        local take = math.min(units, n)
        redis.call('SETRANGE', key, pos, struct.pack('<I4I4', second - base, n - take))
        total = total - take
        units = units - take
        changed = true
      end
      pos = pos - PAIR
    end
    if changed then
      chunk, whole = '', false
      redis.call('SETRANGE', key, 0, header(base, clock, total, head))
      redis.call('PEXPIRE', key, ttl)
    end
  end
end
`;

/** count-deque.ts check(). */
const WINDOW_CHECK = `
local e = t
if clock > e then e = clock end
local horizon = e - W
-- Records at or before the horizon no longer count at e; they are dropped only if this request is
-- recorded (a denial must keep what a late request at the clock still counts).
local firstLive, stale = head, 0
while true do
  local second, n = pairAt(firstLive)
  if not second or second > horizon then break end
  stale = stale + n
  firstLive = firstLive + PAIR
end
local used = total - stale
local allowed = used + cost <= L
local granted, remaining, retryAfter, resetAfter = 0, 0, 0, 0
if allowed then
  granted = math.min(extra, L - used - cost)
  local units = cost + granted
  local newTotal = used + units
  local oldest = oldestFrom(firstLive)
  resetAfter = oldest and (oldest + W - e) or W
  remaining = math.max(0, L - newTotal)
  local last = lengthOf() - PAIR
  local live = lengthOf() - firstLive
  -- Merge into the last pair when it is at e (records sit at or before the clock, so only if e == clock).
  local mergeUnits = nil
  if live > 0 and e == clock then
    local second, n = pairAt(last, true)
    if second == e and n + units <= MAX_UINT32 then mergeUnits = n + units end
  end
  if lengthOf() <= HEADER + READ or firstLive - HEADER >= live or e - base > MAX_UINT32 then
    -- Rewrite the whole value without its dead front: always when it is small (one SET, and the
    -- value keeps its exact size, where APPEND would over-allocate), else when the dead front is
    -- at least as long as the live part, or offsets from the old base would overflow (rebase).
    local body, newBase = '', e
    if live > 0 then
      if whole then body = string.sub(raw, firstLive + 1) else body = redis.call('GETRANGE', key, firstLive, lengthOf() - 1) end
      newBase = base
      if e - base > MAX_UINT32 then
        newBase = oldestFrom(firstLive) or e
        local rebased = {}
        for i = 1, #body, PAIR do
          local offset, n = struct.unpack('<I4I4', body, i)
          local second = base + offset
          if second < newBase then second = newBase end -- only empty pairs sit before the oldest
          rebased[#rebased + 1] = struct.pack('<I4I4', second - newBase, n)
        end
        body = table.concat(rebased)
      end
    end
    if mergeUnits then
      body = string.sub(body, 1, #body - PAIR) .. struct.pack('<I4I4', e - newBase, mergeUnits)
    else
      body = body .. packUnits(e - newBase, units)
    end
    redis.call('SET', key, header(newBase, e, newTotal, HEADER) .. body, 'PX', ttl)
  else
    redis.call('SETRANGE', key, 0, header(base, e, newTotal, firstLive))
    if mergeUnits then
      redis.call('SETRANGE', key, last, struct.pack('<I4I4', e - base, mergeUnits))
    else
      redis.call('APPEND', key, packUnits(e - base, units))
    end
    redis.call('PEXPIRE', key, ttl)
  end
else
  remaining = math.max(0, L - used)
  if cost > L then
    retryAfter = -1
  else
    -- The least d >= 1 at which what is left in the window at e + d is <= L - cost.
    local target, left, pos = L - cost, total, head
    retryAfter = 1
    while true do
      local second, n = pairAt(pos)
      if not second then break end
      left = left - n
      if left <= target then
        retryAfter = math.max(1, second + W - e)
        break
      end
      pos = pos + PAIR
    end
  end
  local oldest = oldestFrom(firstLive)
  resetAfter = oldest and (oldest + W - e) or 0
end
return { allowed and 1 or 0, L, W, remaining, retryAfter, resetAfter, e, granted }
`;

/**
 * KEYS[1] the client's sliding-window string ({prefix}{id}:sw)
 * KEYS[2] the client's config hash ({prefix}{id}:cfg), read only
 * ARGV: see CHECK_ARGS
 */
export const SLIDING_WINDOW_CHECK = `local CONFIG_KEY = KEYS[2]
${CHECK_ARGS}${RESOLVE}${WINDOW_STATE}${WINDOW_RELEASE}${WINDOW_CHECK}`;

/** KEYS and ARGV as SLIDING_WINDOW_CHECK (cost 0, extra 0); removes unspent lease units only. */
export const SLIDING_WINDOW_RELEASE = `local CONFIG_KEY = KEYS[2]
${CHECK_ARGS}${RESOLVE}${WINDOW_STATE}${WINDOW_RELEASE}return 0`;

// ---- 'sliding-log': a sorted set, one member per allowed request --------------------------------
//
// KEYS[1] zset: score = second, member = '<seq>:<units>' (seq makes members unique). It holds the
//   entries after clock - W (pruned whenever one is recorded), as count-deque.ts's buffer does.
// KEYS[3] meta string '<clock> <seq> <total units in the zset>'. Without meta the zset is treated as
//   empty (and replaced). The total makes `used` O(entries leaving the window), not O(window).

const LOG_STATE = `
local log, metaKey = KEYS[1], KEYS[3]
local clock, seq, total = -1, 0, 0
do
  local meta = redis.call('GET', metaKey)
  if meta then
    local c, s, n = string.match(meta, '^(%d+) (%d+) (%d+)$')
    clock, seq, total = tonumber(c), tonumber(s), tonumber(n)
  end
end
local function unitsOf(member) return tonumber(string.match(member, ':(%d+)$')) end
local function saveMeta()
  redis.call('SET', metaKey, fmt(clock) .. ' ' .. fmt(seq) .. ' ' .. fmt(total), 'PX', ttl)
end
`;

const LOG_RELEASE = `
if releaseAt ~= '' and clock >= 0 then
  local at = tonumber(releaseAt)
  if at > clock - W then
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
end
`;

const LOG_CHECK = `
local e = t
if clock > e then e = clock end
local horizon = e - W
-- Entries at or before the horizon no longer count at e (they are removed only if this request is recorded).
local stale, staleCount, oldest = 0, 0, nil
if clock >= 0 then
  local leaving = redis.call('ZRANGEBYSCORE', log, '-inf', fmt(horizon))
  staleCount = #leaving
  for i = 1, staleCount do stale = stale + unitsOf(leaving[i]) end
  local first = redis.call('ZRANGEBYSCORE', log, '(' .. fmt(horizon), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
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
  resetAfter = (oldest or e) + W - e
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
          retryAfter = math.max(1, tonumber(page[i + 1]) + W - e)
          found = true
          break
        end
      end
      if #page < 2 * PAGE then break end
      offset = offset + PAGE
    end
  end
  resetAfter = oldest and (oldest + W - e) or 0
end
return { allowed and 1 or 0, L, W, remaining, retryAfter, resetAfter, e, granted }
`;

/**
 * KEYS[1] the client's log zset ({prefix}{id}:sl)
 * KEYS[2] the client's config hash ({prefix}{id}:cfg), read only
 * KEYS[3] the client's log meta string ({prefix}{id}:slm): '<clock> <seq> <total>'
 * ARGV: see CHECK_ARGS
 */
export const SLIDING_LOG_CHECK = `local CONFIG_KEY = KEYS[2]
${CHECK_ARGS}${RESOLVE}${LOG_STATE}${LOG_RELEASE}${LOG_CHECK}`;

/** KEYS and ARGV as SLIDING_LOG_CHECK (cost 0, extra 0); removes unspent lease units only. */
export const SLIDING_LOG_RELEASE = `local CONFIG_KEY = KEYS[2]
${CHECK_ARGS}${RESOLVE}${LOG_STATE}${LOG_RELEASE}return 0`;

// ---- 'sliding-counter': '<clock> <index> <previous> <current>' -----------------------------------

/** sliding-counter.ts estimateAt / delayUntilAtMost, with the same operation order. */
const COUNTER_MATH = `
local function estimateAt(vIndex, vPrevious, vCurrent, at, window)
  local index = math.floor(at / window)
  local intoWindow = at - index * window
  if index == vIndex then return (vPrevious * (window - intoWindow)) / window + vCurrent end
  if index == vIndex + 1 then return (vCurrent * (window - intoWindow)) / window end
  return 0
end
local function delayUntilAtMost(vIndex, vPrevious, vCurrent, e, target, window)
  local lo, hi = 1, math.max(1, (vIndex + 2) * window - e)
  while lo < hi do
    local mid = lo + math.floor((hi - lo) / 2)
    if math.floor(estimateAt(vIndex, vPrevious, vCurrent, e + mid, window)) <= target then hi = mid else lo = mid + 1 end
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

const COUNTER_STATE = `
local key = KEYS[1]
local clock, index, previous, current = -1, 0, 0, 0
do
  local state = redis.call('GET', key)
  if state then
    local c, i, p, n = string.match(state, '^(%d+) (%-?%d+) (%d+) (%d+)$')
    clock, index, previous, current = tonumber(c), tonumber(i), tonumber(p), tonumber(n)
  end
end
local function save()
  redis.call('SET', key, fmt(clock) .. ' ' .. fmt(index) .. ' ' .. fmt(previous) .. ' ' .. fmt(current), 'PX', ttl)
end
`;

const COUNTER_RELEASE = `
if releaseAt ~= '' and clock >= 0 then
  local at = tonumber(releaseAt)
  local releasedIndex = math.floor(at / W)
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
local vIndex, vPrevious, vCurrent = viewAt(clock, index, previous, current, e, W)
local used = math.floor(estimateAt(vIndex, vPrevious, vCurrent, e, W))
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
  if cost > L then retryAfter = -1 else retryAfter = delayUntilAtMost(vIndex, vPrevious, vCurrent, e, L - cost, W) end
end
local resetAfter = 0
if usedAfter > 0 then resetAfter = delayUntilAtMost(vIndex, vPrevious, vCurrent, e, usedAfter - 1, W) end
return { allowed and 1 or 0, L, W, math.max(0, L - usedAfter), retryAfter, resetAfter, e, granted }
`;

/**
 * KEYS[1] the client's counter string ({prefix}{id}:sc)
 * KEYS[2] the client's config hash ({prefix}{id}:cfg), read only
 * ARGV: see CHECK_ARGS
 */
export const SLIDING_COUNTER_CHECK = `local CONFIG_KEY = KEYS[2]
${CHECK_ARGS}${RESOLVE}${COUNTER_MATH}${COUNTER_STATE}${COUNTER_RELEASE}${COUNTER_CHECK}`;

/** KEYS and ARGV as SLIDING_COUNTER_CHECK (cost 0, extra 0); removes unspent lease units only. */
export const SLIDING_COUNTER_RELEASE = `local CONFIG_KEY = KEYS[2]
${CHECK_ARGS}${RESOLVE}${COUNTER_MATH}${COUNTER_STATE}${COUNTER_RELEASE}return 0`;

// ---- setLimit ------------------------------------------------------------------------------------

/**
 * Stores a client's own limit, applies the window-change rule to the algorithm's state at the
 * client's clock (engine changeWindow), and announces the change.
 *
 * KEYS[1] the client's config hash ({prefix}{id}:cfg): HSET L W, never expires
 * KEYS[2] the algorithm's state key (:sw, :sl or :sc)
 * KEYS[3] the log's meta key (:slm) for 'sliding-log'; otherwise KEYS[2] again
 * ARGV[1] algorithm: 'sliding-window' | 'sliding-log' | 'sliding-counter'
 * ARGV[2] the new limit L
 * ARGV[3] the new window W in seconds
 * ARGV[4] the limiter's default W, the old window when the client had no config of its own
 * ARGV[5] the pub/sub channel ({prefix}limits)
 * ARGV[6] the message: the encoded client id
 */
export const SET_LIMIT = `
local algorithm = ARGV[1]
local newWindow = tonumber(ARGV[3])
local oldWindow = tonumber(redis.call('HGET', KEYS[1], 'W') or ARGV[4])
local ttl = newWindow * 1000
local function fmt(n) return string.format('%.0f', n) end
${COUNTER_MATH}
if oldWindow ~= newWindow then
  local key = KEYS[2]
  if algorithm == 'sliding-window' then
    -- Prune what had left the old window at the clock; the rewrite also drops the dead front.
    local value = redis.call('GET', key)
    if value then
      local base, offset, total, head = struct.unpack('<dI4dI4', value)
      local clock = base + offset
      local pos = head
      while pos + 8 <= #value do
        local second, n = struct.unpack('<I4I4', value, pos + 1)
        if base + second > clock - oldWindow then break end
        total = total - n
        pos = pos + 8
      end
      redis.call('SET', key, struct.pack('<dI4dI4', base, offset, total, 24) .. string.sub(value, pos + 1), 'PX', ttl)
    end
  elseif algorithm == 'sliding-log' then
    local meta = redis.call('GET', KEYS[3])
    if meta then
      local c, s, n = string.match(meta, '^(%d+) (%d+) (%d+)$')
      local total = tonumber(n)
      local leaving = redis.call('ZRANGEBYSCORE', key, '-inf', fmt(tonumber(c) - oldWindow))
      for i = 1, #leaving do total = total - tonumber(string.match(leaving[i], ':(%d+)$')) end
      redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(tonumber(c) - oldWindow))
      redis.call('PEXPIRE', key, ttl)
      redis.call('SET', KEYS[3], c .. ' ' .. s .. ' ' .. fmt(total), 'PX', ttl)
    end
  else
    local state = redis.call('GET', key)
    if state then
      local c, i, p, n = string.match(state, '^(%d+) (%-?%d+) (%d+) (%d+)$')
      local clock = tonumber(c)
      -- The estimate at the clock under the old alignment becomes the new current window, rounded up.
      local vIndex, vPrevious, vCurrent = viewAt(clock, tonumber(i), tonumber(p), tonumber(n), clock, oldWindow)
      local carried = math.ceil(estimateAt(vIndex, vPrevious, vCurrent, clock, oldWindow))
      redis.call('SET', key, c .. ' ' .. fmt(math.floor(clock / newWindow)) .. ' 0 ' .. fmt(carried), 'PX', ttl)
    end
  end
end
redis.call('HSET', KEYS[1], 'L', ARGV[2], 'W', ARGV[3])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`;
