import { once } from 'node:events';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import { SAFE_REDIS_OPTIONS } from '../src/faults/redis-client-safety';
import { PROCESS_INSTANCE_ID } from '../src/faults/process-heartbeat';
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

  it('limiters of one process count once, on one store or two; the last limiter of a store to close leaves at once', async () => {
    const key = `${prefix}{instances}`;
    // Another process, as it would beat.
    await redisHeartbeat(client, key, 'another-process', 30);
    const make = (store: RedisStore) => {
      const limiter = new RateLimiter({ limit: 10, windowSeconds: 60, store, onError: () => undefined });
      limiters.push(limiter);
      return limiter;
    };
    const live = async (limiter: RateLimiter, n: number) => {
      for (let i = 0; i < 100 && limiter.resilientStore?.instances !== n; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      return limiter.resilientStore?.instances;
    };
    const shared = new RedisStore({ client, prefix });
    const [a, b, c] = [make(shared), make(shared), make(new RedisStore({ client, prefix }))];
    for (const limiter of [a, b, c]) expect(await live(limiter, 2)).to.equal(2);
    expect(await client.zrange(key, 0, -1)).to.have.members(['another-process', PROCESS_INSTANCE_ID]);
    await a.close();
    expect(await client.zcard(key), 'b still beats for this process').to.equal(2);
    await b.close();
    expect(await client.zrange(key, 0, -1), 'the last limiter of the store took the process out at once').to.deep.equal(['another-process']);
    await c.close();
  });
});
