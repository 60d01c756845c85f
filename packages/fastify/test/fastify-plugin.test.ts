import { expect } from 'chai';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import request from 'supertest';
import { Registry } from 'prom-client';
import { RateLimiter, storeKey, type Decision } from '@slidegate/core';
import { storeCases, warningsDuring, statuses as statusesOf } from '../../core/test/http-support';
import slidegateDefault, { slidegate, type FastifyRateLimitOptions } from '../src/index';

const apps: FastifyInstance[] = [];

/** A started Fastify app with the plugin and a few routes; closed in after(). */
async function appWith(options: FastifyRateLimitOptions, server: FastifyServerOptions = {}, routes?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify(server);
  apps.push(app);
  await app.register(slidegate, options);
  if (routes) routes(app);
  else app.get('/', async () => 'ok');
  await app.listen({ port: 0, host: '::' });
  return app;
}

const statuses = (app: FastifyInstance, n: number, path = '/', headers: Record<string, string> = {}): Promise<number[]> =>
  statusesOf(app.server, n, path, headers);

after(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

for (const storeCase of storeCases()) {
  describe(`@slidegate/fastify on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    before(async () => {
      opened = await storeCase.open();
    });
    after(async () => {
      await opened.close();
    });

    it('allows exactly the limit, then 429 with Retry-After equal to the decision', async () => {
      const decisions: Decision[] = [];
      const app = await appWith({ limit: 3, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-a`, onLimited: (_req, d) => void decisions.push(d) });
      expect(await statuses(app, 4)).to.deep.equal([200, 200, 200, 429]);
      const response = await request(app.server).get('/');
      // As @fastify/rate-limit answers: Fastify's own JSON error.
      expect(response.status).to.equal(429);
      expect(response.body).to.deep.equal({ statusCode: 429, error: 'Too Many Requests', message: 'Rate limit exceeded, retry in 1 minute' });
      // Headers carry the decision's ms-precise wait rounded up to whole seconds.
      expect(response.headers['retry-after']).to.equal(String(Math.ceil(decisions[1]?.retryAfter as number)));
      expect(decisions[1]?.retryAfter).to.be.within(58, 61);
      // t is 60, or less when the oldest request lies a second or two back on a slow machine.
      expect(response.headers.ratelimit).to.match(new RegExp(`^"${opened.prefix}-a"; r=0; t=(58|59|60|61)$`));
    });

    it('per-route config.rateLimit (own limit and key space, or false), per-key limits and cost', async () => {
      const app = await appWith({ limit: 2, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: opened.prefix }, {}, (a) => {
        a.get('/global-1', async () => 'ok');
        a.get('/global-2', async () => 'ok');
        a.get('/free', { config: { rateLimit: false } }, async () => 'ok');
        a.get('/keyed', { config: { rateLimit: { limit: 1, windowSeconds: 60, keyGenerator: (req) => String(req.headers['x-api-key'] ?? 'none') } } }, async () => 'ok');
        a.get('/heavy', { config: { rateLimit: { limit: 5, windowSeconds: 60, cost: (req) => Number((req.query as { units?: string }).units ?? 1) } } }, async () => 'ok');
      });
      // Routes without their own config share the plugin's limiter and budget.
      expect([...(await statuses(app, 1, '/global-1')), ...(await statuses(app, 2, '/global-2'))]).to.deep.equal([200, 200, 429]);
      expect(await statuses(app, 3, '/free')).to.deep.equal([200, 200, 200]);
      expect(await statuses(app, 2, '/keyed', { 'x-api-key': 'alice' })).to.deep.equal([200, 429]);
      expect(await statuses(app, 1, '/keyed', { 'x-api-key': 'bob' })).to.deep.equal([200]);
      expect(await statuses(app, 2, '/heavy?units=3')).to.deep.equal([200, 429]);
      expect(await statuses(app, 1, '/heavy?units=2')).to.deep.equal([200]);
    });

    it('a limit changed at run time through a shared limiter applies to the next request', async () => {
      const limiter = new RateLimiter({ limit: 1, windowSeconds: 60, store: opened.store, ...opened.limiterOptions });
      const app = await appWith({ limiter, prefix: `${opened.prefix}-admin:`, keyGenerator: (req) => String(req.headers['x-api-key']) });
      expect(await statuses(app, 2, '/', { 'x-api-key': 'k1' })).to.deep.equal([200, 429]);
      await limiter.updateLimit(storeKey(`${opened.prefix}-admin:`, 'k1'), 3, 60);
      expect(await statuses(app, 3, '/', { 'x-api-key': 'k1' })).to.deep.equal([200, 200, 429]);
      await limiter.close();
    });
  });
}

