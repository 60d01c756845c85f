import { HttpLimiter, type HeaderLine, type HttpOutcome, type HttpRateLimitOptions, type RateLimitInfo } from '@slidegate/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';

/** Sends the limited response yourself; headers and `Retry-After` are already set. */
export type FastifyLimitHandler = (request: FastifyRequest, reply: FastifyReply, info: RateLimitInfo) => unknown;

/** A route's `config.rateLimit`: the shared options, overriding the plugin's for that route. */
export type FastifyRateLimitRouteOptions = HttpRateLimitOptions<FastifyRequest, FastifyLimitHandler>;

/** Options of the plugin: the shared slidegate HTTP options plus where and when it applies. */
export interface FastifyRateLimitOptions extends FastifyRateLimitRouteOptions {
  /**
   * Limit every route (those with `config: { rateLimit: false }` excepted). When false, only routes
   * with a `config.rateLimit` object are limited, and the plugin's options are their defaults.
   * @default true
   */
  global?: boolean;
  /**
   * The lifecycle hook that checks: 'onRequest' refuses before the body is read; 'preValidation'
   * or 'preHandler' let `cost` and `keyGenerator` read `request.body`.
   * @default 'onRequest'
   */
  hook?: (typeof HOOKS)[number];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** slidegate options for this route (overriding the plugin's), or false to leave it unlimited. */
    rateLimit?: FastifyRateLimitRouteOptions | false;
  }
}

const HOOKS = ['onRequest', 'preValidation', 'preHandler'] as const;
const LABEL = 'slidegate plugin options';
/** Options that give a route a limiter of its own rather than the plugin's. */
const LIMITER_OPTIONS = ['limiter', 'limit', 'windowSeconds', 'store', 'algorithm', 'limiterOptions'] as const;

/** `request.ip` follows the server's `trustProxy`; `request.ips` only exists when it is on. */
const fastifyAccess = {
  ip: (request: FastifyRequest): string | undefined => request.ip,
  forwardedForIgnored: (request: FastifyRequest): boolean => request.headers['x-forwarded-for'] !== undefined && request.ips === undefined,
};

function slidegatePlugin(fastify: FastifyInstance, options: FastifyRateLimitOptions, done: (error?: Error) => void): void {
  try {
    register(fastify, options);
  } catch (error) {
    return done(error as Error);
  }
  done();
}

function register(fastify: FastifyInstance, options: FastifyRateLimitOptions): void {
  const { global = true, hook = 'onRequest', ...shared } = options;
  if (typeof global !== 'boolean') throw new TypeError(`slidegate: ${LABEL}.global must be a boolean; got ${typeof global}`);
  if (!HOOKS.includes(hook)) throw new RangeError(`slidegate: ${LABEL}.hook must be one of ${HOOKS.join(', ')}; got ${String(hook)}`);
  const definesLimiter = LIMITER_OPTIONS.some((key) => shared[key] !== undefined);
  // Built once (when the plugin's options define a limit), shared by every route without its own.
  const base = global || definesLimiter ? new HttpLimiter(shared, fastifyAccess, LABEL, ['global', 'hook']) : undefined;
  const owned: HttpLimiter<FastifyRequest, FastifyLimitHandler>[] = base === undefined ? [] : [base];

  // One limiter per route config object, so a GET route and the HEAD route Fastify derives from it share one.
  const byConfig = new WeakMap<object, HttpLimiter<FastifyRequest, FastifyLimitHandler>>();

  fastify.addHook('onRoute', (route) => {
    const routeConfig = (route.config as { rateLimit?: unknown } | undefined)?.rateLimit;
    if (routeConfig === false) return;
    let http = global ? base : undefined;
    if (routeConfig !== undefined) {
      http = typeof routeConfig === 'object' && routeConfig !== null ? byConfig.get(routeConfig) : undefined;
      if (http === undefined) {
        http = new HttpLimiter(routeOptions(shared, routeConfig, route, base), fastifyAccess, `route ${String(route.method)} ${route.url} config.rateLimit`);
        byConfig.set(routeConfig as object, http);
        owned.push(http);
      }
    }
    if (http !== undefined) addRouteHook(route, hook, limitHook(http));
  });
  fastify.addHook('onClose', async () => {
    await Promise.all(owned.map((http) => http.close()));
  });
}

