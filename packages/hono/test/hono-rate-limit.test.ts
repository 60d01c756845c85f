import { expect } from 'chai';
import { createAdaptorServer } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { once } from 'node:events';
import type { Server } from 'node:http';
import request from 'supertest';
import type { Decision, RateLimitInfo } from '@slidegate/core';
import { storeCases, warningsDuring, statuses } from '../../core/test/http-support';
import { rateLimit, type HonoRateLimitMiddleware, type HonoRateLimitOptions } from '../src/index';

const opened: HonoRateLimitMiddleware[] = [];
function limited(options: HonoRateLimitOptions): HonoRateLimitMiddleware {
  const middleware = rateLimit(options);
  opened.push(middleware);
  return middleware;
}

/** A Node server (through @hono/node-server) for a Hono app answering 'ok' behind the given middleware. */
function serverWith(middleware: MiddlewareHandler[]): Server {
  const app = new Hono();
  for (const m of middleware) app.use(m);
  app.get('/', (c) => c.text('ok'));
  return serve(app);
}

function serve(app: Hono): Server {
  return createAdaptorServer({ fetch: app.fetch }) as Server;
}

after(async () => {
  await Promise.all(opened.map((middleware) => middleware.close()));
});

for (const storeCase of storeCases()) {
  describe(`@slidegate/hono on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    before(async () => {
      opened = await storeCase.open();
    });
    after(async () => {
      await opened.close();
    });

    it('allows exactly the limit, then 429 with Retry-After equal to the decision', async () => {
      const decisions: Decision[] = [];
      const server = serverWith([limited({ limit: 3, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-a`, onLimited: (_c, d) => void decisions.push(d) })]);
      expect(await statuses(server, 4)).to.deep.equal([200, 200, 200, 429]);
      const response = await request(server).get('/');
      expect([response.status, response.text, response.headers['content-type']]).to.deep.equal([429, 'Too many requests, please try again later.', 'text/plain; charset=utf-8']);
      // Headers carry the decision's ms-precise wait rounded up to whole seconds.
      expect(response.headers['retry-after']).to.equal(String(Math.ceil(decisions[1]?.retryAfter as number)));
      expect(decisions[1]?.retryAfter).to.be.within(58, 61);
      // t is 60 or 61, or less when the oldest request lies a second or two back on a slow machine.
      expect(response.headers.ratelimit).to.match(new RegExp(`^"${opened.prefix}-a"; r=0; t=(58|59|60|61)$`));
    });

    it('per-key and per-route limits, cost, and a limit changed at run time', async () => {
      const byKey = limited({ limit: 2, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-key`, keyGenerator: (c) => c.req.header('x-api-key') ?? 'anonymous' });
      const heavy = limited({ limit: 5, windowSeconds: 60, store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-heavy`, cost: (c) => Number(c.req.query('units') ?? 1) });
      const app = new Hono();
      app.get('/keyed', byKey, (c) => c.text('ok'));
      app.get('/heavy', heavy, (c) => c.text('ok'));
      const server = serve(app);
      expect(await statuses(server, 3, '/keyed', { 'x-api-key': 'alice' })).to.deep.equal([200, 200, 429]);
      expect(await statuses(server, 3, '/keyed', { 'x-api-key': 'bob' })).to.deep.equal([200, 200, 429]);
      expect(await statuses(server, 2, '/heavy?units=3')).to.deep.equal([200, 429]);
      expect(await statuses(server, 1, '/heavy?units=2')).to.deep.equal([200]);
      await byKey.updateLimit('alice', 4, 60);
      expect(await statuses(server, 3, '/keyed', { 'x-api-key': 'alice' })).to.deep.equal([200, 200, 429]);
    });
  });
}

