import { LATE_ARRIVAL_GRACE_MS } from '../../time';
import { bucketWidthLua, rebucketLua, requestTimeLua, WINDOW_HEADER_BYTES, WINDOW_PAIR_BYTES } from './scripts';

/**
 * The Lua scripts of RedisStore's policy mode (several policies per client, tiers, settle). They
 * mirror `policies/policy-engine.ts` step for step, as scripts.ts mirrors the single-policy engines.
 *
 * Keys of a client in policy mode (all share the client's hash tag, so every script runs on its slot):
 * - `{tag}cfg`      hash: P = own policies 'L:W,L:W', T = tier name, S = '1' for shadow. Never expires.
 * - `{tag}pm2`      the windows the counting keys were last written for, 'W1,W2,...' ascending.
 * - `{tag}pw2:<W>`  one packed count string per policy window, in the layout of scripts.ts's
 *                   'sliding-window' (header with the window's own bucket width g, then pairs of
 *                   bucket and units, oldest first).
 * The per-window keys are named from the tag inside the script (the client's policies are only
 * known once its config is read); they hash to the same slot as KEYS[1], which Redis Cluster
 * allows. Every counting key and the meta key get the same relative TTL: the longest window, its
 * bucket and the late-arrival grace (time.ts LATE_ARRIVAL_GRACE_MS).
 *
 * The window-change rule is applied lazily, by the first call that writes after the client's
 * policy set changed (its own config, its tier, or the defaults): kept windows keep their counts,
 * a new window starts from what the longest previously written window held at the client's clock
 * T, and keys of dropped windows are deleted. A denial writes nothing.
 */

/** KEYS and ARGV of POLICY_CHECK. */
const ARGS = `
local CONFIG_KEY = KEYS[1]              -- {tag}cfg
local META_KEY = KEYS[2]                -- {tag}pm2
local tag = ARGV[1]                     -- '{prefix}{encoded id}:', the start of every key of the client
local argTimestamp = ARGV[2]            -- whole ms, or '' for Redis TIME
local cost = tonumber(ARGV[3])          -- units the request needs (unused when mode is 'adjust')
local defaultPolicies = ARGV[4]         -- the limiter's default policies 'L:W,L:W'
local tierTable = ARGV[5]               -- the limiter's tiers 'name=L:W,L:W;name2=...', or ''
local limitFactor = tonumber(ARGV[6])   -- every L becomes floor(L * factor); 1 leaves them
local extra = tonumber(ARGV[7])         -- lease: units to grant beyond cost, as far as they fit every policy
local adjustAt = ARGV[8]                -- check: lease release time (ms), or ''; adjust: the time (ms) to change
local adjustUnits = tonumber(ARGV[9])   -- check: lease units to release; adjust: units to add (< 0: remove)
local mode = ARGV[10]                   -- 'check' or 'adjust' (lease release, settle)
local bucketArg = tonumber(ARGV[11])    -- the limiter's bucketMs option; 0: the default ceil(W_ms / 60)
`;

/** policy-validation.ts effectivePolicies, then the limit factor; each policy's bucket width g follows its own window. */
const RESOLVE = `
local function parse(text)
  local list = {}
  for l, w in string.gmatch(text, '(%d+):(%d+)') do list[#list + 1] = { tonumber(l), tonumber(w) } end
  return list
end
local cfg = redis.call('HMGET', CONFIG_KEY, 'P', 'T', 'S')
local own = nil
if cfg[1] then own = parse(cfg[1]) end
local policies
if not cfg[2] then
  policies = own or parse(defaultPolicies)
else
  local text = ';' .. tierTable .. ';'
  local from, to = string.find(text, ';' .. cfg[2] .. '=', 1, true)
  local base
  if from then base = parse(string.sub(text, to + 1, string.find(text, ';', to + 1, true) - 1)) else base = parse(defaultPolicies) end
  if own then
    local byWindow, windows = {}, {}
    for _, p in ipairs(base) do
      if not byWindow[p[2]] then windows[#windows + 1] = p[2] end
      byWindow[p[2]] = p[1]
    end
    for _, p in ipairs(own) do
      if not byWindow[p[2]] then windows[#windows + 1] = p[2] end
      byWindow[p[2]] = p[1]
    end
    table.sort(windows)
    policies = {}
    for i, w in ipairs(windows) do policies[i] = { byWindow[w], w } end
  else
    policies = base
  end
end
if limitFactor ~= 1 then
  for _, p in ipairs(policies) do p[1] = math.floor(p[1] * limitFactor) end
end
local function bucketOf(w)
  local wms, g = w * 1000, nil
  ${bucketWidthLua('g', 'wms')}
  return g
end
for _, p in ipairs(policies) do p[3] = bucketOf(p[2]) end
local n = #policies
local ttl = policies[n][2] * 1000 + policies[n][3] + ${LATE_ARRIVAL_GRACE_MS}
local shadow = cfg[3] == '1'
${requestTimeLua('tonumber')}
`;