/** The route's options over the plugin's; a route that sets a limit gets its own limiter and key space. */
function routeOptions(
  shared: FastifyRateLimitRouteOptions,
  routeConfig: unknown,
  route: RouteOptions,
  base: HttpLimiter<FastifyRequest, FastifyLimitHandler> | undefined,
): FastifyRateLimitRouteOptions {
  if (typeof routeConfig !== 'object' || routeConfig === null || Array.isArray(routeConfig)) {
    throw new TypeError(`slidegate: route ${String(route.method)} ${route.url} config.rateLimit must be an object or false; got ${typeof routeConfig}`);
  }
  const own = routeConfig as FastifyRateLimitRouteOptions;
  const merged: FastifyRateLimitRouteOptions = { ...shared, ...own };
  const ownLimiter = LIMITER_OPTIONS.some((key) => own[key] !== undefined);
  if (!ownLimiter) {
    // Same limiter, same key space: the route shares the plugin's budget with its other options.
    for (const key of LIMITER_OPTIONS) delete merged[key];
    if (base !== undefined) merged.limiter = base.limiter;
    return merged;
  }
  if (own.limiter !== undefined) {
    // A limiter passed in is shared as given: routes that pass the same one share its budget.
    for (const key of LIMITER_OPTIONS) if (key !== 'limiter') delete merged[key];
    return merged;
  }
  delete merged.limiter;
  // A limit of the route's own is a new limiter on the same store: keep its keys apart, and do
  // not show it under the plugin's policy name.
  if (own.name === undefined && own.prefix === undefined) {
    const basePrefix = shared.prefix ?? (shared.name === undefined ? '' : `${shared.name}:`);
    merged.prefix = `${basePrefix}${[route.method].flat().join(',')}:${route.url}:`;
  }
  if (own.name === undefined) delete merged.name;
  return merged;
}

/**
 * The route's hook, in Fastify's callback style so that an in-process decision lets the request go
 * on at once (an async hook costs a promise per request). Whatever needs waiting for (an async store
 * or callback, a limited response) returns a promise instead, which Fastify waits for as for an async hook.
 */
function limitHook(http: HttpLimiter<FastifyRequest, FastifyLimitHandler>) {
  const handler = http.handler;
  return function slidegateLimit(request: FastifyRequest, reply: FastifyReply, done: () => void): Promise<unknown> | undefined {
    try {
      const outcome = http.decide(request);
      if (outcome instanceof Promise) return outcome.then((o) => (o.kind === 'limited' ? limit(o, handler, request, reply) : allow(o, reply)));
      if (outcome.kind === 'limited') return limit(outcome, handler, request, reply);
      allow(outcome, reply);
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a user callback threw, as from an async function
      return Promise.reject(error);
    }
    done();
    return undefined;
  };
}

function allow(outcome: Exclude<HttpOutcome, { kind: 'limited' }>, reply: FastifyReply): undefined {
  if (outcome.kind === 'allowed') writeHeaders(outcome.headers, reply);
  return undefined;
}

async function limit(outcome: Extract<HttpOutcome, { kind: 'limited' }>, handler: FastifyLimitHandler | undefined, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  writeHeaders(outcome.headers, reply);
  if (handler !== undefined && outcome.info !== undefined) {
    await handler(request, reply, outcome.info);
    return reply;
  }
  return reply.code(outcome.statusCode).type(outcome.body.contentType).send(outcome.body.text);
}

function writeHeaders(headers: readonly HeaderLine[], reply: FastifyReply): void {
  for (const header of headers) {
    // Fastify sends header names in lower case anyway.
    const name = header.key;
    const previous = header.append ? reply.getHeader(name) : undefined;
    // Fastify keeps one value per header name; a structured-field list joins with ", ".
    reply.header(name, previous === undefined ? header.value : `${String(previous)}, ${header.value}`);
  }
}

function addRouteHook(route: RouteOptions, name: (typeof HOOKS)[number], hook: ReturnType<typeof limitHook>): void {
  const existing = route[name] as unknown;
  if (Array.isArray(existing)) route[name] = [...(existing as never[]), hook] as never;
  else if (typeof existing === 'function') route[name] = [existing, hook] as never;
  else route[name] = [hook] as never;
}

/**
 * The slidegate Fastify plugin: `app.register(slidegate, { limit: 100, windowSeconds: 60 })`, with
 * per-route overrides in `config: { rateLimit: { ... } }` (or `false`).
 */
export const slidegate = fp(slidegatePlugin, { fastify: '5.x', name: '@slidegate/fastify' });
