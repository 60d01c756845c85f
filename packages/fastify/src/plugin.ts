import { DEFAULT_METRICS_NAME, durationInWords, FASTIFY_REQUEST_ACCESS, HttpLimiter, withMetricsName, type HeaderLine, type HttpOutcome, type HttpRateLimitOptions, type RateLimitInfo } from '@slidegate/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';

/** Sends the limited response yourself; headers and `Retry-After` are already set. */
export type FastifyLimitHandler = (request: FastifyRequest, reply: FastifyReply, info: RateLimitInfo) => unknown;

/** What `errorResponseBuilder` gets, as @fastify/rate-limit passes it. */
export interface FastifyLimitContext {
  statusCode: number;
  /** The limit that applied. */
  max: number;
  /** Milliseconds until the request would be allowed. */
  ttl: number;
  /** The wait in words: '1 minute', '30 seconds'. */
  after: string;
  decision: RateLimitInfo['decision'];
}

/** A route's `config.rateLimit`: the shared options, overriding the plugin's for that route. */
export interface FastifyRateLimitRouteOptions extends HttpRateLimitOptions<FastifyRequest, FastifyLimitHandler, FastifyReply> {
  /**
   * The error thrown for a limited request, which Fastify's error handling (your `setErrorHandler`)
   * answers. Ignored when `handler` or `message` is given.
   * @default an Error with statusCode 429 and message `Rate limit exceeded, retry in <after>`: Fastify's default
   * handler answers it as JSON `{ statusCode, error, message }`
   */
  errorResponseBuilder?: (request: FastifyRequest, context: FastifyLimitContext) => object;
  /** Called for every request that is allowed (under the limit), with its key, as @fastify/rate-limit calls it. */
  onExceeding?: (request: FastifyRequest, key: string) => void;
}

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
  interface FastifyRequest {
    /** The request's rate-limit state, once a slidegate limiter decided it. */
    rateLimit: RateLimitInfo | null;
  }
  interface FastifyInstance {
    /**
     * A hook that limits with the plugin's options (overridden by `options`), for places routes do not
     * reach: `app.setNotFoundHandler({ preHandler: app.rateLimit() }, handler)`.
     */
    rateLimit(options?: FastifyRateLimitRouteOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
    /**
     * Forgets one client key's counts (as the key generator returns it) in the plugin's limiter. Never
     * rejects (a failure is a process warning).
     */
    rateLimitResetKey(clientKey: string): Promise<void>;
  }
}