/** One packed count string (scripts.ts 'sliding-window' layout) as a Lua table, with chunked reads. */
const DEQUE = `
local HEADER, PAIR, READ = ${WINDOW_HEADER_BYTES}, ${WINDOW_PAIR_BYTES}, 512
local function keyOf(w) return tag .. 'pw2:' .. w end
-- A deque held whole in memory, not (yet) written: value '' or nil is an empty one.
local function fromValue(key, value)
  local s = { key = key, clock = -1, total = 0, g = 0, head = HEADER, chunkAt = 0, pending = true, whole = true }
  if value and #value >= HEADER then
    s.clock, s.total, s.g, s.head = struct.unpack('<dddI4', value)
    s.raw, s.chunk, s.len = value, value, #value
  else
    s.raw, s.chunk, s.len = '', '', HEADER
  end
  return s
end
local function open(key)
  local raw = redis.call('GETRANGE', key, 0, HEADER + READ - 1)
  if #raw < HEADER + READ then
    local s = fromValue(key, raw)
    s.pending = false
    return s
  end
  local s = { key = key, chunkAt = 0, chunk = raw, raw = raw, whole = false, pending = false }
  s.clock, s.total, s.g, s.head = struct.unpack('<dddI4', raw)
  return s
end
local function lengthOf(s)
  if not s.len then s.len = redis.call('STRLEN', s.key) end
  return s.len
end
-- The pair at byte offset pos: bucket, units; nil past the end.
local function pairAt(s, pos, backward)
  if pos < HEADER or (s.len and pos + PAIR > s.len) then return nil end
  if pos < s.chunkAt or pos + PAIR > s.chunkAt + #s.chunk then
    local from = pos
    if backward then from = math.max(HEADER, pos + PAIR - READ) end
    s.chunk = redis.call('GETRANGE', s.key, from, from + READ - 1)
    s.chunkAt = from
    if #s.chunk < READ then s.len = from + #s.chunk end
    if pos + PAIR > s.chunkAt + #s.chunk then return nil end
  end
  return struct.unpack('<dd', s.chunk, pos - s.chunkAt + 1)
end
local function header(clock, total, g, head)
  return struct.pack('<dddI4', clock, total, g, head)
end
local function oldestFrom(s, pos)
  while true do
    local bucket, units = pairAt(s, pos)
    if not bucket then return nil end
    if units > 0 then return bucket end
    pos = pos + PAIR
  end
end
-- The whole value (read once when not held).
local function valueOf(s)
  if s.whole then return s.raw end
  return redis.call('GET', s.key) or ''
end
-- The pairs from head on, as { bucket, units }.
local function readAll(s)
  local value = valueOf(s)
  local list = {}
  for pos = s.head, #value - PAIR, PAIR do
    local bucket, units = struct.unpack('<dd', value, pos + 1)
    list[#list + 1] = { bucket, units }
  end
  return list
end
-- Rewrites a deque from a list of pairs, dropping those in buckets <= horizon.
local function writeAll(s, list, clock, horizon)
  local body, total = {}, 0
  for _, p in ipairs(list) do
    if p[1] > horizon then
      body[#body + 1] = struct.pack('<dd', p[1], p[2])
      total = total + p[2]
    end
  end
  redis.call('SET', s.key, header(clock, total, s.g, HEADER) .. table.concat(body), 'PX', ttl)
end
-- A deque's value with its pairs moved to buckets of width g (count-deque.ts rebucket), as a pending deque.
local function rebucketed(s, clock, g)
  local value = valueOf(s)
  ${rebucketLua('value', 's.head', 's.g', 'clock', 'g', '-1/0')}
  return fromValue(s.key, header(clock, movedTotal, g, HEADER) .. movedBody)
end
`;

