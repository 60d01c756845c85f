import { expect } from 'chai';
import { MAX_TIMESTAMP, MAX_WINDOW_SECONDS, RateLimiter, type Algorithm } from '../src/index';

const ALGORITHMS: readonly Algorithm[] = ['sliding-window', 'sliding-log', 'sliding-counter'];

describe('edge times', () => {
  // Regression: timestamps up to Number.MAX_SAFE_INTEGER were accepted, and e + W then lost
  // precision in a double: at 2^53 - 1 with a one-year window, resetAfter came out as W + 1.
  for (const algorithm of ALGORITHMS) {
    it(`'${algorithm}': at the latest accepted timestamp with a one-year window every figure stays exact`, async () => {
      const W = MAX_WINDOW_SECONDS;
      const limiter = new RateLimiter({ limit: 1, windowSeconds: W, algorithm });
      const atMax = await limiter.check('max', { timestamp: MAX_TIMESTAMP });
      expect(atMax).to.include({ allowed: true, timestamp: MAX_TIMESTAMP, remaining: 0 });
      const deniedAtMax = await limiter.check('max', { timestamp: MAX_TIMESTAMP });
      if (algorithm !== 'sliding-counter') {
        expect(atMax.resetAfter).to.equal(W);
        expect(deniedAtMax).to.include({ allowed: false, retryAfter: W, resetAfter: W });
      } else {
        expect(deniedAtMax.allowed).to.equal(false);
        expect(deniedAtMax.retryAfter).to.be.within(1, 2 * W);
      }
      // The SPEC's meaning of retryAfter as far up as a probe can go (probes stay <= MAX_TIMESTAMP).
      const e = MAX_TIMESTAMP - 2 * W;
      expect(await limiter.isAllowed('a', e)).to.equal(true);
      const denied = await limiter.check('a', { timestamp: e });
      expect(denied.allowed).to.equal(false);
      if (algorithm !== 'sliding-counter') expect(denied).to.include({ retryAfter: W, resetAfter: W });
      expect(await limiter.isAllowed('a', e + denied.retryAfter - 1)).to.equal(false);
      expect(await limiter.isAllowed('a', e + denied.retryAfter)).to.equal(true);
      await limiter.close();
    });
  }

  for (const algorithm of ['sliding-window', 'sliding-log'] as const) {
    it(`'${algorithm}': timestamp 0 and a one-second window: the window holds exactly one second`, async () => {
      const limiter = new RateLimiter({ limit: 2, windowSeconds: 1, algorithm });
      expect(await limiter.check('a', { timestamp: 0 })).to.include({ allowed: true, remaining: 1, resetAfter: 1, timestamp: 0 });
      expect(await limiter.check('a', { timestamp: 0.999 })).to.include({ allowed: true, remaining: 0, timestamp: 0 });
      expect(await limiter.check('a', { timestamp: 0.5 })).to.include({ allowed: false, retryAfter: 1, resetAfter: 1, timestamp: 0 });
      expect(await limiter.check('a', { timestamp: 1 })).to.include({ allowed: true, remaining: 1, timestamp: 1 });
      await limiter.close();
    });
  }

  // The SPEC's formula weighs the previous aligned window by (W - (e mod W)) / W, which is 1 at
  // offset 0; only W - j - 1 of its seconds are inside (e - W, e]. With W = 1 the counter therefore
  // acts as a two-second window: it under-admits there, never over-admits.
  it("'sliding-counter': timestamp 0 and a one-second window: the previous second still weighs fully (a two-second window)", async () => {
    const limiter = new RateLimiter({ limit: 2, windowSeconds: 1, algorithm: 'sliding-counter' });
    expect(await limiter.check('a', { timestamp: 0 })).to.include({ allowed: true, remaining: 1, resetAfter: 2, timestamp: 0 });
    expect(await limiter.check('a', { timestamp: 0.999 })).to.include({ allowed: true, remaining: 0, timestamp: 0 });
    expect(await limiter.check('a', { timestamp: 0.5 })).to.include({ allowed: false, retryAfter: 2, resetAfter: 2, timestamp: 0 });
    expect(await limiter.isAllowed('a', 1)).to.equal(false);
    expect(await limiter.check('a', { timestamp: 2 })).to.include({ allowed: true, remaining: 1, timestamp: 2 });
    await limiter.close();
  });
});

describe('the clock', () => {
  it("a check without a timestamp is decided at the limiter's now(), floored", async () => {
    let now = 100.7;
    const limiter = new RateLimiter({ limit: 1, windowSeconds: 10, now: () => now });
    expect(await limiter.check('a')).to.include({ allowed: true, timestamp: 100, resetAfter: 10 });
    now = 109.99;
    expect(await limiter.isAllowed('a')).to.equal(false);
    now = 110;
    expect(await limiter.isAllowed('a')).to.equal(true);
    await limiter.close();
  });
});
