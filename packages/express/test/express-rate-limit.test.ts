import { expect } from 'chai';
import express, { type Express, type Request } from 'express';
import { createServer } from 'node:http';
import { once } from 'node:events';
import request from 'supertest';
import { RateLimiter, type Decision } from '@slidegate/core';
import { storeCases, warningsDuring, statuses } from '../../core/test/http-support';
import { rateLimit, type ExpressRateLimitMiddleware, type ExpressRateLimitOptions } from '../src/index';

const opened: ExpressRateLimitMiddleware[] = [];
function limited(options: ExpressRateLimitOptions): ExpressRateLimitMiddleware {
  const middleware = rateLimit(options);
  opened.push(middleware);
  return middleware;
}

function appWith(...middleware: express.RequestHandler[]): Express {
  const app = express();
  app.get('/', ...middleware, (_req, res) => {
    res.send('ok');
  });
  return app;
}


after(async () => {
  await Promise.all(opened.map((middleware) => middleware.close()));
});

for (const storeCase of storeCases()) {
  describe(`@slidegate/express on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    before(async () => {
      opened = await storeCase.open();
    });
    after(async () => {
      await opened.close();
    });

    it('allows exactly the limit, then 429 with Retry-After equal to the decision', async () => {
      const decisions: Decision[] = [];
      const app = appWith(limited({ limit: 3, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-a`, onLimited: (_req, d) => void decisions.push(d) }));
      expect(await statuses(app, 4)).to.deep.equal([200, 200, 200, 429]);
      const response = await request(app).get('/');
      expect(response.status).to.equal(429);
      expect(response.text).to.equal('Too many requests, please try again later.');
      expect(response.headers['content-type']).to.match(/^text\/plain/);
      expect(decisions).to.have.length(2);
      // Headers carry the decision's ms-precise wait rounded up to whole seconds.
      expect(response.headers['retry-after']).to.equal(String(Math.ceil(decisions[1]?.retryAfter as number)));
      expect(decisions[1]?.retryAfter).to.be.within(58, 62);
    });

    it('per-key limits from keyGenerator, per-route limiters, and cost', async () => {
      const app = express();
      const byKey = limited({ limit: 2, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-key`, keyGenerator: (req) => req.get('x-api-key') ?? 'anonymous' });
      const heavy = limited({ limit: 5, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-heavy`, cost: (req) => Number(req.query.units ?? 1) });
      app.get('/keyed', byKey, (_req, res) => void res.send('ok'));
      app.get('/heavy', heavy, (_req, res) => void res.send('ok'));
      expect(await statuses(app, 3, '/keyed', { 'x-api-key': 'alice' })).to.deep.equal([200, 200, 429]);
      expect(await statuses(app, 3, '/keyed', { 'x-api-key': 'bob' })).to.deep.equal([200, 200, 429]);
      // The other route has its own limiter and key space on the same store.
      expect(await statuses(app, 1, '/heavy?units=3')).to.deep.equal([200]);
      expect(await statuses(app, 2, '/heavy?units=2')).to.deep.equal([200, 429]);
      expect(await statuses(app, 1, '/heavy?units=1')).to.deep.equal([429]);
    });

    it('a limit changed at run time applies to the next request', async () => {
      const middleware = limited({ limit: 1, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-admin`, keyGenerator: (req) => req.get('x-api-key') ?? 'anonymous' });
      const app = appWith(middleware);
      expect(await statuses(app, 2, '/', { 'x-api-key': 'k1' })).to.deep.equal([200, 429]);
      await middleware.updateLimit('k1', 3, 60);
      expect(await statuses(app, 3, '/', { 'x-api-key': 'k1' })).to.deep.equal([200, 200, 429]);
    });

    it('default draft-8 headers carry the decision values', async () => {
      const app = appWith(limited({ limit: 2, windowSeconds: 30, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-h` }));
      const first = await request(app).get('/');
      expect(first.headers['ratelimit-policy']).to.match(new RegExp(`^"${opened.prefix}-h"; q=2; w=30; pk=:[A-Za-z0-9+/=]+:$`));
      // W = 30 s: 500 ms buckets, so reset is 30.000 .. 30.499 s, rounded up.
      expect(first.headers.ratelimit).to.match(new RegExp(`^"${opened.prefix}-h"; r=1; t=3[01]$`));
    });
  });
}

