/**
 * Live-instance count for the local fallback share: one sorted set of instance ids scored by the
 * Redis time (seconds) at which each stops counting. One key, so it lives on one Cluster slot.
 * Redis' own clock decides expiry, so instances with skewed clocks agree on who is alive.
 */
export const HEARTBEAT_SCRIPT = `
-- KEYS[1]: the sorted set of live instances (member: instance id, score: expiry in Redis seconds)
-- ARGV[1]: this instance's id
-- ARGV[2]: seconds this heartbeat keeps the instance counted; 0 = leave now
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ttl > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  -- The set outlives its newest member a little, and disappears once every instance is gone.
  redis.call('EXPIRE', KEYS[1], math.ceil(ttl) + 1)
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return redis.call('ZCARD', KEYS[1])
`;

/** The part of an ioredis `Redis` or `Cluster` the heartbeat needs. */
export interface EvalClient {
  eval(script: string, numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * Records this instance as alive for `ttlSeconds` (0: removes it) and returns the number of live
 * instances, this one included. Implements `Store.heartbeat` for a Redis-backed store.
 * Uses EVAL, not EVALSHA: it runs every few seconds, so NOSCRIPT after a flush can never hit it.
 */
export async function redisHeartbeat(client: EvalClient, key: string, instanceId: string, ttlSeconds: number): Promise<number> {
  const count = await client.eval(HEARTBEAT_SCRIPT, 1, key, instanceId, ttlSeconds);
  return typeof count === 'number' ? count : Number(count);
}