describe('@slidegate/fastify behaviour', () => {
  it('is exported as default and named, and works with global: false', async () => {
    expect(slidegateDefault).to.equal(slidegate);
    const app = await appWith({ global: false, limit: 1, windowSeconds: 60 }, {}, (a) => {
      a.get('/open', async () => 'ok');
      a.get('/limited', { config: { rateLimit: {} } }, async () => 'ok');
    });
    expect(await statuses(app, 3, '/open')).to.deep.equal([200, 200, 200]);
    expect(await statuses(app, 2, '/limited')).to.deep.equal([200, 429]);
  });

  it("hook 'preHandler' lets cost read the parsed body; a route's HEAD twin shares its limiter", async () => {
    const app = await appWith({ limit: 5, windowSeconds: 60, hook: 'preHandler', cost: (req) => (req.body as { units?: number } | undefined)?.units ?? 1 }, {}, (a) => {
      a.post('/batch', async () => 'ok');
      a.get('/page', { config: { rateLimit: { limit: 2, windowSeconds: 60 } } }, async () => 'ok');
    });
    const post = async (units: number) => (await request(app.server).post('/batch').send({ units })).status;
    expect([await post(4), await post(2), await post(1)]).to.deep.equal([200, 429, 200]);
    expect((await request(app.server).get('/page')).status).to.equal(200);
    expect((await request(app.server).head('/page')).status).to.equal(200);
    expect((await request(app.server).get('/page')).status).to.equal(429);
  });

  it('sends each header mode with the decision values', async () => {
    const headersOf = async (options: FastifyRateLimitOptions) => (await request((await appWith(options)).server).get('/')).headers;
    // reset: the first unit's 1 s bucket counts 60.000 .. 60.999 s more, rounded up.
    const h6 = await headersOf({ limit: 5, windowSeconds: 60, headers: 'draft-6' });
    expect(h6).to.include({ 'ratelimit-policy': '5;w=60', 'ratelimit-limit': '5', 'ratelimit-remaining': '4' });
    expect(h6['ratelimit-reset']).to.match(/^6[01]$/);
    const h7 = await headersOf({ limit: 5, windowSeconds: 60, headers: 'draft-7' });
    expect(h7['ratelimit-policy']).to.equal('5;w=60');
    expect(h7.ratelimit).to.match(/^limit=5, remaining=4, reset=6[01]$/);
    const h8 = await headersOf({ limit: 5, windowSeconds: 60 });
    expect(h8.ratelimit).to.match(/^"5-in-1min"; r=4; t=6[01]$/);
    expect(h8['ratelimit-policy']).to.match(/^"5-in-1min"; q=5; w=60; pk=:[A-Za-z0-9+/=]+:$/);
    const legacy = await headersOf({ limit: 5, windowSeconds: 60, headers: 'legacy' });
    expect(legacy).to.include({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '4' });
    // As @fastify/rate-limit sends it: seconds until the reset (rounded up: 60 or 61 with 1 s buckets).
    expect(Number(legacy['x-ratelimit-reset'])).to.be.within(58, 61);
    const none = await headersOf({ limit: 5, windowSeconds: 60, headers: 'none' });
    expect(Object.keys(none).filter((name) => name.includes('ratelimit'))).to.deep.equal([]);
  });

  it('two registrations stack: in draft-8 each appends its own RateLimit and RateLimit-Policy entry', async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(slidegate, { limit: 5, windowSeconds: 60, name: 'burst' });
    await app.register(slidegate, { limit: 100, windowSeconds: 3600, name: 'hourly' });
    app.get('/', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { headers } = await request(app.server).get('/');
    // 1 s buckets for the minute, 60 s buckets for the hour: each reset is up to a bucket more, rounded up.
    expect(headers.ratelimit).to.match(/^"burst"; r=4; t=6[01], "hourly"; r=99; t=36[0-6]\d$/);
    expect(headers['ratelimit-policy']).to.match(/^"burst"; q=5; w=60; pk=:[A-Za-z0-9+/=]+:, "hourly"; q=100; w=3600; pk=:[A-Za-z0-9+/=]+:$/);
  });

  it('skip and the allow list pass requests uncounted', async () => {
    const app = await appWith({ limit: 1, windowSeconds: 60, skip: (req) => req.headers['x-internal'] === 'yes', allowList: ['10.1.2.3'] }, { trustProxy: true });
    expect(await statuses(app, 3, '/', { 'x-internal': 'yes' })).to.deep.equal([200, 200, 200]);
    expect(await statuses(app, 2, '/', { 'x-forwarded-for': '::ffff:10.1.2.3' })).to.deep.equal([200, 200]);
    expect(await statuses(app, 2, '/', { 'x-forwarded-for': '10.1.2.4' })).to.deep.equal([200, 429]);
  });

  it('keys the dual-stack ::ffff:127.0.0.1 as 127.0.0.1; mapped clients never share; IPv6 by /64 as @fastify/rate-limit does', async () => {
    const keys: string[] = [];
    const app = await appWith(
      {
        limit: 1,
        windowSeconds: 60,
        handler: (_req, reply, info) => {
          keys.push(info.key);
          return reply.code(429).send('no');
        },
      },
      {},
      (a) => {
        a.get('/', async () => 'ok');
        a.get('/ip', { config: { rateLimit: false } }, async (req) => req.ip);
      },
    );
    expect((await request(app.server).get('/ip')).text).to.equal('::ffff:127.0.0.1');
    expect(await statuses(app, 2)).to.deep.equal([200, 429]);
    expect(keys).to.deep.equal(['127.0.0.1']);

    const proxied = await appWith({ limit: 1, windowSeconds: 60 }, { trustProxy: true });
    expect(await statuses(proxied, 2, '/', { 'x-forwarded-for': '::ffff:203.0.113.1' })).to.deep.equal([200, 429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '203.0.113.1' })).to.deep.equal([429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '::ffff:203.0.113.2' })).to.deep.equal([200]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:100::1' })).to.deep.equal([200]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:100:ffff::2' })).to.deep.equal([429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:1ff::2' })).to.deep.equal([200]);
    const by56 = await appWith({ limit: 1, windowSeconds: 60, ipv6Subnet: 56 }, { trustProxy: true });
    expect(await statuses(by56, 1, '/', { 'x-forwarded-for': '2001:db8:1:100::1' })).to.deep.equal([200]);
    expect(await statuses(by56, 1, '/', { 'x-forwarded-for': '2001:db8:1:1ff::2' })).to.deep.equal([429]);
  });

  it('follows trustProxy: X-Forwarded-For keys clients when trusted, and is ignored with one warning when not', async () => {
    // Fastify 5 trusts no hop count alone (it fails closed); name the proxy's addresses.
    const trusted = await appWith({ limit: 1, windowSeconds: 60 }, { trustProxy: '127.0.0.1,::1,::ffff:127.0.0.1' });
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200]);
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([200]);
    const untrusted = await appWith({ limit: 1, windowSeconds: 60 });
    const warnings = await warningsDuring(async () => {
      expect(await statuses(untrusted, 2, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200, 429]);
      expect(await statuses(untrusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([429]);
    });
    expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_XFF_IGNORED']);
  });

  it('message objects are JSON with the status code; a throwing keyGenerator is a 500, not a crash', async () => {
    const app = await appWith({ limit: 0, windowSeconds: 60, statusCode: 503, message: { error: 'rate_limited' } });
    const response = await request(app.server).get('/');
    expect([response.status, response.body]).to.deep.equal([503, { error: 'rate_limited' }]);
    const broken = await appWith({ limit: 1, windowSeconds: 60, keyGenerator: () => { throw new Error('no key'); } });
    expect((await request(broken.server).get('/')).status).to.equal(500);
  });

  it('refuses bad options when registered, and bad route options when the route is added', async () => {
    const app = Fastify();
    apps.push(app);
    const error = await app.register(slidegate, { limit: 1, windowSeconds: 60, headers: 'draft-9' as never }).ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RangeError).and.have.property('message').that.matches(/slidegate plugin options\.headers/);
    const app2 = Fastify();
    apps.push(app2);
    await app2.register(slidegate, { limit: 1, windowSeconds: 60 });
    expect(() => app2.get('/x', { config: { rateLimit: { limit: -2, windowSeconds: 60 } } }, async () => 'x')).to.throw(
      RangeError,
      /route GET \/x config\.rateLimit\.limit .*got number -2/,
    );
  });

  it('decides in-process without waiting: the handler runs in the same tick as the hook', async () => {
    const ticks = new WeakMap<object, string>();
    const app = await appWith({ limit: 5, windowSeconds: 60 }, {}, (app) => {
      app.addHook('onRequest', (request, _reply, done) => {
        ticks.set(request, 'same tick');
        queueMicrotask(() => ticks.set(request, 'later'));
        done();
      });
      app.get('/', (request, reply) => void reply.send(ticks.get(request)));
    });
    const response = await request(app.server).get('/');
    expect([response.status, response.text]).to.deep.equal([200, 'same tick']);
    // The real clock: the first unit's 1 s bucket counts 60.000 .. 60.999 s more, rounded up.
    expect(response.headers.ratelimit).to.match(/^"5-in-1min"; r=4; t=6[01]$/);
  });

  it('every callback may be async; a callback that throws or rejects is a 500', async () => {
    const app = await appWith({
      limit: 3,
      windowSeconds: 60,
      // A frozen clock at a whole second: the first unit's 1 s bucket counts until 60.999 s later, so t=61
        // (headers round up); a clock that moved would make it 60 or 61.
      limiterOptions: { now: () => 1_700_000_000 },
      skip: async (request) => request.headers['x-internal'] === 'yes',
      keyGenerator: async (request) => String(request.headers['x-api-key'] ?? 'anonymous'),
      allowList: async (_request, key) => key === 'trusted',
      cost: async (request) => Number(request.headers['x-units'] ?? 1),
      onLimited: async () => undefined,
      message: async (_request, decision) => ({ limit: decision.limit }),
    });
    expect(await statuses(app, 1, '/', { 'x-api-key': 'k', 'x-units': '2' })).to.deep.equal([200]);
    const denied = await request(app.server).get('/').set({ 'x-api-key': 'k', 'x-units': '2' });
    expect([denied.status, denied.body, denied.headers.ratelimit]).to.deep.equal([429, { limit: 3 }, '"3-in-1min"; r=1; t=61']);
    expect(await statuses(app, 2, '/', { 'x-api-key': 'k', 'x-internal': 'yes', 'x-units': '2' })).to.deep.equal([200, 200]);
    expect(await statuses(app, 2, '/', { 'x-api-key': 'trusted', 'x-units': '5' })).to.deep.equal([200, 200]);
    const throwing: Array<[string, () => number | Promise<number>]> = [
      ['sync', () => { throw new Error('sync'); }],
      ['async', () => Promise.reject(new Error('async'))],
    ];
    for (const [message, cost] of throwing) {
      const broken = await appWith({ limit: 1, windowSeconds: 60, cost });
      const response = await request(broken.server).get('/');
      expect([response.status, (response.body as { message?: string }).message]).to.deep.equal([500, message]);
    }
  });
});

