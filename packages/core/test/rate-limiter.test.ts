import { expect } from 'chai';
import { RateLimiter } from '../src/index';

describe('RateLimiter on the embedded MemoryStore', () => {
  it('allows exactly the limit in a window, then denies with retryAfter until the oldest unit leaves (bucketMs 1: exact to the ms)', async () => {
    const limiter = new RateLimiter({ limit: 3, windowSeconds: 10, bucketMs: 1 });
    const allowed: boolean[] = [];
    for (let i = 0; i < 5; i++) allowed.push(await limiter.isAllowed('a', 100 + i));
    expect(allowed).to.deep.equal([true, true, true, false, false]);
    const denied = await limiter.check('a', { timestamp: 104 });
    expect(denied).to.include({ allowed: false, remaining: 0, retryAfter: 6, resetAfter: 6, source: 'store' });
    expect(await limiter.isAllowed('a', 109.999)).to.equal(false);
    expect(await limiter.isAllowed('a', 110)).to.equal(true);
    await limiter.close();
  });

  it('with the default buckets (W = 10 s: 167 ms) a unit counts at most g - 1 ms longer than W', async () => {
    const limiter = new RateLimiter({ limit: 3, windowSeconds: 10 });
    for (let i = 0; i < 3; i++) expect(await limiter.isAllowed('a', 100 + i)).to.equal(true);
    // 100.000 s sits in bucket 598 (99.866 .. 100.032 s): it counts while (e - 10 s, e] holds 100.032.
    const denied = await limiter.check('a', { timestamp: 104 });
    expect(denied).to.include({ allowed: false, remaining: 0, retryAfter: 6.032, resetAfter: 6.032, source: 'store' });
    expect(await limiter.isAllowed('a', 110.031)).to.equal(false);
    expect(await limiter.isAllowed('a', 110.032)).to.equal(true);
    await limiter.close();
  });

  it('the issue example: 3 a second, six checks within 3 ms across a second boundary admit 3', async () => {
    for (const bucketMs of [undefined, 1]) {
      const limiter = new RateLimiter({ limit: 3, windowSeconds: 1, bucketMs });
      const allowed: boolean[] = [];
      for (const t of [100.998, 100.998, 100.999, 101.0, 101.0, 101.001]) allowed.push(await limiter.isAllowed('c', t));
      expect(allowed, `bucketMs ${String(bucketMs)}`).to.deep.equal([true, true, true, false, false, false]);
      await limiter.close();
    }
  });
});
