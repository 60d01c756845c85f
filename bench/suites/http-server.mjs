// One HTTP server for the http suite, in its own process: `node http-server.mjs <framework> <variant>`.
// Answers GET / with a small JSON body, behind no limiter, slidegate, or the framework's usual limiter, on the
// memory store or Redis, or behind a step that only sets slidegate's two draft-8 headers at fixed values
// ('headers-only': what sending the default headers costs any limiter, with no decision), or slidegate with
// `headers: false` ('slidegate-noheaders': the decision alone, with no header to send). 'slidegate-redis' is
// RedisStore with the defaults (leases and the denial cache on), 'slidegate-redis-nolease' the same with
// `lease: false`. Traffic shapes (4th argument): 'hot' (default) and 'many' allow 1e9 per 60 s, so every request
// is allowed and this measures overhead; 'hot' and 'flood' key on the client IP (one client), 'many' on the
// x-client header (the suite sends 10,000 keys round robin); 'flood' allows the 5th argument's limit per 10 s.
// Reports { port } (or { error }) over IPC, then serves until killed; answers 'next-tick' with { nextTickNs }
// (bench/lib/next-tick-probe.mjs) and 'cpu' with { cpuMicros, userMicros } (bench/lib/cpu-probe.mjs). Each
// server loads what an application would, in the same order for every variant: the framework, then its
// limiter. Node 20's nextTick speed depends on what a process did while starting: loading all of slidegate's
// packages first, as these servers once did, put most slidegate Fastify servers on nextTick's slow path and
// no peer server.
import { fixedHeadersStep } from '../lib/fixed-headers.mjs';
import { answerNextTickProbe } from '../lib/next-tick-probe.mjs';
import { answerCpuProbe } from '../lib/cpu-probe.mjs';

// The Redis helpers (and ioredis) load only for a Redis variant, as in an application on the memory store.
const redisHelpers = () => import('../lib/redis.mjs');
const [framework, variant, basePrefix = (await redisHelpers()).uniquePrefix('http'), shape = 'hot', floodLimit = '100'] = process.argv.slice(2);
/** Keys of one server live under the suite's prefix (and shape), which the suite deletes afterwards. */
const prefixFor = (tag) => `${basePrefix}${shape}:${tag}:`;
const FLOOD_WINDOW_SECONDS = 10;
const LIMIT = shape === 'flood' ? Number(floodLimit) : 1_000_000_000;
const WINDOW_SECONDS = shape === 'flood' ? FLOOD_WINDOW_SECONDS : 60;
/** The 'many' shape's client key; the other shapes key on the client IP (the limiters' default). */
const headerKey = shape !== 'many' ? undefined : framework === 'hono' ? (c) => c.req.header('x-client') : (req) => req.headers['x-client'];
const BODY = { ok: true };

async function redisClient({ safe = false } = {}) {
  const client = (await redisHelpers()).connect({ autoPipelining: true, safe });
  await client.connect();
  return client;
}

async function slidegateOptions(redis) {
  const options = { limit: LIMIT, windowSeconds: WINDOW_SECONDS };
  if (variant === 'slidegate-noheaders') options.headers = false;
  if (headerKey) options.keyGenerator = headerKey;
  if (redis) {
    const { RedisStore } = await import('@slidegate/core');
    options.store = new RedisStore({ client: await redisClient({ safe: true }), prefix: prefixFor(variant) });
    if (variant === 'slidegate-redis-nolease') options.limiterOptions = { lease: false };
  }
  return options;
}

