import { expect } from 'chai';
import Koa from 'koa';
import request from 'supertest';
import { MemoryStore } from '@slidegate/core';
import { rateLimit, type KoaRateLimitMiddleware, type KoaRateLimitOptions } from '../src/index';

const made: KoaRateLimitMiddleware[] = [];
after(async () => {
  await Promise.all(made.map((m) => m.close()));
});

function server(options: KoaRateLimitOptions, errors?: (error: { status?: number; headers?: Record<string, string> }) => void) {
  const app = new Koa();
  if (errors !== undefined) app.on('error', errors);
  const middleware = rateLimit({ store: new MemoryStore({ sweepIntervalMs: 0 }), ...options });
  made.push(middleware);
  app.use(middleware);
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  return app.callback();
}

describe('@slidegate/koa as koa-ratelimit users expect', () => {
  it('throw: ctx.throw(429) for the app, keeping the rate-limit headers and Retry-After', async () => {
    const thrown: Array<{ status?: number; headers?: Record<string, string> }> = [];
    const app = server({ limit: 1, windowSeconds: 60, throw: true, headers: 'draft-7' }, (error) => void thrown.push(error));
    expect((await request(app).get('/')).status).to.equal(200);
    const limited = await request(app).get('/');
    expect(limited.status).to.equal(429);
    expect(limited.text).to.equal('Too many requests, please try again later.');
    // Whole seconds rounded up: 60 or 61 with 1 s buckets (59 on a slow machine).
    expect(limited.headers.ratelimit).to.match(/^limit=1, remaining=0, reset=(59|60|61)$/);
    expect(limited.headers['retry-after']).to.match(/^(59|60|61)$/);
    expect(thrown.map((e) => e.status)).to.deep.equal([429]);
  });

  it('custom header names, as koa-ratelimit\'s headers option takes them', async () => {
    const app = server({ limit: 2, windowSeconds: 60, headers: { remaining: 'Rate-Limit-Remaining', reset: 'Rate-Limit-Reset', total: 'Rate-Limit-Total' } });
    const response = await request(app).get('/');
    expect(response.headers).to.include({ 'rate-limit-total': '2', 'rate-limit-remaining': '1' });
    expect(Number(response.headers['rate-limit-reset']) - Date.now() / 1000).to.be.within(58, 61);
    expect(response.headers['x-ratelimit-limit']).to.equal(undefined);
  });

  it('refuses a header name that is not one, when the middleware is made', () => {
    expect(() => rateLimit({ limit: 1, windowSeconds: 1, headers: { total: 'bad name' } })).to.throw(TypeError, /headers\.total must be a header name/);
    expect(() => rateLimit({ limit: 1, windowSeconds: 1, headers: { totl: 'X' } as never })).to.throw(TypeError, /no option "totl"/);
  });
});