describe('@slidegate/hono behaviour', () => {
  it('sends each header mode with the decision values', async () => {
    const h6 = (await request(serverWith([limited({ limit: 5, windowSeconds: 60, headers: 'draft-6' })])).get('/')).headers;
    // reset: the first unit's bucket (1 s for the minute, 60 s for the hour) counts up to a bucket more than W, rounded up.
    expect(h6).to.include({ 'ratelimit-policy': '5;w=60', 'ratelimit-limit': '5', 'ratelimit-remaining': '4' });
    expect(h6['ratelimit-reset']).to.match(/^6[01]$/);
    const h7 = (await request(serverWith([limited({ limit: 5, windowSeconds: 60, headers: 'draft-7' })])).get('/')).headers;
    expect(h7['ratelimit-policy']).to.equal('5;w=60');
    expect(h7.ratelimit).to.match(/^limit=5, remaining=4, reset=6[01]$/);
    const h8 = (await request(serverWith([limited({ limit: 5, windowSeconds: 60 }), limited({ limit: 50, windowSeconds: 3600, name: 'hourly' })])).get('/')).headers;
    expect(h8.ratelimit).to.match(/^"5-in-1min"; r=4; t=6[01], "hourly"; r=49; t=36[0-6]\d$/);
    expect(h8['ratelimit-policy']).to.match(/^"5-in-1min"; q=5; w=60; pk=:[^:]+:, "hourly"; q=50; w=3600; pk=:[^:]+:$/);
    const legacy = (await request(serverWith([limited({ limit: 5, windowSeconds: 60, headers: 'legacy' })])).get('/')).headers;
    expect(legacy).to.include({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '4' });
    expect(Number(legacy['x-ratelimit-reset']) - Date.now() / 1000).to.be.within(58, 61);
    const none = (await request(serverWith([limited({ limit: 5, windowSeconds: 60, headers: false })])).get('/')).headers;
    expect(Object.keys(none).filter((name) => name.includes('ratelimit'))).to.deep.equal([]);
  });

  it("headers reach responses a handler builds itself (new Response), a custom handler's, and app.request()'s", async () => {
    // A frozen clock at a whole second: the first unit's 1 s bucket counts until 60.999 s later, so t=61.
    const limiterOptions = { now: () => 1_700_000_000 };
    const app = new Hono();
    app.use(limited({ limit: 2, windowSeconds: 60, name: 'own', limiterOptions, handler: () => new Response('slow down', { status: 429 }) }));
    app.get('/', () => new Response('raw', { headers: { 'x-own': 'yes' } }));
    const server = serve(app);
    const [raw, denied, limitedAgain] = [await request(server).get('/'), await request(server).get('/'), await request(server).get('/')];
    expect([raw.text, raw.headers['x-own'], raw.headers.ratelimit]).to.deep.equal(['raw', 'yes', '"own"; r=1; t=61']);
    expect(raw.headers['ratelimit-policy']).to.match(/^"own"; q=2; w=60; pk=:[^:]+:$/);
    expect([denied.status, denied.headers.ratelimit]).to.deep.equal([200, '"own"; r=0; t=61']);
    expect([limitedAgain.status, limitedAgain.text, limitedAgain.headers.ratelimit, limitedAgain.headers['retry-after']]).to.deep.equal([429, 'slow down', '"own"; r=0; t=61', '61']);
    // Without a Node response (app.request(), other runtimes) through c.header(): the same lines, and the 429.
    const keyed = new Hono();
    keyed.use(limited({ limit: 1, windowSeconds: 60, name: 'keyed', limiterOptions, keyGenerator: () => 'k' }), limited({ limit: 5, windowSeconds: 60, name: 'second', limiterOptions, keyGenerator: () => 'k' }));
    keyed.get('/', (c) => c.text('ok'));
    const first = await keyed.request('/');
    expect([first.status, first.headers.get('ratelimit')]).to.deep.equal([200, '"keyed"; r=0; t=61, "second"; r=4; t=61']);
    expect(first.headers.get('ratelimit-policy')).to.match(/^"keyed"; q=1; w=60; pk=:[^:]+:, "second"; q=5; w=60; pk=:[^:]+:$/);
    const second = await keyed.request('/');
    expect([second.status, await second.text(), second.headers.get('content-type'), second.headers.get('ratelimit'), second.headers.get('retry-after')]).to.deep.equal([
      429,
      'Too many requests, please try again later.',
      'text/plain; charset=utf-8',
      '"keyed"; r=0; t=61',
      '61',
    ]);
  });

  it("c.get('rateLimit') holds the decision; app-wide and per-route limits stack", async () => {
    const seen: Array<RateLimitInfo | undefined> = [];
    const app = new Hono();
    app.use(limited({ limit: 10, windowSeconds: 60, name: 'app' }));
    app.get('/strict', limited({ limit: 1, windowSeconds: 60, name: 'strict' }), (c) => {
      seen.push(c.get('rateLimit'));
      return c.text('ok');
    });
    app.get('/', (c) => {
      seen.push(c.get('rateLimit'));
      return c.text('ok');
    });
    const server = serve(app);
    expect(await statuses(server, 2, '/strict')).to.deep.equal([200, 429]);
    expect(await statuses(server, 1, '/')).to.deep.equal([200]);
    expect(seen.map((info) => [info?.key, info?.decision.remaining, info?.decision.allowed])).to.deep.equal([
      ['~7:strict:127.0.0.1', 0, true],
      ['~4:app:127.0.0.1', 7, true],
    ]);
  });

  it('skip and the allow list pass requests uncounted', async () => {
    const server = serverWith([limited({ limit: 1, windowSeconds: 60, trustProxy: 'loopback', skip: (c) => c.req.header('x-internal') === 'yes', allowList: ['10.1.2.3'] })]);
    expect(await statuses(server, 3, '/', { 'x-internal': 'yes' })).to.deep.equal([200, 200, 200]);
    expect(await statuses(server, 2, '/', { 'x-forwarded-for': '::ffff:10.1.2.3' })).to.deep.equal([200, 200]);
    expect(await statuses(server, 2, '/', { 'x-forwarded-for': '10.1.2.4' })).to.deep.equal([200, 429]);
  });

  it('keys the dual-stack socket address ::ffff:127.0.0.1 as 127.0.0.1; mapped clients never share; IPv6 by /56', async () => {
    const keys: string[] = [];
    const server = serverWith([limited({ limit: 1, windowSeconds: 60, handler: (c, _next, info) => (keys.push(info.key), c.text('no', 429)) })]);
    server.listen(0, '::');
    await once(server, 'listening');
    try {
      expect([(await request(server).get('/')).status, (await request(server).get('/')).status]).to.deep.equal([200, 429]);
    } finally {
      server.close();
    }
    expect(keys).to.deep.equal(['127.0.0.1']);

    const proxied = serverWith([limited({ limit: 1, windowSeconds: 60, trustProxy: 1 })]);
    expect(await statuses(proxied, 2, '/', { 'x-forwarded-for': '::ffff:203.0.113.1' })).to.deep.equal([200, 429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '203.0.113.1' })).to.deep.equal([429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '::ffff:203.0.113.2' })).to.deep.equal([200]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:100::1' })).to.deep.equal([200]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:1ff::2' })).to.deep.equal([429]);
    expect(await statuses(proxied, 1, '/', { 'x-forwarded-for': '2001:db8:1:200::1' })).to.deep.equal([200]);
  });

  it('X-Forwarded-For names the client only through trusted proxies, and is ignored with one warning otherwise', async () => {
    // One proxy trusted (the socket, 127.0.0.1): the right-most entry is the client, a spoofed left entry changes nothing.
    const trusted = serverWith([limited({ limit: 1, windowSeconds: 60, trustProxy: ['loopback'] })]);
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '1.1.1.1, 198.51.100.1' })).to.deep.equal([200]);
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '2.2.2.2, 198.51.100.1' })).to.deep.equal([429]);
    expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([200]);
    // A proxy that is not the socket's address is not trusted: the socket is the client.
    const elsewhere = serverWith([limited({ limit: 1, windowSeconds: 60, trustProxy: '10.0.0.0/8' })]);
    expect(await statuses(elsewhere, 2, '/', { 'x-forwarded-for': '198.51.100.3' })).to.deep.equal([200, 429]);
    const untrusted = serverWith([limited({ limit: 1, windowSeconds: 60 })]);
    const warnings = await warningsDuring(async () => {
      expect(await statuses(untrusted, 2, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200, 429]);
      expect(await statuses(untrusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([429]);
    });
    expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_XFF_IGNORED']);
    // Hono has no trust-proxy setting of its own: the warning names this adapter's option, and no other framework's.
    expect(warnings[0]?.message).to.include("rateLimit({ trustProxy: '10.0.0.0/8' })").and.not.match(/Express|Koa|Fastify/);
    const permissive = await warningsDuring(async () => {
      const all = serverWith([limited({ limit: 1, windowSeconds: 60, trustProxy: true })]);
      expect(await statuses(all, 1, '/', { 'x-forwarded-for': '198.51.100.4, 127.0.0.1' })).to.deep.equal([200]);
      expect(await statuses(all, 1, '/', { 'x-forwarded-for': '198.51.100.5, 127.0.0.1' })).to.deep.equal([200]);
    });
    expect(permissive.map((w) => w.code)).to.deep.equal(['SLIDEGATE_PERMISSIVE_TRUST_PROXY']);
    expect(permissive[0]?.message).to.include("rateLimit({ trustProxy: '10.0.0.0/8' })").and.not.match(/Express|Koa|Fastify/);
  });

  it('without a Node request (app.request) the client is unknown: one warning, never pooled, and a keyGenerator still works', async () => {
    const app = new Hono();
    app.use(limited({ limit: 1, windowSeconds: 60 }));
    app.get('/', (c) => c.text('ok'));
    const warnings = await warningsDuring(async () => {
      // unknownAddress 'skip' (the default): through, uncounted, rather than one key for every such client.
      expect([(await app.request('/')).status, (await app.request('/')).status]).to.deep.equal([200, 200]);
    });
    expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_UNKNOWN_CLIENT_ADDRESS']);
    const keyed = new Hono();
    keyed.use(limited({ limit: 1, windowSeconds: 60, keyGenerator: (c) => c.req.header('x-api-key') ?? 'anonymous' }));
    keyed.get('/', (c) => c.text('ok'));
    const quiet = await warningsDuring(async () => {
      expect((await keyed.request('/', { headers: { 'x-api-key': 'a' } })).status).to.equal(200);
      expect((await keyed.request('/', { headers: { 'x-api-key': 'b' } })).status).to.equal(200);
    });
    expect(quiet).to.deep.equal([]);
  });

  it('message objects are JSON; a throwing cost reaches Hono onError', async () => {
    const json = serverWith([limited({ limit: 1, windowSeconds: 60, message: { error: 'rate_limited' } })]);
    await request(json).get('/');
    const response = await request(json).get('/');
    expect([response.status, response.body]).to.deep.equal([429, { error: 'rate_limited' }]);
    const app = new Hono();
    app.use(limited({ limit: 1, windowSeconds: 60, cost: () => { throw new Error('no cost'); } }));
    app.get('/', (c) => c.text('ok'));
    app.onError((error, c) => c.text(`caught: ${error.message}`, 500));
    const failed = await request(serve(app)).get('/');
    expect([failed.status, failed.text]).to.deep.equal([500, 'caught: no cost']);
  });

  it('refuses bad options at construction with a clear error', () => {
    expect(() => rateLimit({ windowSeconds: 60 } as HonoRateLimitOptions)).to.throw(TypeError, /rateLimit options needs limit and windowSeconds/);
    expect(() => rateLimit({ limit: 1, windowSeconds: 60, duration: 60000 } as never)).to.throw(TypeError, /unknown option rateLimit options\.duration/);
    expect(() => rateLimit({ limit: 1, windowSeconds: 60, ipv6Subnet: 200 })).to.throw(RangeError, /rateLimit options\.ipv6Subnet .*got number 200/);
    expect(() => rateLimit({ limit: 1, windowSeconds: 60, trustProxy: -1 })).to.throw(RangeError, /rateLimit options\.trustProxy must be an integer >= 0.*got -1/);
    expect(() => rateLimit({ limit: 1, windowSeconds: 60, trustProxy: 'not-an-ip' })).to.throw(TypeError, /rateLimit options\.trustProxy must list IP addresses.*not-an-ip/);
    expect(() => rateLimit({ limit: 1, windowSeconds: 60, trustProxy: {} as never })).to.throw(TypeError, /rateLimit options\.trustProxy must be .*got object/);
  });

  it('every callback may be async; a callback that throws or rejects reaches Hono onError', async () => {
    const server = serverWith([
      limited({
        limit: 3,
        windowSeconds: 60,
        // A frozen clock at a whole second: the first unit's 1 s bucket counts until 60.999 s later, so t=61
        // (headers round up); a clock that moved would make it 60 or 61.
        limiterOptions: { now: () => 1_700_000_000 },
        skip: async (c) => c.req.header('x-internal') === 'yes',
        keyGenerator: async (c) => c.req.header('x-api-key') ?? 'anonymous',
        allowList: async (_c, key) => key === 'trusted',
        cost: async (c) => Number(c.req.header('x-units') ?? 1),
        onLimited: async () => undefined,
        message: async (_c, decision) => ({ limit: decision.limit }),
      }),
    ]);
    expect(await statuses(server, 1, '/', { 'x-api-key': 'k', 'x-units': '2' })).to.deep.equal([200]);
    const denied = await request(server).get('/').set({ 'x-api-key': 'k', 'x-units': '2' });
    expect([denied.status, denied.body, denied.headers.ratelimit]).to.deep.equal([429, { limit: 3 }, '"3-in-1min"; r=1; t=61']);
    expect(await statuses(server, 2, '/', { 'x-api-key': 'k', 'x-internal': 'yes', 'x-units': '2' })).to.deep.equal([200, 200]);
    expect(await statuses(server, 2, '/', { 'x-api-key': 'trusted', 'x-units': '5' })).to.deep.equal([200, 200]);
    for (const cost of [() => { throw new Error('sync'); }, () => Promise.reject(new Error('async'))]) {
      expect((await request(serverWith([limited({ limit: 1, windowSeconds: 60, cost })])).get('/')).status).to.equal(500);
    }
  });
});
