import { once } from 'node:events';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import type { StoreError } from '../src/errors';
import { SAFE_REDIS_OPTIONS } from '../src/faults/redis-client-safety';
import { RateLimiter } from '../src/rate-limiter';
import { RedisStore } from '../src/stores/redis-store';
import { MemoryStore } from '../src/stores/memory-store';
import type { ClientLimit, Store, StoreSetLimitRequest } from '../src/types';

// A stall of our own event loop (GC, a starved CPU) longer than the timeout must not turn checks
// that Redis answered in time into timeouts: the answers are already in the socket when the
// timers fire. Real Redis (the shared one, own key prefix), real socket.

describe('fault: an event-loop stall longer than the timeout is not a slow store (real Redis)', function () {
  this.timeout(10_000);
  let redis: SharedRedis;
  let client: Redis;
  let limiter: RateLimiter;
  const prefix = `fault-stall:${process.pid}:${Date.now().toString(36)}:`;
  const errors: StoreError[] = [];

  before(async () => {
    redis = await sharedRedis();
    client = new Redis({ host: redis.host, port: redis.port, ...SAFE_REDIS_OPTIONS });
    if (client.status !== 'ready') await once(client, 'ready');
    limiter = new RateLimiter({ limit: 100, windowSeconds: 60, store: new RedisStore({ client, prefix }), onError: (e) => errors.push(e) });
    await limiter.check('warm-up'); // scripts loaded, connection warm
  });
  after(async () => {
    await limiter.close();
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
    await redis.stop();
  });

  it('checks in flight during a 150 ms busy stall (timeout 50 ms) are still decided by the store', async () => {
    const pending = Array.from({ length: 10 }, (_, i) => limiter.check(`c${i}`));
    const until = Date.now() + 150;
    while (Date.now() < until) {
      // Busy: no timer and no I/O can run; Redis answers meanwhile, into the socket buffer.
    }
    const decisions = await Promise.all(pending);
    expect(decisions.map((d) => d.source)).to.deep.equal(Array(10).fill('store'));
    expect(errors).to.deep.equal([]);
  });

  it('a store that never answers still times out after a stall: one more timeout, not forever', async () => {
    const silent = new RateLimiter({ limit: 5, windowSeconds: 60, timeoutMs: 50, store: new HangingStore() });
    const pending = silent.check('hangs');
    const stallEnd = Date.now() + 150;
    while (Date.now() < stallEnd) {
      // Busy, as above.
    }
    const decision = await pending;
    const afterStall = Date.now() - stallEnd;
    expect(decision.source).to.equal('fallback');
    expect(afterStall, 'ms from the end of the stall to the fallback decision').to.be.within(40, 250);
    await silent.close();
  });
});

/** A store whose checks never settle (a Redis that accepted the connection and went silent). */
class HangingStore implements Store {
  readonly #limits = new MemoryStore();
  check(): Promise<never> {
    return new Promise<never>(() => {});
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
  getLimit(clientId: string): Promise<ClientLimit | undefined> {
    return this.#limits.getLimit(clientId);
  }
  setLimit(request: StoreSetLimitRequest): Promise<void> {
    return this.#limits.setLimit(request);
  }
  onLimitChange(listener: (clientId: string | undefined) => void): () => void {
    return this.#limits.onLimitChange(listener);
  }
  close(): Promise<void> {
    return this.#limits.close();
  }
}
