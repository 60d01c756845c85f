import { expect } from 'chai';
import Router from '@koa/router';
import Koa from 'koa';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import request from 'supertest';
import type { Decision } from '@slidegate/core';
import { storeCases, warningsDuring, statuses } from '../../core/test/http-support';
import { rateLimit, type KoaRateLimitMiddleware, type KoaRateLimitOptions } from '../src/index';

const opened: KoaRateLimitMiddleware[] = [];
function limited(options: KoaRateLimitOptions): KoaRateLimitMiddleware {
  const middleware = rateLimit(options);
  opened.push(middleware);
  return middleware;
}

/** A Koa app answering 'ok' behind the given middleware; `proxy` is Koa's trust-proxy switch. */
function appWith(middleware: Koa.Middleware[], proxy = false): ReturnType<Koa['callback']> {
  const app = new Koa({ proxy });
  for (const m of middleware) app.use(m);
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  return app.callback();
}


after(async () => {
  await Promise.all(opened.map((middleware) => middleware.close()));
});

for (const storeCase of storeCases()) {
  describe(`@slidegate/koa on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    before(async () => {
      opened = await storeCase.open();
    });
    after(async () => {
      await opened.close();
    });

    it('allows exactly the limit, then 429 with Retry-After equal to the decision', async () => {
      const decisions: Decision[] = [];
      const app = appWith([limited({ limit: 3, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-a`, onLimited: (_ctx, d) => void decisions.push(d) })]);
      expect(await statuses(app, 4)).to.deep.equal([200, 200, 200, 429]);
      const response = await request(app).get('/');
      expect([response.status, response.text]).to.deep.equal([429, 'Too many requests, please try again later.']);
      // Headers carry the decision's ms-precise wait rounded up to whole seconds.
      expect(response.headers['retry-after']).to.equal(String(Math.ceil(decisions[1]?.retryAfter as number)));
      expect(decisions[1]?.retryAfter).to.be.within(58, 62);
      // t is 60, or less when the oldest request lies a second or two back on a slow machine.
      expect(response.headers.ratelimit).to.match(new RegExp(`^"${opened.prefix}-a"; r=0; t=(58|59|60|61)$`));
    });

    it('per-key and per-route limits, cost, and a limit changed at run time', async () => {
      const byKey = limited({ limit: 2, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-key`, keyGenerator: (ctx) => ctx.get('x-api-key') || 'anonymous' });
      const heavy = limited({ limit: 5, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-heavy`, cost: (ctx) => Number(ctx.query.units ?? 1) });
      const router = new Router();
      router.get('/keyed', byKey, (ctx) => void (ctx.body = 'ok'));
      router.get('/heavy', heavy, (ctx) => void (ctx.body = 'ok'));
      const app = new Koa();
      app.use(router.routes());
      const callback = app.callback();
      expect(await statuses(callback, 3, '/keyed', { 'x-api-key': 'alice' })).to.deep.equal([200, 200, 429]);
      expect(await statuses(callback, 3, '/keyed', { 'x-api-key': 'bob' })).to.deep.equal([200, 200, 429]);
      expect(await statuses(callback, 2, '/heavy?units=3')).to.deep.equal([200, 429]);
      expect(await statuses(callback, 1, '/heavy?units=2')).to.deep.equal([200]);
      await byKey.updateLimit('alice', 4, 60);
      expect(await statuses(callback, 3, '/keyed', { 'x-api-key': 'alice' })).to.deep.equal([200, 200, 429]);
    });
  });
}

