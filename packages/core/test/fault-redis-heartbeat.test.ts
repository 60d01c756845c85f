import { once } from 'node:events';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import { SAFE_REDIS_OPTIONS } from '../src/faults/redis-client-safety';
import { redisHeartbeat } from '../src/faults/redis-heartbeat';
import { RateLimiter } from '../src/rate-limiter';
import { RedisStore } from '../src/stores/redis-store';

// The live-instance count behind the 'local' share, on a real Redis (the shared one, own key prefix).

describe('fault: live instances counted in Redis with heartbeats (real Redis)', function () {
  this.timeout(15_000);
  let redis: SharedRedis;
  let client: Redis;
  const prefix = `fault-heartbeat:${process.pid}:${Date.now().toString(36)}:`;
  const limiters: RateLimiter[] = [];

  before(async () => {
    redis = await sharedRedis();
    client = new Redis({ host: redis.host, port: redis.port, ...SAFE_REDIS_OPTIONS });
    if (client.status !== 'ready') await once(client, 'ready');
  });
  after(async () => {
    for (const limiter of limiters) await limiter.close();
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
    await redis.stop();
  });

  it('counts each live id once, drops one that leaves (ttl 0) or stops beating (expiry by Redis time)', async () => {
    const key = `${prefix}set-a`;
    expect(await redisHeartbeat(client, key, 'i1', 30)).to.equal(1);
    expect(await redisHeartbeat(client, key, 'i2', 30)).to.equal(2);
    expect(await redisHeartbeat(client, key, 'i1', 30)).to.equal(2); // a repeat beat is not a new instance
    expect(await redisHeartbeat(client, key, 'i3', 1)).to.equal(3);
    expect(await redisHeartbeat(client, key, 'i2', 0)).to.equal(2); // i2 left
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await redisHeartbeat(client, key, 'i1', 30)).to.equal(1); // i3 expired
    expect(await client.ttl(key), 'the set itself expires once every instance is gone').to.be.within(1, 31);
  });

  it('limiters sharing a RedisStore count each other, and a closed one leaves the count at once', async () => {
    const make = () => {
      const limiter = new RateLimiter({ limit: 10, windowSeconds: 60, store: new RedisStore({ client, prefix }), onError: () => undefined });
      limiters.push(limiter);
      return limiter;
    };
    const [a, b, c] = [make(), make(), make()];
    const live = async (limiter: RateLimiter, n: number) => {
      for (let i = 0; i < 100 && limiter.resilientStore?.instances !== n; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      return limiter.resilientStore?.instances;
    };
    // Each learns the count at its own first beat; c beat last and saw all three.
    expect(await live(c, 3)).to.equal(3);
    await c.close();
    const d = make();
    // a, b and d: 3, not 4, because c removed itself on close instead of lingering for its 15 s TTL.
    expect(await live(d, 3)).to.equal(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(d.resilientStore?.instances).to.equal(3);
  });
});
