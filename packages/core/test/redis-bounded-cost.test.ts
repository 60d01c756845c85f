/**
 * Every store script runs in time bounded by the buckets (or log entries) it touches, whatever the
 * cost: a check or a settle of 2^53 - 1 units is as cheap for Redis as one of 1. Regression: the
 * sliding-window script packed units above 2^32 by repeated concatenation (cost 2^46 held Redis for
 * 1.6 s, 2^48 for about 20 s, PING unanswered), and policy settles did the same at any limit.
 * Measured on a throwaway redis-server whose slow log records any command over 10 ms.
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '@slidegate/test-utils';
import { RateLimiter, RedisStore, SAFE_REDIS_OPTIONS, type Algorithm } from '../src/index';

const HUGE = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const SLOWLOG_US = 10_000;

describe('RedisStore: script time is bounded whatever the cost (2^53 - 1 units)', function () {
  this.timeout(60_000);
  let server: RedisServer;
  let client: Redis;

  before(async () => {
    server = await startRedis({ args: ['--slowlog-log-slower-than', String(SLOWLOG_US)] });
    client = server.client({ ...SAFE_REDIS_OPTIONS, lazyConnect: true });
    await client.connect();
    await client.slowlog('RESET');
  });

  after(async () => {
    await server?.stop();
  });

  /** Runs `body`, then asserts Redis logged no command slower than 10 ms and answered within `maxMs` each. */
  async function expectFast(label: string, body: () => Promise<void>): Promise<void> {
    await client.slowlog('RESET');
    const started = performance.now();
    await body();
    const elapsed = performance.now() - started;
    const slow = (await client.slowlog('GET', 10)) as unknown[];
    expect(slow, `${label}: commands over ${SLOWLOG_US / 1000} ms in SLOWLOG: ${JSON.stringify(slow)}`).to.deep.equal([]);
    expect(elapsed, `${label}: wall time`).to.be.below(2_000);
  }

  for (const algorithm of ['sliding-window', 'sliding-log', 'sliding-counter'] as Algorithm[]) {
    for (const bucketMs of [undefined, 1]) {
      it(`'${algorithm}'${bucketMs === 1 ? ' (bucketMs 1)' : ''}: allowed and denied checks of 2^46 .. 2^53 - 1 units, alone, batched and leased`, async () => {
        const store = new RedisStore({ client, prefix: `bounded:${algorithm}:${String(bucketMs)}:` });
        const limiter = new RateLimiter({ limit: HUGE, windowSeconds: 60, algorithm, bucketMs, store, timeoutMs: 5_000 });
        const leased = new RateLimiter({ limit: HUGE, windowSeconds: 60, algorithm, bucketMs, store, timeoutMs: 5_000, lease: true });
        try {
          await expectFast('single checks', async () => {
            expect(await limiter.check('huge', { timestamp: 1_700_000_000, cost: HUGE })).to.include({ allowed: true, remaining: 0 });
            expect(await limiter.check('huge', { timestamp: 1_700_000_000.5, cost: HUGE })).to.include({ allowed: false, remaining: 0 });
            expect(await limiter.check('2^46', { timestamp: 1_700_000_000, cost: 2 ** 46 })).to.include({ allowed: true, remaining: HUGE - 2 ** 46 });
            expect(await limiter.check('2^48', { timestamp: 1_700_000_000, cost: 2 ** 48 })).to.include({ allowed: true, remaining: HUGE - 2 ** 48 });
          });
          await expectFast('a batch of huge checks in flight at once', async () => {
            const decisions = await Promise.all(
              Array.from({ length: 50 }, (_, i) => limiter.check(`batch-${i % 5}`, { timestamp: 1_700_000_001 + i / 1000, cost: 2 ** 49 + i })),
            );
            expect(decisions.every((d) => d.allowed)).to.equal(true);
          });
          await expectFast('leases granting and releasing huge amounts', async () => {
            for (let i = 0; i < 20; i++) expect((await leased.check('leased', { timestamp: 1_700_000_002 + i / 1000, cost: 2 ** 40 })).allowed).to.equal(true);
          });
        } finally {
          await leased.close();
          await limiter.close();
          await store.close();
        }
      });
    }
  }

  it('memory: a client active in 20,000 distinct seconds of a one-day window keeps at most ceil(W / g) + 1 = 61 buckets in Redis', async () => {
    const prefix = 'bounded:memory:';
    const store = new RedisStore({ client, prefix });
    // The store's own decisions (no lease, no denial cache): this counts what the store's script keeps.
    const limiter = new RateLimiter({ limit: 1_000_000, windowSeconds: 86_400, store, timeoutMs: 10_000, lease: false, denialCache: false });
    const key = `${prefix}{busy}:sw2`;
    let longest = 0;
    try {
      for (let batch = 0; batch < 100; batch++) {
        // Every 4.3 s of request time: 20,000 distinct seconds over a day, 200 checks in flight at a time.
        const decisions = await Promise.all(
          Array.from({ length: 200 }, (_, i) => limiter.check('busy', { timestamp: 1_700_000_000 + ((batch * 200 + i) * 4_321) / 1000 })),
        );
        expect(decisions.every((d) => d.allowed && d.source === 'store')).to.equal(true);
        longest = Math.max(longest, await client.strlen(key));
      }
      // A 28-byte header and 16 bytes a bucket; a dead front is kept only while it is shorter than the live part.
      expect(longest, 'longest value').to.be.at.most(28 + 2 * 61 * 16 + 16);
      const live = (await client.strlen(key)) - 28;
      expect(live / 16, 'buckets in the value at the end').to.be.at.most(2 * 61);
      const usage = Number(await client.call('MEMORY', 'USAGE', key));
      expect(usage, 'MEMORY USAGE of the busy client (bytes)').to.be.below(2_200);
    } finally {
      await limiter.close();
      await store.close();
    }
  });

  it('policy mode: a check and a settle of 2^53 - 1 units (charge and refund) at any limit', async () => {
    const store = new RedisStore({ client, prefix: 'bounded:policies:' });
    const limiter = new RateLimiter({
      policies: [
        { limit: 10, windowSeconds: 60 },
        { limit: HUGE, windowSeconds: 3600 },
      ],
      store,
      timeoutMs: 5_000,
    });
    const big = new RateLimiter({ policies: [{ limit: HUGE, windowSeconds: 60 }], store, timeoutMs: 5_000 });
    try {
      await expectFast('settle a huge actual cost, then check', async () => {
        const reservation = await limiter.reserve('llm', { estimate: 1, timestamp: 1_700_000_000 });
        expect(reservation.recorded).to.equal(true);
        expect(await limiter.settle(reservation, HUGE)).to.equal(HUGE - 1);
        expect((await limiter.check('llm', { timestamp: 1_700_000_001 })).allowed).to.equal(false);
      });
      await expectFast('check of a huge cost, then a huge refund', async () => {
        const reservation = await big.reserve('bulk', { estimate: HUGE, timestamp: 1_700_000_000 });
        expect(reservation.decision).to.include({ allowed: true, remaining: 0 });
        expect(await big.settle(reservation, 0)).to.equal(-HUGE);
        expect(await big.check('bulk', { timestamp: 1_700_000_000.001 })).to.include({ allowed: true, remaining: HUGE - 1 });
      });
    } finally {
      await big.close();
      await limiter.close();
      await store.close();
    }
  });
});