describe('@slidegate/express behaviour', () => {
  it('sends each header mode with the decision values', async () => {
    const expected: Record<string, (h: Record<string, string>) => void> = {
      'draft-6': (h) => {
        // reset: the first unit's 1 s bucket counts 60.000 .. 60.999 s more, rounded up.
        expect(h).to.include({ 'ratelimit-policy': '5;w=60', 'ratelimit-limit': '5', 'ratelimit-remaining': '4' });
        expect(h['ratelimit-reset']).to.match(/^6[01]$/);
      },
      'draft-7': (h) => {
        expect(h['ratelimit-policy']).to.equal('5;w=60');
        expect(h.ratelimit).to.match(/^limit=5, remaining=4, reset=6[01]$/);
      },
      'draft-8': (h) => {
        expect(h.ratelimit).to.match(/^"5-in-1min"; r=4; t=6[01]$/);
        expect(h['ratelimit-policy']).to.match(/^"5-in-1min"; q=5; w=60; pk=:[A-Za-z0-9+/=]+:$/);
      },
      legacy: (h) => {
        expect(h).to.include({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '4' });
        expect(Number(h['x-ratelimit-reset']) - Date.now() / 1000).to.be.within(58, 62);
        expect(h).to.not.have.property('ratelimit');
      },
      none: (h) => {
        expect(Object.keys(h).filter((name) => name.includes('ratelimit'))).to.deep.equal([]);
      },
    };
    for (const [mode, check] of Object.entries(expected)) {
      const app = appWith(limited({ limit: 5, windowSeconds: 60, headers: mode as ExpressRateLimitOptions['headers'] }));
      check((await request(app).get('/')).headers as Record<string, string>);
    }
  });

  it('stacked limiters in draft-8 each append their own RateLimit entry', async () => {
    const app = appWith(limited({ limit: 5, windowSeconds: 60, name: 'burst' }), limited({ limit: 100, windowSeconds: 3600, name: 'hourly' }));
    const response = await request(app).get('/');
    // 1 s buckets for the minute, 60 s buckets for the hour: each reset is up to a bucket more, rounded up.
    expect(response.headers.ratelimit).to.match(/^"burst"; r=4; t=6[01], "hourly"; r=99; t=36[0-6]\d$/);
  });

  it('skip and the allow list let requests through uncounted and without headers', async () => {
    const app = appWith(limited({ limit: 1, windowSeconds: 60, skip: (req) => req.get('x-internal') === 'yes', allowList: ['10.1.2.3'] }));
    app.set('trust proxy', true);
    expect(await statuses(app, 3, '/', { 'x-internal': 'yes' })).to.deep.equal([200, 200, 200]);
    const allowListed = await request(app).get('/').set('x-forwarded-for', '10.1.2.3');
    expect(allowListed.status).to.equal(200);
    expect(allowListed.headers).to.not.have.property('ratelimit');
    expect(await statuses(app, 2, '/', { 'x-forwarded-for': '::ffff:10.1.2.3' })).to.deep.equal([200, 200]);
    expect(await statuses(app, 2, '/', { 'x-forwarded-for': '10.1.2.4' })).to.deep.equal([200, 429]);
  });

  it('keys IPv4-mapped clients by their IPv4 address: the dual-stack socket address, and two clients never share', async () => {
    const keys: string[] = [];
    const app = appWith(
      limited({
        limit: 1,
        windowSeconds: 60,
        handler: (_req, res, _next, info) => {
          keys.push(info.key);
          res.status(429).end();
        },
      }),
    );
    app.get('/ip', (req, res) => void res.send(req.socket.remoteAddress));
    // A server on the dual-stack '::' sees a client of 127.0.0.1 as ::ffff:127.0.0.1.
    const server = createServer(app).listen(0, '::');
    await once(server, 'listening');
    const socketIp = (await request(server).get('/ip')).text;
    expect((await request(server).get('/')).status).to.equal(200);
    expect((await request(server).get('/')).status).to.equal(429);
    server.close();
    expect(socketIp).to.equal('::ffff:127.0.0.1');
    expect(keys[0]).to.equal('127.0.0.1');

    const proxied = appWith(limited({ limit: 1, windowSeconds: 60 }));
    proxied.set('trust proxy', true);
    expect(await statuses(proxied, 2, '/', { 'x-forwarded-for': '::ffff:203.0.113.1' })).to.deep.equal([200, 429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '203.0.113.1' })).to.deep.equal([429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '::ffff:203.0.113.2' })).to.deep.equal([200]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '::ffff:cb00:7103' })).to.deep.equal([200]);
  });

  it('groups IPv6 clients by /56 by default, and by a configured prefix length', async () => {
    const app = appWith(limited({ limit: 1, windowSeconds: 60 }));
    app.set('trust proxy', true);
    expect(await statuses(app, 1, '/', { 'x-forwarded-for': '2001:db8:1:100::1' })).to.deep.equal([200]);
    expect(await statuses(app, 1, '/', { 'x-forwarded-for': '2001:db8:1:1ff:ffff::9' })).to.deep.equal([429]);
    expect(await statuses(app, 1, '/', { 'x-forwarded-for': '2001:db8:1:200::1' })).to.deep.equal([200]);
    const per64 = appWith(limited({ limit: 1, windowSeconds: 60, ipv6Subnet: 64 }));
    per64.set('trust proxy', true);
    expect(await statuses(per64, 1, '/', { 'x-forwarded-for': '2001:db8:1:100::1' })).to.deep.equal([200]);
    expect(await statuses(per64, 1, '/', { 'x-forwarded-for': '2001:db8:1:101::1' })).to.deep.equal([200]);
    expect(await statuses(per64, 1, '/', { 'x-forwarded-for': '2001:db8:1:101::2' })).to.deep.equal([429]);
  });

  it("follows 'trust proxy': X-Forwarded-For keys clients when trusted, and is ignored with one warning when not", async () => {
    const trusted = appWith(limited({ limit: 1, windowSeconds: 60 }));
    trusted.set('trust proxy', 1);
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200]);
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([200]);

    const untrusted = appWith(limited({ limit: 1, windowSeconds: 60 }));
    let codes: Array<string | undefined> = [];
    const warnings = await warningsDuring(async () => {
      codes = [];
      expect(await statuses(untrusted, 2, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200, 429]);
      expect(await statuses(untrusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([429]);
    });
    codes = warnings.map((w) => w.code);
    expect(codes).to.deep.equal(['SLIDEGATE_XFF_IGNORED']);
  });

  it("warns once when 'trust proxy' is true: clients could pick their own key", async () => {
    const permissive = appWith(limited({ limit: 5, windowSeconds: 60 }));
    permissive.set('trust proxy', true);
    const warnings = await warningsDuring(async () => {
      expect(await statuses(permissive, 2, '/', { 'x-forwarded-for': '198.51.100.9' })).to.deep.equal([200, 200]);
    });
    expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_PERMISSIVE_TRUST_PROXY']);
    const strict = appWith(limited({ limit: 5, windowSeconds: 60 }));
    strict.set('trust proxy', 'loopback');
    expect(await warningsDuring(async () => void (await statuses(strict, 1, '/', { 'x-forwarded-for': '198.51.100.9' })))).to.deep.equal([]);
  });

  it('message as an object is sent as JSON with the status code; handler overrides the response', async () => {
    const json = appWith(limited({ limit: 0, windowSeconds: 60, statusCode: 503, message: { error: 'rate_limited' } }));
    const response = await request(json).get('/');
    expect(response.status).to.equal(503);
    expect(response.body).to.deep.equal({ error: 'rate_limited' });
    expect(response.headers).to.not.have.property('retry-after'); // limit 0: no retry can ever pass

    const custom = appWith(limited({ limit: 1, windowSeconds: 60, handler: (_req, res, _next, info) => void res.status(418).json({ retry: info.decision.retryAfter }) }));
    expect(await statuses(custom, 1)).to.deep.equal([200]);
    const teapot = await request(custom).get('/');
    expect(teapot.status).to.equal(418);
    expect(Math.ceil(teapot.body.retry as number)).to.equal(Number(teapot.headers['retry-after']));
  });

  it('a shared limiter spans routes; a throwing keyGenerator reaches the error handler', async () => {
    const limiter = new RateLimiter({ limit: 2, windowSeconds: 60 });
    const app = express();
    app.get('/a', limited({ limiter }), (_req, res) => void res.send('a'));
    app.get('/b', limited({ limiter }), (_req, res) => void res.send('b'));
    app.get('/broken', limited({ limit: 1, windowSeconds: 1, keyGenerator: () => { throw new Error('no key'); } }), (_req, res) => void res.send('x'));
    app.use((error: Error, _req: Request, res: express.Response, _next: express.NextFunction) => void res.status(500).send(error.message));
    expect(await statuses(app, 1, '/a')).to.deep.equal([200]);
    expect(await statuses(app, 2, '/b')).to.deep.equal([200, 429]);
    const broken = await request(app).get('/broken');
    expect([broken.status, broken.text]).to.deep.equal([500, 'no key']);
    await limiter.close();
  });

  it('refuses bad options at construction with a clear error', () => {
    expect(() => rateLimit({ limit: 10 } as ExpressRateLimitOptions)).to.throw(TypeError, /rateLimit options needs limit and windowSeconds/);
    expect(() => rateLimit({ limit: 10, windowSeconds: 60, headers: 'draft-5' as never })).to.throw(RangeError, /rateLimit options\.headers/);
    expect(() => rateLimit({ limit: 10, windowSeconds: 60, max: 5 } as never)).to.throw(TypeError, /unknown option rateLimit options\.max/);
  });

  it('decides in-process without waiting: the route runs in the same tick as the middleware', async () => {
    const app = express();
    app.get(
      '/',
      (_req, res, next) => {
        res.locals.tick = 'same tick';
        queueMicrotask(() => (res.locals.tick = 'later'));
        next();
      },
      limited({ limit: 5, windowSeconds: 60 }),
      (_req, res) => void res.send(res.locals.tick),
    );
    const response = await request(app).get('/');
    expect([response.status, response.text]).to.deep.equal([200, 'same tick']);
    // The real clock: the first unit's 1 s bucket counts 60.000 .. 60.999 s more, rounded up.
    expect(response.headers.ratelimit).to.match(/^"5-in-1min"; r=4; t=6[01]$/);
  });

  it('every callback may be async; a callback that throws or rejects reaches the error handler', async () => {
    const app = express();
    app.get(
      '/',
      limited({
        limit: 3,
        windowSeconds: 60,
        // A frozen clock at a whole second: the first unit's 1 s bucket counts until 60.999 s later, so t=61
        // (headers round up); a clock that moved would make it 60 or 61.
        limiterOptions: { now: () => 1_700_000_000 },
        skip: async (req) => req.get('x-internal') === 'yes',
        keyGenerator: async (req) => req.get('x-api-key') ?? 'anonymous',
        allowList: async (_req, key) => key === 'trusted',
        cost: async (req) => Number(req.get('x-units') ?? 1),
        onLimited: async () => undefined,
        message: async (_req, decision) => ({ limit: decision.limit }),
      }),
      (_req, res) => void res.send('ok'),
    );
    app.get('/sync-throw', limited({ limit: 1, windowSeconds: 60, cost: () => { throw new Error('sync'); } }), (_req, res) => void res.send('x'));
    app.get('/async-throw', limited({ limit: 1, windowSeconds: 60, cost: () => Promise.reject(new Error('async')) }), (_req, res) => void res.send('x'));
    app.use((error: Error, _req: Request, res: express.Response, _next: express.NextFunction) => void res.status(500).send(error.message));
    expect(await statuses(app, 1, '/', { 'x-api-key': 'k', 'x-units': '2' })).to.deep.equal([200]);
    const denied = await request(app).get('/').set({ 'x-api-key': 'k', 'x-units': '2' });
    expect([denied.status, denied.body, denied.headers.ratelimit]).to.deep.equal([429, { limit: 3 }, '"3-in-1min"; r=1; t=61']);
    expect(await statuses(app, 2, '/', { 'x-api-key': 'k', 'x-internal': 'yes', 'x-units': '2' })).to.deep.equal([200, 200]);
    expect(await statuses(app, 2, '/', { 'x-api-key': 'trusted', 'x-units': '5' })).to.deep.equal([200, 200]);
    for (const [path, message] of [['/sync-throw', 'sync'], ['/async-throw', 'async']]) {
      const response = await request(app).get(path as string);
      expect([response.status, response.text]).to.deep.equal([500, message]);
    }
  });

  it("reads the client IP as req.ip does, including a req.ip replaced on the app or the request", async () => {
    const keys: string[] = [];
    const record = () => limited({ limit: 0, windowSeconds: 60, handler: (_req, res, _next, info) => void (keys.push(info.key), res.status(429).end()) });
    const plain = appWith(record());
    await request(plain).get('/');
    const onApp = appWith(record());
    Object.defineProperty(onApp.request, 'ip', { get: () => '203.0.113.50', configurable: true });
    await request(onApp).get('/');
    const onRequest = express();
    onRequest.get('/', (req, _res, next) => (Object.defineProperty(req, 'ip', { value: '203.0.113.51' }), next()), record(), (_req, res) => void res.send('ok'));
    await request(onRequest).get('/');
    const trusted = appWith(record());
    trusted.set('trust proxy', 'loopback');
    await request(trusted).get('/').set('x-forwarded-for', '203.0.113.52');
    expect(keys).to.deep.equal(['127.0.0.1', '203.0.113.50', '203.0.113.51', '203.0.113.52']);
  });
});
