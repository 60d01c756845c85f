/**
 * The Redis version of `Store.shareFactor`: one hash per group, field = instance id, value =
 * "factor:expiresAt" in Redis seconds; the script drops expired proposals and returns the smallest
 * live one. One key, so it lives on one Cluster slot; Redis' own clock decides expiry, so instances
 * with skewed clocks agree on whose proposal is live.
 */
export const SHARE_FACTOR_SCRIPT = `
-- KEYS[1]: hash of proposals of one group (field: instance id, value: "factor:expiresAt")
-- ARGV[1]: this instance's id
-- ARGV[2]: this instance's proposed factor, 0 < factor <= 1
-- ARGV[3]: seconds the proposal stays live; 0 = withdraw it
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. string.format('%.3f', now + ttl))
  -- The hash outlives its newest proposal a little, and disappears once every instance is gone.
  redis.call('EXPIRE', KEYS[1], math.ceil(ttl) + 1)
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local all = redis.call('HGETALL', KEYS[1])
local min = 1
for i = 1, #all, 2 do
  local value = all[i + 1]
  local sep = string.find(value, ':', 1, true)
  local factor = tonumber(string.sub(value, 1, sep - 1))
  local expiresAt = tonumber(string.sub(value, sep + 1))
  if expiresAt <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif factor < min then
    min = factor
  end
end
-- A string: Lua numbers become integers in Redis replies.
return tostring(min)
`;

/** The part of an ioredis `Redis` or `Cluster` the script needs. */
export interface FactorEvalClient {
  eval(script: string, numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * Proposes `factor` for `ttlSeconds` (0 withdraws) and returns the smallest live proposal of the
 * group, this one included. Implements `Store.shareFactor` for a Redis-backed store, e.g.
 * `shareFactor(p) { return redisShareFactor(client, `${prefix}{adaptive:${p.group}}`, p.instanceId, p.factor, p.ttlSeconds) }`.
 * Uses EVAL, not EVALSHA: it runs once per interval, so NOSCRIPT after a flush never hits it.
 */
export async function redisShareFactor(
  client: FactorEvalClient,
  key: string,
  instanceId: string,
  factor: number,
  ttlSeconds: number,
): Promise<number> {
  const reply = await client.eval(SHARE_FACTOR_SCRIPT, 1, key, instanceId, String(factor), ttlSeconds);
  const min = Number(reply);
  return Number.isFinite(min) && min > 0 && min <= 1 ? min : factor;
}
