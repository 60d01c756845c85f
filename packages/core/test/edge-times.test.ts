import { expect } from 'chai';
import { MAX_TIMESTAMP, MAX_WINDOW_SECONDS, RateLimiter, type Algorithm } from '../src/index';

const ALGORITHMS: readonly Algorithm[] = ['sliding-window', 'sliding-log', 'sliding-counter'];

/** Seconds with ms precision plus `ms`, summed in whole ms (a float sum could floor a ms away). */
const plusMs = (seconds: number, ms: number): number => (Math.round(seconds * 1000) + ms) / 1000;

describe('edge times', () => {
  // Regression: timestamps up to Number.MAX_SAFE_INTEGER were accepted, and e + W then lost
  // precision in a double: at 2^53 - 1 with a one-year window, resetAfter came out as W + 1. In ms,
  // the latest timestamp keeps e + 2W below 2^52 ms, so seconds with ms precision stay exact.
  for (const [algorithm, bucketMs] of [...ALGORITHMS.map((a) => [a, 1] as const), ['sliding-window', undefined] as const]) {
    it(`'${algorithm}'${bucketMs === 1 ? ' (bucketMs 1)' : ' (default buckets)'}: at the latest accepted timestamp with a one-year window every figure stays exact`, async () => {
      const W = MAX_WINDOW_SECONDS;
      const g = bucketMs ?? Math.ceil((W * 1000) / 60);
      const limiter = new RateLimiter({ limit: 1, windowSeconds: W, algorithm, bucketMs, maxClockSkewSeconds: Infinity });
      const atMax = await limiter.check('max', { timestamp: MAX_TIMESTAMP });
      expect(atMax).to.include({ allowed: true, timestamp: MAX_TIMESTAMP, remaining: 0 });
      const deniedAtMax = await limiter.check('max', { timestamp: MAX_TIMESTAMP });
      if (algorithm !== 'sliding-counter') {
        // Exact with 1 ms buckets; at most g - 1 ms more with wider ones.
        expect(atMax.resetAfter).to.be.within(W, W + (g - 1) / 1000);
        expect(deniedAtMax).to.include({ allowed: false, retryAfter: atMax.resetAfter, resetAfter: atMax.resetAfter });
        if (bucketMs === 1) expect(atMax.resetAfter).to.equal(W);
      } else {
        expect(deniedAtMax.allowed).to.equal(false);
        expect(deniedAtMax.retryAfter).to.be.within(0.001, 2 * W);
      }
      // The SPEC's meaning of retryAfter as far up as a probe can go (probes stay <= MAX_TIMESTAMP).
      const e = MAX_TIMESTAMP - 2 * W + 0.123;
      expect(await limiter.isAllowed('a', e)).to.equal(true);
      const denied = await limiter.check('a', { timestamp: e });
      expect(denied).to.include({ allowed: false, timestamp: e });
      if (algorithm !== 'sliding-counter') expect(denied.retryAfter).to.equal(denied.resetAfter);
      if (algorithm !== 'sliding-counter' && bucketMs === 1) expect(denied).to.include({ retryAfter: W, resetAfter: W });
      const retryMs = Math.round(denied.retryAfter * 1000);
      expect(await limiter.isAllowed('a', plusMs(e, retryMs - 1))).to.equal(false);
      expect(await limiter.isAllowed('a', plusMs(e, retryMs))).to.equal(true);
      await limiter.close();
    });
  }

  for (const algorithm of ['sliding-window', 'sliding-log'] as const) {
    it(`'${algorithm}' (bucketMs 1): timestamp 0 and a one-second window: the window holds exactly one second`, async () => {
      const limiter = new RateLimiter({ limit: 2, windowSeconds: 1, algorithm, bucketMs: 1, maxClockSkewSeconds: Infinity });
      expect(await limiter.check('a', { timestamp: 0 })).to.include({ allowed: true, remaining: 1, resetAfter: 1, timestamp: 0 });
      expect(await limiter.check('a', { timestamp: 0.999 })).to.include({ allowed: true, remaining: 0, resetAfter: 0.001, timestamp: 0.999 });
      // Late: decided at the clock 0.999; the unit at 0 leaves (e - 1 s, e] 1 ms later.
      expect(await limiter.check('a', { timestamp: 0.5 })).to.include({ allowed: false, retryAfter: 0.001, resetAfter: 0.001, timestamp: 0.999 });
      expect(await limiter.check('a', { timestamp: 1 })).to.include({ allowed: true, remaining: 0, timestamp: 1 });
      await limiter.close();
    });
  }

  it("'sliding-window' (default buckets): timestamp 0 and a one-second window: a unit counts at most g - 1 = 16 ms longer", async () => {
    const limiter = new RateLimiter({ limit: 2, windowSeconds: 1 });
    // Bucket 0 holds 0 .. 16 ms: it counts while (e - 1 s, e] holds 16 ms, until 1.015 s.
    expect(await limiter.check('a', { timestamp: 0 })).to.include({ allowed: true, remaining: 1, resetAfter: 1.016, timestamp: 0 });
    expect(await limiter.check('a', { timestamp: 0.999 })).to.include({ allowed: true, remaining: 0, resetAfter: 0.017, timestamp: 0.999 });
    expect(await limiter.check('a', { timestamp: 0.5 })).to.include({ allowed: false, retryAfter: 0.017, resetAfter: 0.017, timestamp: 0.999 });
    expect(await limiter.isAllowed('a', 1.015)).to.equal(false);
    expect(await limiter.check('a', { timestamp: 1.016 })).to.include({ allowed: true, remaining: 0, timestamp: 1.016 });
    await limiter.close();
  });

  // The SPEC's formula weighs the previous aligned window by (W - (e mod W)) / W, which is 1 at
  // offset 0; only W - j - 1 of its ms are inside (e - W, e]. On ms time that weight falls every ms,
  // so the counter over-counts the previous window by at most one ms's share: it under-admits
  // there, never over-admits.
  it("'sliding-counter': timestamp 0 and a one-second window: the previous second weighs fully at its boundary, and less each ms after", async () => {
    const limiter = new RateLimiter({ limit: 2, windowSeconds: 1, algorithm: 'sliding-counter', maxClockSkewSeconds: Infinity });
    // One unit in [0, 1 s): the estimate stays 1 until 1.000 s, and 1 * (1000 - 1) / 1000 floors to 0 at 1.001 s.
    expect(await limiter.check('a', { timestamp: 0 })).to.include({ allowed: true, remaining: 1, resetAfter: 1.001, timestamp: 0 });
    expect(await limiter.check('a', { timestamp: 0.999 })).to.include({ allowed: true, remaining: 0, timestamp: 0.999 });
    // Two units: 2 * (1000 - j) / 1000 floors to 1 from j = 1 ms, at 1.001 s.
    expect(await limiter.check('a', { timestamp: 0.5 })).to.include({ allowed: false, retryAfter: 0.002, resetAfter: 0.002, timestamp: 0.999 });
    expect(await limiter.isAllowed('a', 1)).to.equal(false);
    expect(await limiter.check('a', { timestamp: 1.001 })).to.include({ allowed: true, remaining: 0, timestamp: 1.001 });
    await limiter.close();
  });
});

describe('the clock', () => {
  it("a check without a timestamp is decided at the limiter's now(), floored to the ms", async () => {
    let now = 100.7009;
    const limiter = new RateLimiter({ limit: 1, windowSeconds: 10, bucketMs: 1, now: () => now });
    expect(await limiter.check('a')).to.include({ allowed: true, timestamp: 100.7, resetAfter: 10 });
    now = 110.6999;
    expect(await limiter.isAllowed('a')).to.equal(false);
    now = 110.7;
    expect(await limiter.isAllowed('a')).to.equal(true);
    await limiter.close();
  });
});
