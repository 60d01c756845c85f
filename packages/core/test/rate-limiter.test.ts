import { expect } from 'chai';
import { RateLimiter } from '../src/index';

describe('RateLimiter on the embedded MemoryStore', () => {
  it('allows exactly the limit in a window, then denies with retryAfter until the oldest unit leaves', async () => {
    const limiter = new RateLimiter({ limit: 3, windowSeconds: 10 });
    const allowed: boolean[] = [];
    for (let i = 0; i < 5; i++) allowed.push(await limiter.isAllowed('a', 100 + i));
    expect(allowed).to.deep.equal([true, true, true, false, false]);
    const denied = await limiter.check('a', { timestamp: 104 });
    expect(denied).to.include({ allowed: false, remaining: 0, retryAfter: 6, resetAfter: 6, source: 'store' });
    expect(await limiter.isAllowed('a', 110)).to.equal(true);
    await limiter.close();
  });
});