/** The client's deques for its current policies, reconciled with the windows last written (lazily). */
const RECONCILE = `
local oldWindows = {}
do
  local meta = redis.call('GET', META_KEY)
  if meta then for w in string.gmatch(meta, '%d+') do oldWindows[#oldWindows + 1] = tonumber(w) end end
end
local same = #oldWindows == n
if same then
  for i = 1, n do if oldWindows[i] ~= policies[i][2] then same = false break end end
end
local deques, clock = {}, -1
if same then
  for i = 1, n do
    deques[i] = open(keyOf(policies[i][2]))
    if deques[i].clock > clock then clock = deques[i].clock end
  end
else
  local kept = {}
  for _, w in ipairs(oldWindows) do kept[w] = true end
  -- The seed of a new window: what the longest old window held at its clock T, and nothing older,
  -- each unit in the new window's bucket of min(end of its old bucket, T).
  local src = nil
  local oldLongest = oldWindows[#oldWindows]
  if oldLongest then
    local value = redis.call('GET', keyOf(oldLongest))
    if value and #value >= HEADER then
      src = { value = value }
      src.clock, src.total, src.g, src.head = struct.unpack('<dddI4', value)
      src.horizon = math.floor((src.clock - oldLongest * 1000 + 1) / src.g) - 1
    end
  end
  local function seedFor(g)
    if not src then return nil end
    ${rebucketLua('src.value', 'src.head', 'src.g', 'src.clock', 'g', 'src.horizon')}
    return header(src.clock, movedTotal, g, HEADER) .. movedBody
  end
  for i = 1, n do
    local w = policies[i][2]
    if kept[w] then
      deques[i] = open(keyOf(w))
    else
      deques[i] = fromValue(keyOf(w), seedFor(policies[i][3]))
      deques[i].g = policies[i][3]
    end
    if deques[i].clock > clock then clock = deques[i].clock end
  end
end
-- Makes the reconciled set the written one: meta, no keys of dropped windows and, with
-- writePending, the seeded deques written as they are (a record rewrites them anyway).
local function commitWindows(writePending)
  if writePending then
    for i = 1, n do
      local s = deques[i]
      if s.pending then
        if s.raw == '' then redis.call('DEL', s.key) else redis.call('SET', s.key, s.raw, 'PX', ttl) end
        s.pending = false
      end
    end
  end
  if same then
    redis.call('PEXPIRE', META_KEY, ttl)
    return
  end
  local windows, current = {}, {}
  for i = 1, n do
    windows[i] = policies[i][2]
    current[windows[i]] = true
  end
  for _, w in ipairs(oldWindows) do
    if not current[w] then redis.call('DEL', keyOf(w)) end
  end
  redis.call('SET', META_KEY, table.concat(windows, ','), 'PX', ttl)
end
`;

/**
 * policy-engine.ts adjust(): units < 0 remove (newest first), > 0 add, in the bucket of \`at\` of
 * each window that still counts that bucket at the clock.
 */
