import { expect } from 'chai';
import { RateLimiter, type Algorithm } from '../src/index';
import { MemoryStore } from '../src/stores/memory-store';

const EXACT: readonly Algorithm[] = ['sliding-window', 'sliding-log'];

/** 1 ms buckets unless told: the window-change rules below are easiest to read exact to the ms. */
function limiterFor(algorithm: Algorithm, limit: number, windowSeconds: number, buckets: number | 'default' = 1): RateLimiter {
  const bucketMs = buckets === 'default' ? undefined : buckets;
  return new RateLimiter({ limit, windowSeconds, algorithm, bucketMs, store: new MemoryStore({ sweepIntervalMs: 0, now: () => 1_000 }) });
}

/** Runs `count` checks of cost 1 at t0, t0 + step, ... and returns whether each was allowed. */
async function burst(limiter: RateLimiter, clientId: string, t0: number, count: number, step = 1): Promise<boolean[]> {
  const allowed: boolean[] = [];
  for (let i = 0; i < count; i++) allowed.push(await limiter.isAllowed(clientId, t0 + i * step));
  return allowed;
}

describe('per-client limits', () => {
  it("getLimit returns the limiter's defaults for a client without its own, and the client's own after updateLimit", async () => {
    const limiter = new RateLimiter({ limit: 10, windowSeconds: 60 });
    expect(await limiter.getLimit('a')).to.deep.equal({ limit: 10, windowSeconds: 60 });
    await limiter.updateLimit('a', 3, 5);
    expect(await limiter.getLimit('a')).to.deep.equal({ limit: 3, windowSeconds: 5 });
    expect(await limiter.getLimit('b'), 'other clients keep the defaults').to.deep.equal({ limit: 10, windowSeconds: 60 });
    // The answer is a copy: changing it changes nothing.
    const own = await limiter.getLimit('a');
    own.limit = 1000;
    expect(await limiter.getLimit('a')).to.deep.equal({ limit: 3, windowSeconds: 5 });
    await limiter.close();
  });

  it('an own limit applies from the very next decision, and limit 0 blocks the client', async () => {
    const limiter = new RateLimiter({ limit: 10, windowSeconds: 60 });
    await limiter.updateLimit('a', 0, 60);
    expect(await limiter.check('a', { timestamp: 100 })).to.include({ allowed: false, limit: 0, retryAfter: Infinity, remaining: 0 });
    expect(await limiter.check('b', { timestamp: 100 })).to.include({ allowed: true, limit: 10, windowSeconds: 60, remaining: 9 });
    await limiter.updateLimit('a', 2, 1);
    expect(await limiter.check('a', { timestamp: 100 })).to.include({ allowed: true, limit: 2, windowSeconds: 1, remaining: 1 });
    await limiter.close();
  });

  for (const algorithm of EXACT) {
    describe(`'${algorithm}'`, () => {
      it('lowering the limit below what is used denies until enough slides out, then allows again', async () => {
        const limiter = limiterFor(algorithm, 5, 10);
        expect(await burst(limiter, 'a', 100, 5)).to.deep.equal([true, true, true, true, true]); // at 100..104
        await limiter.updateLimit('a', 2, 10);
        // used(105) = 5 > 2: denied; with no traffic it drops to 1 (only 104 left) at 113.
        expect(await limiter.check('a', { timestamp: 105 })).to.include({ allowed: false, limit: 2, remaining: 0, retryAfter: 8, resetAfter: 5 });
        expect(await limiter.isAllowed('a', 112), 'at 112, 103 and 104 still count').to.equal(false);
        expect(await limiter.check('a', { timestamp: 113 })).to.include({ allowed: true, remaining: 0 });
        expect(await limiter.isAllowed('a', 113)).to.equal(false);
        await limiter.close();
      });

      it('raising the limit lets the recorded requests keep counting against the new limit', async () => {
        const limiter = limiterFor(algorithm, 2, 10);
        expect(await burst(limiter, 'a', 100, 3, 0)).to.deep.equal([true, true, false]);
        await limiter.updateLimit('a', 5, 10);
        expect(await limiter.check('a', { timestamp: 101 })).to.include({ allowed: true, limit: 5, remaining: 2 });
        await limiter.close();
      });

      it('a longer window counts the requests that were inside the old window at the clock T, and none older', async () => {
        const limiter = limiterFor(algorithm, 100, 10);
        await limiter.check('a', { timestamp: 100, cost: 30 }); // leaves the 10 s window at 110
        await limiter.check('a', { timestamp: 112, cost: 2 }); // T = 112: only this is inside (102, 112]
        await limiter.updateLimit('a', 100, 60);
        // Under the 60 s window, 100 would be inside (53, 113]; it had left the old window, so it stays gone.
        expect(await limiter.check('a', { timestamp: 113 })).to.include({ allowed: true, windowSeconds: 60, remaining: 97, resetAfter: 59 });
        await limiter.close();
      });

      it('a shorter window stops counting the older records at once', async () => {
        const limiter = limiterFor(algorithm, 3, 60);
        expect(await burst(limiter, 'a', 100, 4, 10)).to.deep.equal([true, true, true, false]); // 100, 110, 120 | 130
        await limiter.updateLimit('a', 3, 15);
        // (115, 130] holds only 120.
        expect(await limiter.check('a', { timestamp: 130 })).to.include({ allowed: true, windowSeconds: 15, remaining: 1, resetAfter: 5 });
        await limiter.close();
      });

      // Regression guard for the window-change rule: the short window's drop must be applied when
      // the window changes again, even with no allowed request in between to prune.
      it('shortening and then lengthening the window never resurrects what the short window had dropped', async () => {
        const limiter = limiterFor(algorithm, 3, 60);
        expect(await burst(limiter, 'a', 100, 2, 40)).to.deep.equal([true, true]); // 100, 140: T = 140
        await limiter.updateLimit('a', 3, 10); // at T = 140 the 10 s window holds only 140
        await limiter.updateLimit('a', 3, 60); // so 100 is gone for good, though (81, 141] would hold it
        expect(await limiter.check('a', { timestamp: 141 })).to.include({ allowed: true, remaining: 1, resetAfter: 59 });
        expect(await limiter.check('a', { timestamp: 141 })).to.include({ allowed: true, remaining: 0 });
        await limiter.close();
      });

      it('a window change counts from the clock T even when the change comes with a later timestamp pending', async () => {
        const limiter = limiterFor(algorithm, 2, 10);
        expect(await burst(limiter, 'a', 100, 2, 0)).to.deep.equal([true, true]); // T = 100
        expect(await limiter.isAllowed('a', 108), 'denied at 108: T stays 100').to.equal(false);
        await limiter.updateLimit('a', 2, 20);
        // Both requests were inside the old window at T = 100, so they count under the new one.
        expect(await limiter.check('a', { timestamp: 115 })).to.include({ allowed: false, retryAfter: 5, resetAfter: 5 });
        expect(await limiter.isAllowed('a', 120)).to.equal(true);
        await limiter.close();
      });

      it('an updateLimit for a client never seen yet takes effect on its first request', async () => {
        const limiter = limiterFor(algorithm, 100, 60);
        await limiter.updateLimit('fresh', 1, 5);
        expect(await burst(limiter, 'fresh', 100, 2, 0)).to.deep.equal([true, false]);
        expect(await limiter.isAllowed('fresh', 105)).to.equal(true);
        await limiter.close();
      });
    });
  }

  describe("'sliding-window' with default buckets: a change moves each kept unit to the new bucket of the latest time it could have had", () => {
    it('shortening the window (60 s, g = 1 s, to 1 s, g = 17 ms) keeps the units counted at T, in buckets no earlier than their old ones end', async () => {
      const limiter = limiterFor('sliding-window', 10, 60, 'default');
      await limiter.check('a', { timestamp: 100.2, cost: 3 }); // old bucket 100.000 .. 100.999
      await limiter.check('a', { timestamp: 100.5, cost: 1 }); // T = 100.5
      await limiter.updateLimit('a', 4, 1);
      // Moved to the bucket of min(100.999, T = 100.5) = 100.5: 100.487 .. 100.503 (g = 17 ms).
      // Exact, the 3 units at 100.2 would have left (100.5 - 1 s, ...] at 101.2: moved, they count
      // until 101.503, never less than they would have.
      const denied = await limiter.check('a', { timestamp: 101.2 });
      expect(denied).to.include({ allowed: false, limit: 4, windowSeconds: 1, remaining: 0, retryAfter: 0.303, resetAfter: 0.303 });
      expect(await limiter.isAllowed('a', 101.502)).to.equal(false);
      expect(await limiter.check('a', { timestamp: 101.503 })).to.include({ allowed: true, remaining: 3 });
      await limiter.close();
    });

    it('lengthening the window (1 s to 60 s) never moves a unit to an earlier bucket, so nothing leaves sooner than its own time allows', async () => {
      const limiter = limiterFor('sliding-window', 2, 1, 'default');
      await limiter.check('a', { timestamp: 100.49 }); // bucket 5911: 100.487 .. 100.503
      await limiter.check('a', { timestamp: 100.99 }); // T = 100.99
      await limiter.updateLimit('a', 2, 60);
      // Both move to 1 s buckets: 100.503 and 100.99 both sit in 100.000 .. 100.999, counted until 160.998.
      expect(await limiter.check('a', { timestamp: 160.998 })).to.include({ allowed: false, retryAfter: 0.001, resetAfter: 0.001 });
      expect(await limiter.check('a', { timestamp: 160.999 })).to.include({ allowed: true, remaining: 1 });
      await limiter.close();
    });
  });

  describe("'sliding-counter'", () => {
    it('lowering the limit denies at once and admits again once the estimate falls', async () => {
      const limiter = limiterFor('sliding-counter', 5, 10);
      expect(await burst(limiter, 'a', 100, 5, 0)).to.deep.equal([true, true, true, true, true]);
      await limiter.updateLimit('a', 2, 10);
      const denied = await limiter.check('a', { timestamp: 101 });
      expect(denied).to.include({ allowed: false, limit: 2, remaining: 0 });
      // In window [110, 120) the estimate is 5 * (10000 - j) / 10000 at j ms into it: its floor is <= 1
      // from j = 6001 ms on (1.9995).
      expect(denied.retryAfter).to.equal(15.001);
      expect(await limiter.isAllowed('a', 116)).to.equal(false);
      expect(await limiter.isAllowed('a', 116.001)).to.equal(true);
      await limiter.close();
    });

    it('a window change never admits more than the estimate at the clock allowed', async () => {
      const limiter = limiterFor('sliding-counter', 4, 10);
      expect(await burst(limiter, 'a', 105, 4, 0)).to.deep.equal([true, true, true, true]);
      await limiter.updateLimit('a', 4, 60);
      // The 4 units carried into the 60 s window keep it full at once.
      expect(await limiter.check('a', { timestamp: 106 })).to.include({ allowed: false, windowSeconds: 60, remaining: 0 });
      await limiter.close();
    });

    it('a window change carries the estimate at the clock rounded up, so a fraction never turns into an extra admission', async () => {
      const limiter = limiterFor('sliding-counter', 10, 10);
      await limiter.check('a', { timestamp: 100, cost: 5 }); // window [100, 110)
      // At 115: 5 * (10 - 5) / 10 + 0 = 2.5 -> 2 used; allowed, the estimate is then 3.5.
      expect(await limiter.check('a', { timestamp: 115 })).to.include({ allowed: true, remaining: 7 });
      await limiter.updateLimit('a', 10, 60);
      // ceil(3.5) = 4 units carry into [60, 120) of the 60 s window.
      expect(await limiter.check('a', { timestamp: 116 })).to.include({ allowed: true, windowSeconds: 60, remaining: 5 });
      await limiter.close();
    });
  });
});