const HOOKS = ['onRequest', 'preValidation', 'preHandler'] as const;
const LABEL = 'slidegate plugin options';
/** Options of this adapter beside the shared ones. */
const ADAPTER_OPTIONS = ['errorResponseBuilder', 'onExceeding'];
/** @fastify/rate-limit groups IPv6 clients by /64. */
const DEFAULT_IPV6_SUBNET = 64;
/** Options that give a route a limiter of its own rather than the plugin's. */
const LIMITER_OPTIONS = ['limiter', 'limit', 'windowSeconds', 'windowMs', 'store', 'algorithm', 'limiterOptions'] as const;

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
  if (shared.ipv6Subnet === undefined) shared.ipv6Subnet = DEFAULT_IPV6_SUBNET;
  const definesLimiter = LIMITER_OPTIONS.some((key) => shared[key] !== undefined);
  // Built once (when the plugin's options define a limit), shared by every route without its own.
  const base = global || definesLimiter ? makeLimiter(shared, LABEL, ['global', 'hook']) : undefined;
  const owned: Limiter[] = base === undefined ? [] : [base];

  // One limiter per route config object, so a GET route and the HEAD route Fastify derives from it share one.
  const byConfig = new WeakMap<object, Limiter>();
  const limiterOf = (routeConfig: unknown, route: Pick<RouteOptions, 'method' | 'url'>): Limiter | undefined => {
    if (routeConfig === false) return undefined;
    if (routeConfig === undefined) return global ? base : undefined;
    let http = typeof routeConfig === 'object' && routeConfig !== null ? byConfig.get(routeConfig) : undefined;
    if (http === undefined) {
      http = makeLimiter(routeOptions(shared, routeConfig, route, base), `route ${String(route.method)} ${route.url} config.rateLimit`, ADAPTER_OPTIONS);
      byConfig.set(routeConfig as object, http);
      owned.push(http);
    }
    return http;
  };

  // A second registration (stacked limiters) keeps the first's decorators, as @fastify/rate-limit does.
  if (!fastify.hasRequestDecorator('rateLimit')) fastify.decorateRequest('rateLimit', null);
  if (!fastify.hasDecorator('rateLimit')) {
    let hooks = 0;
    fastify.decorate('rateLimit', (options?: FastifyRateLimitRouteOptions) => {
      // Each hook made with a limit of its own counts apart (its own key space and metrics name).
      const site = { method: 'hook', url: `fastify.rateLimit()#${++hooks}` };
      const http = options === undefined && base !== undefined ? base : makeLimiter(routeOptions(shared, options ?? {}, site, base), 'fastify.rateLimit() options', ADAPTER_OPTIONS);
      if (http !== base) owned.push(http);
      return asyncHook(http);
    });
  }

  if (!fastify.hasDecorator('rateLimitResetKey')) {
    fastify.decorate('rateLimitResetKey', (clientKey: string) => (base === undefined ? Promise.resolve() : base.resetKey(clientKey)));
  }

  // Set on each route config this registration saw (one symbol per registration, so stacked registrations
  // each notice the routes they missed): a route it did not see is caught at request time below.
  const SEEN = Symbol('slidegate.routeSeen');
  fastify.addHook('onRoute', (route) => {
    const config = (route.config ??= {}) as Record<symbol | string, unknown>;
    config[SEEN] = true;
    const http = limiterOf(config.rateLimit, route);
    if (http === undefined) return;
    addRouteHook(route, hook, limitHook(http));
    if (http.settles) addRouteHook(route, 'onResponse', settleHook(http));
  });
  // A route declared before the plugin, or while its register was not awaited, never passed onRoute:
  // it is limited here instead (never silently unlimited), with a warning to fix the order.
  const warned = new Set<string>();
  fastify.addHook(hook, function unseenRoute(request: FastifyRequest, reply: FastifyReply, done: () => void): Promise<unknown> | undefined {
    const config = request.routeOptions.config as unknown as Record<symbol | string, unknown> | undefined;
    if (config === undefined || config[SEEN] === true || request.is404) {
      done();
      return undefined;
    }
    const method = String(request.routeOptions.method);
    const url = request.routeOptions.url ?? '';
    const http = limiterOf(config.rateLimit, { method, url });
    if (http === undefined) {
      done();
      return undefined;
    }
    if (!warned.has(`${method} ${url}`)) {
      warned.add(`${method} ${url}`);
      process.emitWarning(
        `slidegate: route ${method} ${url} was declared before @slidegate/fastify was registered (or while its register was not awaited), so the plugin ` +
          `could not attach to it; it is limited at the instance's ${hook} hook instead. Declare routes after \`await app.register(slidegate, options)\`.`,
        { code: 'SLIDEGATE_ROUTE_BEFORE_PLUGIN' },
      );
    }
    return limitHook(http)(request, reply, done);
  });
  fastify.addHook('onClose', async () => {
    await Promise.all(owned.map((http) => http.close()));
  });
}

type Limiter = HttpLimiter<FastifyRequest, FastifyLimitHandler, FastifyReply>;

/** This adapter's own options of each limiter, and the requests it decided (for `settleHook`). */
interface Extras extends Pick<FastifyRateLimitRouteOptions, 'errorResponseBuilder' | 'onExceeding'> {
  /** True when the options say what to send (message or statusCode): sent as is, not thrown. */
  customBody: boolean;
  decided: WeakMap<FastifyRequest, RateLimitInfo>;
}
const extras = new WeakMap<Limiter, Extras>();

/** A limiter for `options`; this adapter's own options are split off, the shared layer parses the rest. */
function makeLimiter(options: FastifyRateLimitRouteOptions, label: string, adapterOptionNames: readonly string[] = []): Limiter {
  const { errorResponseBuilder, onExceeding, ...rest } = options;
  if (errorResponseBuilder !== undefined && typeof errorResponseBuilder !== 'function') throw new TypeError(`slidegate: ${label}.errorResponseBuilder must be a function; got ${typeof errorResponseBuilder}`);
  if (onExceeding !== undefined && typeof onExceeding !== 'function') throw new TypeError(`slidegate: ${label}.onExceeding must be a function; got ${typeof onExceeding}`);
  const http = new HttpLimiter<FastifyRequest, FastifyLimitHandler, FastifyReply>(rest, FASTIFY_REQUEST_ACCESS, label, adapterOptionNames.filter((name) => !ADAPTER_OPTIONS.includes(name)));
  extras.set(http, { errorResponseBuilder, onExceeding, customBody: rest.message !== undefined || rest.statusCode !== undefined, decided: new WeakMap() });
  return http;
}

/** The route's options over the plugin's; a route that sets a limit gets its own limiter and key space. */
function routeOptions(shared: FastifyRateLimitRouteOptions, routeConfig: unknown, route: Pick<RouteOptions, 'method' | 'url'>, base: Limiter | undefined): FastifyRateLimitRouteOptions {
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
  // Metrics inherited from the plugin report this limiter under a name of its own (one registry, one name each).
  if (own.limiterOptions?.metrics !== undefined) return merged;
  return withMetricsName(merged, (given) => `${given ?? DEFAULT_METRICS_NAME}:${[route.method].flat().join(',')} ${route.url}`);
}