const ADJUST = `
local function adjust(at, units)
  if clock < 0 or units == 0 or at > clock then return false end
  commitWindows(true)
  for i = 1, n do
    local s, Wms = deques[i], policies[i][2] * 1000
    local g = s.g
    local bucket = -1
    if g > 0 then bucket = math.floor(at / g) end
    if g > 0 and bucket >= math.floor((clock - Wms + 1) / g) then
      local first = nil
      if lengthOf(s) > s.head then first = pairAt(s, s.head) end
      if not first or bucket < first then
        -- Empty, or the bucket precedes the first pair: rewrite it whole.
        local list = readAll(s)
        if units < 0 then
          local left = -units
          for j = #list, 1, -1 do
            if left <= 0 or list[j][1] < bucket then break end
            if list[j][1] == bucket then
              local take = math.min(left, list[j][2])
              list[j][2] = list[j][2] - take
              left = left - take
            end
          end
        else
          local j = #list
          while j >= 1 and list[j][1] > bucket do j = j - 1 end
          if j >= 1 and list[j][1] == bucket then list[j][2] = list[j][2] + units else table.insert(list, j + 1, { bucket, units }) end
        end
        writeAll(s, list, clock, -1/0)
      elseif units < 0 then
        local left, total = -units, s.total
        local pos = lengthOf(s) - PAIR
        while pos >= s.head and left > 0 do
          local b, u = pairAt(s, pos, true)
          if b < bucket then break end
          if b == bucket and u > 0 then
            local take = math.min(left, u)
            redis.call('SETRANGE', s.key, pos, struct.pack('<dd', b, u - take))
            total = total - take
            left = left - take
          end
          pos = pos - PAIR
        end
        redis.call('SETRANGE', s.key, 0, header(clock, total, g, s.head))
        redis.call('PEXPIRE', s.key, ttl)
      else
        local pos = lengthOf(s) - PAIR
        local b, u
        while pos >= s.head do
          b, u = pairAt(s, pos, true)
          if b <= bucket then break end
          pos = pos - PAIR
        end
        if pos >= s.head and b == bucket then
          redis.call('SETRANGE', s.key, pos, struct.pack('<dd', bucket, u + units))
        else
          local from = pos + PAIR
          local tail = ''
          if from < lengthOf(s) then tail = redis.call('GETRANGE', s.key, from, lengthOf(s) - 1) end
          redis.call('SETRANGE', s.key, from, struct.pack('<dd', bucket, units) .. tail)
        end
        redis.call('SETRANGE', s.key, 0, header(clock, s.total + units, g, s.head))
        redis.call('PEXPIRE', s.key, ttl)
      end
    else
      redis.call('PEXPIRE', s.key, ttl)
    end
  end
  return true
end
`;