describe('@slidegate/fastify metrics', () => {
  it("metrics given to the plugin serve the routes' own limits and fastify.rateLimit() hooks, each under its own name", async () => {
    const registry = new Registry();
    const app = await appWith({ limit: 3, windowSeconds: 60, limiterOptions: { metrics: { registry, name: 'api' } } }, {}, (a) => {
      a.get('/', async () => 'ok');
      a.get('/strict', { config: { rateLimit: { limit: 1, windowSeconds: 60 } } }, async () => 'strict');
      a.get('/hooked', { onRequest: [a.rateLimit({ limit: 2, windowSeconds: 60 })], config: { rateLimit: false } }, async () => 'a');
      a.get('/hooked-too', { onRequest: [a.rateLimit({ limit: 2, windowSeconds: 60 })], config: { rateLimit: false } }, async () => 'b');
    });
    expect(await statuses(app, 4, '/')).to.deep.equal([200, 200, 200, 429]);
    expect(await statuses(app, 2, '/strict')).to.deep.equal([200, 429]);
    // Two hooks with limits of their own count apart: each allows its own 2.
    expect(await statuses(app, 3, '/hooked')).to.deep.equal([200, 200, 429]);
    expect(await statuses(app, 3, '/hooked-too')).to.deep.equal([200, 200, 429]);
    const decisions = (await registry.getSingleMetric('slidegate_decisions_total')?.get())?.values ?? [];
    const names = [...new Set(decisions.map((v) => v.labels.name))].sort();
    expect(names).to.deep.equal(['api', 'api:GET /strict', 'api:hook fastify.rateLimit()#1', 'api:hook fastify.rateLimit()#2']);
  });
});