async function express() {
  const { default: expressApp } = await import('express');
  const app = expressApp();
  if (variant.startsWith('slidegate')) {
    const { rateLimit } = await import('@slidegate/express');
    app.use(rateLimit(await slidegateOptions(variant.includes('redis'))));
  } else if (variant.startsWith('peer')) {
    const { rateLimit } = await import('express-rate-limit');
    const options = { windowMs: WINDOW_SECONDS * 1000, limit: LIMIT, standardHeaders: 'draft-8', legacyHeaders: false };
    if (headerKey) options.keyGenerator = headerKey;
    if (variant.endsWith('redis')) {
      const { RedisStore } = await import('rate-limit-redis');
      const client = await redisClient();
      options.store = new RedisStore({ sendCommand: (command, ...args) => client.call(command, ...args), prefix: prefixFor('erl') });
    }
    app.use(rateLimit(options));
  } else if (variant === 'headers-only') {
    app.use(fixedHeadersStep('express'));
  }
  app.get('/', (req, res) => res.json(BODY));
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

async function koa() {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  if (variant.startsWith('slidegate')) {
    const { rateLimit } = await import('@slidegate/koa');
    app.use(rateLimit(await slidegateOptions(variant.includes('redis'))));
  } else if (variant.startsWith('peer')) {
    const { default: ratelimit } = await import('koa-ratelimit');
    const redis = variant.endsWith('redis');
    app.use(
      ratelimit({
        driver: redis ? 'redis' : 'memory',
        db: redis ? await redisClient() : new Map(),
        duration: WINDOW_SECONDS * 1000,
        max: LIMIT,
        id: headerKey ?? ((ctx) => ctx.ip),
        ...(redis ? { namespace: prefixFor('koa') } : {}),
      }),
    );
  } else if (variant === 'headers-only') {
    app.use(fixedHeadersStep('koa'));
  }
  app.use((ctx) => {
    ctx.body = BODY;
  });
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

async function fastify() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  if (variant.startsWith('slidegate')) {
    const { slidegate } = await import('@slidegate/fastify');
    await app.register(slidegate, await slidegateOptions(variant.includes('redis')));
  } else if (variant.startsWith('peer')) {
    const { default: rateLimit } = await import('@fastify/rate-limit');
    const options = { max: LIMIT, timeWindow: WINDOW_SECONDS * 1000 };
    if (headerKey) options.keyGenerator = headerKey;
    if (variant.endsWith('redis')) Object.assign(options, { redis: await redisClient(), nameSpace: prefixFor('fastify') });
    await app.register(rateLimit, options);
  } else if (variant === 'headers-only') {
    app.addHook('onRequest', fixedHeadersStep('fastify'));
  }
  app.get('/', async () => BODY);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

async function hono() {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const app = new Hono();
  if (variant.startsWith('slidegate')) {
    const { rateLimit } = await import('@slidegate/hono');
    app.use(rateLimit(await slidegateOptions(variant.includes('redis'))));
  } else if (variant.startsWith('peer')) {
    const { rateLimiter, RedisStore } = await import('hono-rate-limiter');
    // hono-rate-limiter has no default key; the socket's address is what @slidegate/hono keys on.
    const options = { windowMs: WINDOW_SECONDS * 1000, limit: LIMIT, keyGenerator: headerKey ?? ((c) => c.env.incoming.socket.remoteAddress) };
    if (variant.endsWith('redis')) {
      const client = await redisClient();
      // Its RedisStore takes an Upstash-style client: scriptLoad and evalsha(sha, keys, args).
      const adapted = { scriptLoad: (script) => client.script('LOAD', script), evalsha: (sha, keys, args) => client.evalsha(sha, keys.length, ...keys, ...args) };
      options.store = new RedisStore({ client: adapted, prefix: prefixFor('hono') });
    }
    app.use(rateLimiter(options));
  } else if (variant === 'headers-only') {
    app.use(fixedHeadersStep('hono'));
  }
  app.get('/', (c) => c.json(BODY));
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    server.on('error', (error) => process.send({ error: String(error.message) }));
  });
}

/**
 * NestJS on its Express platform (`nestjs`) or its Fastify platform (`nestjs-fastify`): one controller, the limiter
 * as a global guard, as each is documented. Decorators applied as calls: this file is plain JavaScript.
 */
async function nestjs({ platform = 'express' } = {}) {
  await import('reflect-metadata');
  const { Controller, Get, Module } = await import('@nestjs/common');
  const { APP_GUARD, NestFactory } = await import('@nestjs/core');
  class AppController {
    root() {
      return BODY;
    }
  }
  Controller()(AppController);
  Get()(AppController.prototype, 'root', Object.getOwnPropertyDescriptor(AppController.prototype, 'root'));
  const imports = [];
  const providers = [];
  if (variant.startsWith('slidegate')) {
    const { SlidegateGuard, SlidegateModule } = await import('@slidegate/nestjs');
    imports.push(SlidegateModule.forRoot(await slidegateOptions(variant.includes('redis'))));
    providers.push({ provide: APP_GUARD, useClass: SlidegateGuard });
  } else if (variant.startsWith('peer')) {
    const { ThrottlerGuard, ThrottlerModule } = await import('@nestjs/throttler');
    const options = { throttlers: [{ ttl: WINDOW_SECONDS * 1000, limit: LIMIT }] };
    if (variant.endsWith('redis')) {
      const { ThrottlerStorageRedisService } = await import('@nest-lab/throttler-storage-redis');
      options.storage = new ThrottlerStorageRedisService(await redisClient());
    }
    imports.push(ThrottlerModule.forRoot(options));
    // The 'many' shape keys on the x-client header: the documented way is a guard whose getTracker reads it.
    class HeaderGuard extends ThrottlerGuard {
      getTracker(req) {
        return Promise.resolve(req.headers['x-client']);
      }
    }
    providers.push({ provide: APP_GUARD, useClass: headerKey ? HeaderGuard : ThrottlerGuard });
  }
  class AppModule {}
  Module({ imports, controllers: [AppController], providers })(AppModule);
  let adapter;
  if (platform === 'fastify') adapter = new (await import('@nestjs/platform-fastify')).FastifyAdapter();
  const app = adapter === undefined ? await NestFactory.create(AppModule, { logger: false }) : await NestFactory.create(AppModule, adapter, { logger: false });
  // Nest's app.use takes Connect-style middleware on both platforms (Fastify's through @fastify/middie).
  if (variant === 'headers-only') app.use(fixedHeadersStep('express'));
  await app.listen(0, '127.0.0.1');
  return app.getHttpServer().address().port;
}

const FRAMEWORKS = { express, koa, fastify, hono, nestjs, 'nestjs-fastify': () => nestjs({ platform: 'fastify' }) };
try {
  const port = await FRAMEWORKS[framework]();
  answerNextTickProbe();
  answerCpuProbe();
  process.send({ port });
} catch (error) {
  process.send({ error: String(error?.message ?? error) }, () => process.exit(0));
}