/** policy-engine.ts checkPolicies(). */
const CHECK = `
if adjustAt ~= '' and adjustUnits > 0 and adjust(tonumber(adjustAt), -adjustUnits) then
  -- The strings changed under the cached reads (and seeded ones are written now): read them again.
  for i = 1, n do deques[i] = open(keyOf(policies[i][2])) end
  same = true
end
local e = t
if clock > e then e = clock end
local allowed, room = true, nil
for i = 1, n do
  local L, Wms, g = policies[i][1], policies[i][2] * 1000, policies[i][3]
  -- Counts made with another bucket width (a new bucketMs) move to this one, in memory until written.
  if deques[i].g ~= g and clock >= 0 then deques[i] = rebucketed(deques[i], clock, g) end
  deques[i].g = g
  local s = deques[i]
  local horizon = math.floor((e - Wms + 1) / g) - 1
  local firstLive, stale = s.head, 0
  while true do
    local bucket, u = pairAt(s, firstLive)
    if not bucket or bucket > horizon then break end
    stale = stale + u
    firstLive = firstLive + PAIR
  end
  s.firstLive = firstLive
  s.used = s.total - stale
  if s.used + cost > L then allowed = false end
  local r = L - s.used - cost
  if room == nil or r < room then room = r end
end
local granted = 0
if allowed then granted = math.min(extra, room) end
local reply = { allowed and 1 or 0, e, granted, shadow and 1 or 0, n }
for i = 1, n do
  local s, L, W, g = deques[i], policies[i][1], policies[i][2], policies[i][3]
  local Wms = W * 1000
  local allows = s.used + cost <= L
  local remaining, resetAfter, retry = 0, 0, 0
  local oldest = oldestFrom(s, s.firstLive)
  if allowed then
    remaining = math.max(0, L - (s.used + cost + granted))
    resetAfter = ((oldest or math.floor(e / g)) + 1) * g + Wms - 1 - e
  else
    remaining = math.max(0, L - s.used)
    if oldest then resetAfter = (oldest + 1) * g + Wms - 1 - e end
    if not allows then
      if cost > L then
        retry = -1
      else
        local target, left, pos = L - cost, s.total, s.head
        retry = 1
        while true do
          local bucket, u = pairAt(s, pos)
          if not bucket then break end
          left = left - u
          if left <= target then
            retry = math.max(1, (bucket + 1) * g + Wms - 1 - e)
            break
          end
          pos = pos + PAIR
        end
      end
    end
  end
  local at = 5 + (i - 1) * 6
  reply[at + 1], reply[at + 2], reply[at + 3], reply[at + 4], reply[at + 5], reply[at + 6] = L, W, remaining, resetAfter, allows and 1 or 0, retry
end
if allowed then
  commitWindows(false)
  local units = cost + granted
  for i = 1, n do
    local s, g = deques[i], policies[i][3]
    local bucket = math.floor(e / g)
    local firstLive = s.firstLive
    local len = lengthOf(s)
    local last = len - PAIR
    local live = len - firstLive
    local mergeUnits = nil
    if live > 0 then
      local b, u = pairAt(s, last, true)
      if b == bucket then mergeUnits = u + units end
    end
    local newTotal = s.used + units
    if s.pending or len <= HEADER + READ or firstLive - HEADER >= live then
      local body = ''
      if live > 0 then
        if s.whole then body = string.sub(s.raw, firstLive + 1) else body = redis.call('GETRANGE', s.key, firstLive, len - 1) end
      end
      if mergeUnits then
        body = string.sub(body, 1, #body - PAIR) .. struct.pack('<dd', bucket, mergeUnits)
      else
        body = body .. struct.pack('<dd', bucket, units)
      end
      redis.call('SET', s.key, header(e, newTotal, g, HEADER) .. body, 'PX', ttl)
    else
      redis.call('SETRANGE', s.key, 0, header(e, newTotal, g, firstLive))
      if mergeUnits then
        redis.call('SETRANGE', s.key, last, struct.pack('<dd', bucket, mergeUnits))
      else
        redis.call('APPEND', s.key, struct.pack('<dd', bucket, units))
      end
      redis.call('PEXPIRE', s.key, ttl)
    end
  end
end
return reply
`;

/**
 * One call for a client in policy mode.
 * KEYS[1] the client's config hash ({tag}cfg), read only
 * KEYS[2] the client's policy meta string ({tag}pm)
 * ARGV: see ARGS. mode 'check' replies { allowed, e, granted, shadow, n, then per policy (shortest
 * window first) L, W, remaining, resetAfter, allows, retryAfter (-1 = Infinity) }; mode 'adjust'
 * replies 1.
 */
export const POLICY_CHECK = `${ARGS}${RESOLVE}${DEQUE}${RECONCILE}${ADJUST}
if mode == 'adjust' then
  adjust(tonumber(adjustAt), adjustUnits)
  return 1
end
${CHECK}`;

/**
 * Replaces a client's policy config and announces it.
 * KEYS[1] the client's config hash ({tag}cfg)
 * ARGV[1] own policies 'L:W,L:W', or '' for none
 * ARGV[2] tier name, or '' for none
 * ARGV[3] '1' for shadow mode, or ''
 * ARGV[4] the pub/sub channel of limit changes ({prefix}limits)
 * ARGV[5] the message: the encoded client id
 */
export const SET_POLICIES = `
redis.call('HDEL', KEYS[1], 'P', 'T', 'S', 'L', 'W')
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'P', ARGV[1]) end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'T', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'S', ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

/**
 * Stores (or, with ARGV[2] '', removes) a tier and announces it.
 * KEYS[1] the tiers hash ({prefix}{tiers})
 * ARGV[1] the tier name
 * ARGV[2] its policies 'L:W,L:W', or '' to remove it
 * ARGV[3] the pub/sub channel of tier changes ({prefix}tiers)
 */
export const SET_TIER = `
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1
`;
