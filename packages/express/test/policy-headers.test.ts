/**
 * Several policies per client through the Express adapter (a real server via supertest): the
 * draft-8 headers list every policy, binding policy first, and shadow mode never answers 429.
 */
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { MemoryStore, RateLimiter } from '@slidegate/core';
import { rateLimit } from '../src/index';

describe('rateLimit with several policies per client (policy mode)', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closers) await close();
  });

  function appFor(limiter: RateLimiter, headers: 'draft-8' | 'draft-7' = 'draft-8'): express.Express {
    const middleware = rateLimit({ limiter, headers, keyGenerator: (req) => String(req.headers['x-api-key']) });
    const app = express();
    app.get('/', middleware, (_req, res) => void res.send('ok'));
    return app;
  }

  function limiterWith(shadow: boolean): RateLimiter {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    // A fixed clock: every request falls in the same second, so the answers are exact.
    const limiter = new RateLimiter({ policies: [{ limit: 2, windowSeconds: 1 }, { limit: 3, windowSeconds: 3600 }], store, shadow, now: () => 1_700_000_000 });
    closers.push(async () => {
      await limiter.close();
      await store.close();
    });
    return limiter;
  }

  it('draft-8: one RateLimit-Policy and one RateLimit item per policy, the binding one first; 429 when any policy denies', async () => {
    const app = appFor(limiterWith(false));
    const first = await request(app).get('/').set('x-api-key', 'k1');
    expect(first.status).to.equal(200);
    const policy = first.headers['ratelimit-policy'] as string;
    expect(policy.split(', ').map((item) => item.replace(/; pk=:[^:]+:$/, ''))).to.deep.equal([
      '"2-in-1sec"; q=2; w=1',
      '"3-in-1hr"; q=3; w=3600',
    ]);
    // Buckets of 17 ms (1 s) and 60 s (1 h): each reset is W up to a bucket more, rounded up.
    expect(first.headers.ratelimit).to.match(/^"2-in-1sec"; r=1; t=[12], "3-in-1hr"; r=2; t=36[0-6]\d$/);
    await request(app).get('/').set('x-api-key', 'k1');
    // The per-second policy denies (the hour one would allow): it binds and comes first.
    const third = await request(app).get('/').set('x-api-key', 'k1');
    expect(third.status).to.equal(429);
    expect(third.headers.ratelimit).to.match(/^"2-in-1sec"; r=0; t=[12], "3-in-1hr"; r=1; t=36[0-6]\d$/);
    expect(third.headers['retry-after']).to.match(/^[12]$/);
  });

  it('draft-7: RateLimit-Policy lists every policy; shadow mode reports but never blocks', async () => {
    const app = appFor(limiterWith(true), 'draft-7');
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await request(app).get('/').set('x-api-key', 'k2');
      statuses.push(last.status);
    }
    expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 200]);
    expect(last?.headers['ratelimit-policy']).to.equal('2;w=1, 3;w=3600');
    expect(last?.headers.ratelimit).to.match(/^limit=2, remaining=0, reset=[12]$/);
    expect(last?.headers['retry-after']).to.equal(undefined);
  });
});