describe('@slidegate/koa behaviour', () => {
  it('sends each header mode with the decision values', async () => {
    const h6 = (await request(appWith([limited({ limit: 5, windowSeconds: 60, headers: 'draft-6' })])).get('/')).headers;
    // reset: the first unit's bucket (1 s for the minute, 60 s for the hour) counts up to a bucket more than W, rounded up.
    expect(h6).to.include({ 'ratelimit-policy': '5;w=60', 'ratelimit-limit': '5', 'ratelimit-remaining': '4' });
    expect(h6['ratelimit-reset']).to.match(/^6[01]$/);
    const h7 = (await request(appWith([limited({ limit: 5, windowSeconds: 60, headers: 'draft-7' })])).get('/')).headers;
    expect(h7['ratelimit-policy']).to.equal('5;w=60');
    expect(h7.ratelimit).to.match(/^limit=5, remaining=4, reset=6[01]$/);
    const h8 = (await request(appWith([limited({ limit: 5, windowSeconds: 60 }), limited({ limit: 50, windowSeconds: 3600, name: 'hourly' })])).get('/')).headers;
    expect(h8.ratelimit).to.match(/^"5-in-1min"; r=4; t=6[01], "hourly"; r=49; t=36[0-6]\d$/);
    const legacy = (await request(appWith([limited({ limit: 5, windowSeconds: 60, headers: 'legacy' })])).get('/')).headers;
    expect(legacy).to.include({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '4' });
    expect(Number(legacy['x-ratelimit-reset']) - Date.now() / 1000).to.be.within(58, 62);
    const none = (await request(appWith([limited({ limit: 5, windowSeconds: 60, headers: false })])).get('/')).headers;
    expect(Object.keys(none).filter((name) => name.includes('ratelimit'))).to.deep.equal([]);
  });

  it('skip and the allow list pass requests uncounted', async () => {
    const app = appWith([limited({ limit: 1, windowSeconds: 60, skip: (ctx) => ctx.get('x-internal') === 'yes', allowList: ['10.1.2.3'] })], true);
    expect(await statuses(app, 3, '/', { 'x-internal': 'yes' })).to.deep.equal([200, 200, 200]);
    expect(await statuses(app, 2, '/', { 'x-forwarded-for': '::ffff:10.1.2.3' })).to.deep.equal([200, 200]);
    expect(await statuses(app, 2, '/', { 'x-forwarded-for': '10.1.2.4' })).to.deep.equal([200, 429]);
  });

  it('keys the dual-stack socket address ::ffff:127.0.0.1 as 127.0.0.1; mapped clients never share; IPv6 by /56', async () => {
    const keys: string[] = [];
    const callback = appWith([
      limited({
        limit: 1,
        windowSeconds: 60,
        handler: (ctx, _next, info) => {
          keys.push(info.key);
          ctx.status = 429;
        },
      }),
    ]);
    const server: Server = createServer((req, res) => {
      if (req.url === '/ip') return void res.end(req.socket.remoteAddress);
      void callback(req, res);
    }).listen(0, '::');
    await once(server, 'listening');
    expect((await request(server).get('/ip')).text).to.equal('::ffff:127.0.0.1');
    expect([(await request(server).get('/')).status, (await request(server).get('/')).status]).to.deep.equal([200, 429]);
    server.close();
    expect(keys).to.deep.equal(['127.0.0.1']);

    const proxied = appWith([limited({ limit: 1, windowSeconds: 60 })], true);
    expect(await statuses(proxied, 2, '/', { 'x-forwarded-for': '::ffff:203.0.113.1' })).to.deep.equal([200, 429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '203.0.113.1' })).to.deep.equal([429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '::ffff:203.0.113.2' })).to.deep.equal([200]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:100::1' })).to.deep.equal([200]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:1ff::2' })).to.deep.equal([429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:200::1' })).to.deep.equal([200]);
  });

  it('follows app.proxy: X-Forwarded-For keys clients when trusted, and is ignored with one warning when not', async () => {
    const trusted = appWith([limited({ limit: 1, windowSeconds: 60 })], true);
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200]);
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([200]);
    const untrusted = appWith([limited({ limit: 1, windowSeconds: 60 })]);
    const warnings = await warningsDuring(async () => {
      expect(await statuses(untrusted, 2, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200, 429]);
      expect(await statuses(untrusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([429]);
    });
    expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_XFF_IGNORED']);
  });

  it('keys by ctx.ip as the app has it: an address set by earlier middleware, an app that overrides ip, app.proxy switched on later', async () => {
    const keys: string[] = [];
    const recordKey = { handler: (ctx: Koa.Context, _next: Koa.Next, info: { key: string }) => void (keys.push(info.key), (ctx.status = 429)) };
    const setByMiddleware = appWith([
      (ctx, next) => {
        const client = ctx.get('x-client');
        if (client !== '') ctx.request.ip = client;
        return next();
      },
      limited({ limit: 1, windowSeconds: 60, ...recordKey }),
    ]);
    expect(await statuses(setByMiddleware, 2, '/', { 'x-client': '198.51.100.21' })).to.deep.equal([200, 429]);
    expect(await statuses(setByMiddleware, 1, '/', { 'x-client': '198.51.100.22' })).to.deep.equal([200]);
    expect(await statuses(setByMiddleware, 2, '/')).to.deep.equal([200, 429]);
    expect(keys).to.deep.equal(['198.51.100.21', '127.0.0.1']);

    keys.length = 0;
    const overriding = new Koa();
    Object.defineProperty(overriding.request, 'ip', { get(this: Koa.Request) { return this.get('x-real-ip') || this.socket.remoteAddress; } });
    overriding.use(limited({ limit: 1, windowSeconds: 60, ...recordKey }));
    overriding.use((ctx) => void (ctx.body = 'ok'));
    const overridden = overriding.callback();
    expect(await statuses(overridden, 2, '/', { 'x-real-ip': '198.51.100.23' })).to.deep.equal([200, 429]);
    expect(await statuses(overridden, 1, '/', { 'x-real-ip': '198.51.100.24' })).to.deep.equal([200]);
    expect(keys).to.deep.equal(['198.51.100.23']);

    keys.length = 0;
    const switching = new Koa({ maxIpsCount: 1 });
    switching.use(limited({ limit: 1, windowSeconds: 60, ...recordKey }));
    switching.use((ctx) => void (ctx.body = 'ok'));
    const switched = switching.callback();
    const ignored = await warningsDuring(async () => {
      expect(await statuses(switched, 1, '/', { 'x-forwarded-for': '198.51.100.25' })).to.deep.equal([200]);
    });
    expect(ignored.map((w) => w.code)).to.deep.equal(['SLIDEGATE_XFF_IGNORED']);
    switching.proxy = true;
    expect(await statuses(switched, 2, '/', { 'x-forwarded-for': '198.51.100.25' })).to.deep.equal([200, 429]);
    expect(keys).to.deep.equal(['198.51.100.25']);
  });

  it('warns once when app.proxy trusts the whole X-Forwarded-For (no maxIpsCount)', async () => {
    const permissive = appWith([limited({ limit: 5, windowSeconds: 60 })], true);
    const warnings = await warningsDuring(async () => {
      expect(await statuses(permissive, 2, '/', { 'x-forwarded-for': '198.51.100.9' })).to.deep.equal([200, 200]);
    });
    expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_PERMISSIVE_TRUST_PROXY']);
    const bounded = new Koa({ proxy: true, maxIpsCount: 1 });
    bounded.use(limited({ limit: 1, windowSeconds: 60 }));
    bounded.use((ctx) => void (ctx.body = 'ok'));
    const callback = bounded.callback();
    const quiet = await warningsDuring(async () => {
      // With maxIpsCount 1, only the entry the proxy appended counts: a spoofed left entry changes nothing.
      expect(await statuses(callback, 1, '/', { 'x-forwarded-for': '1.1.1.1, 198.51.100.10' })).to.deep.equal([200]);
      expect(await statuses(callback, 1, '/', { 'x-forwarded-for': '2.2.2.2, 198.51.100.10' })).to.deep.equal([429]);
    });
    expect(quiet).to.deep.equal([]);
  });

  it('message objects are JSON; a throwing cost reaches Koa error handling', async () => {
    const json = appWith([limited({ limit: 1, windowSeconds: 60, message: { error: 'rate_limited' } })]);
    await request(json).get('/');
    const response = await request(json).get('/');
    expect([response.status, response.body]).to.deep.equal([429, { error: 'rate_limited' }]);
    const app = new Koa();
    app.silent = true;
    app.use(limited({ limit: 1, windowSeconds: 60, cost: () => { throw new Error('no cost'); } }));
    expect((await request(app.callback()).get('/')).status).to.equal(500);
  });

  it('refuses bad options at construction with a clear error', () => {
    expect(() => rateLimit({ windowSeconds: 60 } as KoaRateLimitOptions)).to.throw(TypeError, /rateLimit options needs limit and windowSeconds/);
    expect(() => rateLimit({ limit: 1, windowSeconds: 60, duration: 60000 } as never)).to.throw(TypeError, /unknown option rateLimit options\.duration/);
    expect(() => rateLimit({ limit: 1, windowSeconds: 60, ipv6Subnet: 200 })).to.throw(RangeError, /rateLimit options\.ipv6Subnet .*got number 200/);
  });

  it('decides in-process without waiting: the next middleware runs in the same tick', async () => {
    const app = new Koa();
    app.use((ctx, next) => {
      ctx.state.tick = 'same tick';
      queueMicrotask(() => (ctx.state.tick = 'later'));
      return next();
    });
    app.use(limited({ limit: 5, windowSeconds: 60 }));
    app.use((ctx) => {
      ctx.body = ctx.state.tick;
    });
    const response = await request(app.callback()).get('/');
    expect([response.status, response.text]).to.deep.equal([200, 'same tick']);
    // The real clock: the first unit's 1 s bucket counts 60.000 .. 60.999 s more, rounded up.
    expect(response.headers.ratelimit).to.match(/^"5-in-1min"; r=4; t=6[01]$/);
  });

  it('every callback may be async; a callback that throws or rejects reaches Koa error handling', async () => {
    const callback = appWith([
      limited({
        limit: 3,
        windowSeconds: 60,
        // A frozen clock at a whole second: the first unit's 1 s bucket counts until 60.999 s later, so t=61
        // (headers round up); a clock that moved would make it 60 or 61.
        limiterOptions: { now: () => 1_700_000_000 },
        skip: async (ctx) => ctx.get('x-internal') === 'yes',
        keyGenerator: async (ctx) => ctx.get('x-api-key') || 'anonymous',
        allowList: async (_ctx, key) => key === 'trusted',
        cost: async (ctx) => Number(ctx.get('x-units') || 1),
        onLimited: async () => undefined,
        message: async (_ctx, decision) => ({ limit: decision.limit }),
      }),
    ]);
    expect(await statuses(callback, 1, '/', { 'x-api-key': 'k', 'x-units': '2' })).to.deep.equal([200]);
    const denied = await request(callback).get('/').set({ 'x-api-key': 'k', 'x-units': '2' });
    expect([denied.status, denied.body, denied.headers.ratelimit]).to.deep.equal([429, { limit: 3 }, '"3-in-1min"; r=1; t=61']);
    expect(await statuses(callback, 2, '/', { 'x-api-key': 'k', 'x-internal': 'yes', 'x-units': '2' })).to.deep.equal([200, 200]);
    expect(await statuses(callback, 2, '/', { 'x-api-key': 'trusted', 'x-units': '5' })).to.deep.equal([200, 200]);
    for (const cost of [() => { throw new Error('sync'); }, () => Promise.reject(new Error('async'))]) {
      const app = new Koa();
      app.silent = true;
      app.use(limited({ limit: 1, windowSeconds: 60, cost }));
      expect((await request(app.callback()).get('/')).status).to.equal(500);
    }
  });
});
