/**
 * What users of express-rate-limit, @fastify/rate-limit and koa-ratelimit rely on, checked the same way
 * on every adapter through real servers: the skips give back exactly the unit a request recorded,
 * resetKey never rejects, the request carries its rate-limit state, options are checked when the app is
 * built, and every header value parses as the structured field its draft defines.
 */
import { expect } from 'chai';
import express from 'express';
import Fastify from 'fastify';
import fc from 'fast-check';
import Koa from 'koa';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import request from 'supertest';
import { MemoryStore } from '@slidegate/core';
import { rateLimit as expressLimit } from '../packages/express/src/index';
import { slidegate } from '../packages/fastify/src/index';
import { rateLimit as koaLimit } from '../packages/koa/src/index';
import { rateLimit as honoLimit } from '../packages/hono/src/index';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { warningsDuring } from '../packages/core/test/http-support';
import { assertSendable, assertStructured } from '../packages/core/test/sf-check';

// Each adapter's options differ only in the framework types; the tests use the common subset.
type Options = Record<string, unknown>;

interface Served {
  server: Server;
  resetKey(key: string): Promise<void>;
  close(): Promise<void>;
}

interface Adapter {
  name: string;
  /** A server whose one route calls `reach` and answers `status` with the request's rate-limit state as JSON. */
  serve(options: Options, status: number, reach: () => void): Promise<Served>;
  /** The response's status code, as requestWasSuccessful receives the response. */
  statusOf(res: unknown): number;
  build(options: Options): unknown;
}

async function listening(server: Server): Promise<Server> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** A server and the middleware behind it, closed together. */
function servedBy(server: Server, middleware: { resetKey(key: string): Promise<void>; close(): Promise<void> }): Served {
  return { server, resetKey: (key) => middleware.resetKey(key), close: async () => void (server.close(), await middleware.close()) };
}

const ADAPTERS: Adapter[] = [
  {
    name: 'express',
    build: (options) => expressLimit(options as never),
    statusOf: (res) => (res as { statusCode: number }).statusCode,
    async serve(options, status, reach) {
      const middleware = expressLimit(options as never);
      const app = express();
      app.get('/', middleware, (req, res) => {
        reach();
        res.status(status).json((req as { rateLimit?: unknown }).rateLimit ?? null);
      });
      return servedBy(await listening(createServer(app)), middleware);
    },
  },
  {
    name: 'koa',
    build: (options) => koaLimit(options as never),
    statusOf: (ctx) => (ctx as { status: number }).status,
    async serve(options, status, reach) {
      const middleware = koaLimit(options as never);
      const app = new Koa();
      app.use(middleware);
      app.use((ctx) => {
        reach();
        ctx.status = status;
        ctx.body = (ctx.state as { rateLimit?: unknown }).rateLimit ?? null;
      });
      return servedBy(await listening(createServer(app.callback())), middleware);
    },
  },
  {
    name: 'fastify',
    build: (options) => {
      const app = Fastify();
      return app.register(slidegate, options as never).ready().finally(() => app.close());
    },
    statusOf: (reply) => (reply as { statusCode: number }).statusCode,
    async serve(options, status, reach) {
      const app = Fastify();
      await app.register(slidegate, options as never);
      app.get('/', async (req, reply) => {
        reach();
        return reply.code(status).send(req.rateLimit);
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { server: app.server, resetKey: (key) => app.rateLimitResetKey(key), close: () => app.close() };
    },
  },
  {
    name: 'hono',
    build: (options) => honoLimit(options as never),
    statusOf: (c) => (c as { res: Response }).res.status,
    async serve(options, status, reach) {
      const middleware = honoLimit(options as never);
      const app = new Hono();
      app.get('/', middleware, (c) => {
        reach();
        return c.json((c.get('rateLimit' as never) as unknown) ?? null, status as 200);
      });
      return servedBy(await listening(createAdaptorServer({ fetch: app.fetch }) as Server), middleware);
    },
  },
];

async function statuses(server: Server, n: number, path = '/'): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < n; i++) seen.push((await request(server).get(path)).status);
  return seen;
}