/**
 * The route's hook, in Fastify's callback style so that an in-process decision lets the request go
 * on at once (an async hook costs a promise per request). Whatever needs waiting for (an async store
 * or callback, a limited response) returns a promise instead, which Fastify waits for as for an async hook.
 */
function limitHook(http: Limiter) {
  const handler = http.handler;
  const extra = extras.get(http) as Extras;
  const record = http.settles ? extra.decided : undefined;
  return function slidegateLimit(request: FastifyRequest, reply: FastifyReply, done: () => void): Promise<unknown> | undefined {
    try {
      const outcome = http.decide(request);
      if (outcome instanceof Promise) return outcome.then((o) => (o.kind === 'limited' ? limit(o, handler, extra, request, reply) : allow(o, extra, record, request, reply)));
      if (outcome.kind === 'limited') return limit(outcome, handler, extra, request, reply);
      allow(outcome, extra, record, request, reply);
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a user callback threw, as from an async function
      return Promise.reject(error);
    }
    done();
    return undefined;
  };
}

/** `limitHook` as an async hook, for `fastify.rateLimit()` (it may be used where Fastify expects a promise). */
function asyncHook(http: Limiter) {
  const hook = limitHook(http);
  return (request: FastifyRequest, reply: FastifyReply): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      const result = hook(request, reply, () => resolve(undefined));
      if (result !== undefined) result.then(resolve, reject);
    });
}

/** Gives back the unit of a finished request when the options say it should not count. */
function settleHook(http: Limiter) {
  const decided = (extras.get(http) as Extras).decided;
  return function slidegateSettle(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const info = decided.get(request);
    if (info !== undefined) void http.settle(request, reply, info, reply.statusCode);
    done();
  };
}

function allow(outcome: Exclude<HttpOutcome, { kind: 'limited' }>, extra: Extras, record: Extras['decided'] | undefined, request: FastifyRequest, reply: FastifyReply): undefined {
  if (outcome.kind !== 'allowed') return undefined;
  const info = outcome.info;
  writeHeaders(outcome.headers, reply, info);
  request.rateLimit = info;
  record?.set(request, info);
  extra.onExceeding?.(request, info.key);
  return undefined;
}

async function limit(outcome: Extract<HttpOutcome, { kind: 'limited' }>, handler: FastifyLimitHandler | undefined, extra: Extras, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const info = outcome.info;
  writeHeaders(outcome.headers, reply, info);
  if (info !== undefined) request.rateLimit = info;
  if (handler !== undefined && info !== undefined) {
    await handler(request, reply, info);
    return reply;
  }
  if (extra.customBody || info === undefined) return reply.code(outcome.statusCode).type(outcome.body.contentType).send(outcome.body.text);
  // As @fastify/rate-limit: an error for Fastify's error handling (the app's setErrorHandler, or its JSON).
  const { decision } = info;
  const seconds = Number.isFinite(decision.retryAfter) ? Math.ceil(decision.retryAfter) : decision.windowSeconds;
  const context: FastifyLimitContext = { statusCode: outcome.statusCode, max: decision.limit, ttl: seconds * 1000, after: durationInWords(seconds * 1000), decision };
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- what errorResponseBuilder built, thrown as @fastify/rate-limit throws it
  throw (extra.errorResponseBuilder ?? defaultError)(request, context);
}

function defaultError(_request: FastifyRequest, context: FastifyLimitContext): Error {
  return Object.assign(new Error(`Rate limit exceeded, retry in ${context.after}`), { statusCode: context.statusCode });
}

function writeHeaders(headers: readonly HeaderLine[], reply: FastifyReply, info: RateLimitInfo | undefined): void {
  for (const header of headers) {
    // Fastify sends header names in lower case anyway.
    const name = header.key;
    const previous = header.append ? reply.getHeader(name) : undefined;
    // As @fastify/rate-limit sends it: seconds until the reset, not the Unix time.
    const value = name === 'x-ratelimit-reset' && info !== undefined ? String(Math.ceil(info.resetAfter)) : header.value;
    // Fastify keeps one value per header name; a structured-field list joins with ", ".
    reply.header(name, previous === undefined ? value : `${String(previous)}, ${value}`);
  }
}

function addRouteHook(route: RouteOptions, name: (typeof HOOKS)[number] | 'onResponse', hook: ReturnType<typeof limitHook> | ReturnType<typeof settleHook>): void {
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