for (const adapter of ADAPTERS) {
  describe(`drop-in for the peers' users: @slidegate/${adapter.name}`, () => {
    const open: Served[] = [];
    after(async () => {
      await Promise.all(open.map((s) => s.close()));
    });
    async function serve(options: Options, status = 200): Promise<Served & { reached(): number }> {
      let reached = 0;
      const served = await adapter.serve({ store: new MemoryStore({ sweepIntervalMs: 0 }), keyGenerator: () => 'client', ...options }, status, () => reached++);
      open.push(served);
      return { ...served, reached: () => reached };
    }

    it('skipFailedRequests keeps limiting: limit 2, 20 requests, 2 allowed (a 429 gives nothing back)', async () => {
      const served = await serve({ limit: 2, windowSeconds: 60, skipFailedRequests: true });
      const seen = await statuses(served.server, 20);
      expect(seen.filter((s) => s === 200)).to.have.length(2);
      expect(served.reached()).to.equal(2);
    });

    it('skipFailedRequests gives back the unit of each failed response', async () => {
      const served = await serve({ limit: 2, windowSeconds: 60, skipFailedRequests: true }, 500);
      expect(await statuses(served.server, 6)).to.deep.equal([500, 500, 500, 500, 500, 500]);
      expect(served.reached()).to.equal(6);
    });

    it('the login pattern admits exactly L failed attempts in a window', async () => {
      const served = await serve(
        { limit: 2, windowSeconds: 60, skipSuccessfulRequests: true, requestWasSuccessful: (_req: unknown, res: unknown) => adapter.statusOf(res) !== 401 },
        401,
      );
      const seen = await statuses(served.server, 12);
      expect(served.reached()).to.equal(2);
      expect(seen.filter((s) => s === 401)).to.have.length(2);
    });

    it('a requestWasSuccessful that throws is reported once, never a crash', async () => {
      const served = await serve({ limit: 5, windowSeconds: 60, skipFailedRequests: true, requestWasSuccessful: () => { throw new Error('judge failed'); } });
      const warnings = await warningsDuring(async () => {
        expect(await statuses(served.server, 2)).to.deep.equal([200, 200]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      });
      expect(warnings.filter((w) => w.code === 'SLIDEGATE_SETTLE_FAILED')).to.have.length(1);
      expect(warnings[0]?.message).to.match(/judge failed/);
    });

    it('puts the rate-limit state on the request as the peers do', async () => {
      const served = await serve({ limit: 5, windowMs: '1 minute', name: 'api' });
      const before = Date.now();
      const body = (await request(served.server).get('/')).body as Record<string, unknown>;
      expect(body).to.include({ limit: 5, used: 1, remaining: 4, key: '~4:api:client' });
      // Seconds with ms precision: the first unit's 1 s bucket counts 60.000 .. 60.999 s more.
      expect(body.resetAfter).to.be.within(60, 60.999);
      expect(body.policy).to.deep.equal({ limit: 5, windowSeconds: 60 });
      expect(Date.parse(body.resetTime as string) - before).to.be.within(58_000, 61_000);
    });

    it('resetKey without await leaves the process alive, also when the store fails', async () => {
      const served = await serve({ limit: 1, windowSeconds: 60, prefix: 'p:' });
      expect(await statuses(served.server, 2)).to.deep.equal([200, 429]);
      void served.resetKey('client');
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await statuses(served.server, 1)).to.deep.equal([200]);
      const failing = new MemoryStore({ sweepIntervalMs: 0 });
      failing.reset = () => Promise.reject(new Error('store down'));
      const broken = await serve({ limit: 1, windowSeconds: 60, store: failing });
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const warnings = await warningsDuring(async () => {
          void broken.resetKey('client');
          await new Promise((resolve) => setTimeout(resolve, 20));
        });
        expect(warnings.map((w) => w.code)).to.include('SLIDEGATE_RESET_FAILED');
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      expect(unhandled).to.deep.equal([]);
    });

    it('an option slidegate cannot honour throws when the app is built', async () => {
      const built = (options: Options): Promise<unknown> => Promise.resolve().then(() => adapter.build(options));
      const limitFunction = await built({ limit: () => 5, windowSeconds: 60 }).then(() => undefined, (e: unknown) => e);
      expect(limitFunction).to.be.instanceOf(TypeError).with.property('message').that.matches(/limit must be a number; for limits per client, call updateLimit/);
      const window = await built({ limit: 5, windowSeconds: 'soon' }).then(() => undefined, (e: unknown) => e);
      expect(window).to.be.instanceOf(RangeError);
    });

    it('every header value it sends parses as a structured field, for random names, limits and modes', async function () {
      this.timeout(60_000);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('draft-6', 'draft-7', 'draft-8'),
          fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('限流', 'a"b\\c', 'é')),
          fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
          async (mode, name, limit) => {
            const served = await serve({ limit, windowSeconds: 60, headers: mode, name });
            for (let i = 0; i < 2; i++) {
              const response = await request(served.server).get('/');
              expect(response.status).to.be.oneOf([200, 429]);
              for (const [header, value] of Object.entries(response.headers)) {
                if (!header.startsWith('ratelimit')) continue;
                assertSendable(String(value));
                assertStructured(mode, header, value as string);
              }
            }
          },
        ),
        { numRuns: 15 },
      );
    });
  });
}

describe('drop-in: stacked one-limit headers report the limiter closest to its limit', () => {
  it('express, draft-7: the tighter limiter is reported whichever comes first', async () => {
    for (const order of [[5, 2], [2, 5]]) {
      const app = express();
      const limiters = order.map((limit, i) => expressLimit({ limit, windowSeconds: 60, headers: 'draft-7', name: `l${i}-${limit}`, store: new MemoryStore({ sweepIntervalMs: 0 }) }));
      app.get('/', ...limiters, (_req, res) => void res.send('ok'));
      const response = await request(app).get('/');
      expect(response.headers.ratelimit).to.match(/^limit=2, remaining=1, reset=6[01]$/);
      await Promise.all(limiters.map((l) => l.close()));
    }
  });
});

describe('drop-in: durations as users write them', () => {
  it('windowMs and human strings give the same window', async () => {
    for (const window of [{ windowMs: 15 * 60_000 }, { windowMs: '15m' }, { windowSeconds: '15 minutes' }, { windowSeconds: 900 }]) {
      const middleware = expressLimit({ limit: 1, ...window, headers: 'draft-7' });
      const app = express();
      app.get('/', middleware, (_req, res) => void res.send('ok'));
      expect((await request(app).get('/')).headers['ratelimit-policy']).to.equal('1;w=900');
      await middleware.close();
    }
  });

  it('a window that is not whole seconds is rounded up, with a warning', async () => {
    const warnings = await warningsDuring(async () => {
      const middleware = expressLimit({ limit: 1, windowMs: 1500 });
      expect(middleware.limiter.defaults.windowSeconds).to.equal(2);
      await middleware.close();
    });
    expect(warnings.map((w) => w.code)).to.include('SLIDEGATE_WINDOW_ROUNDED');
  });
});
