import { HttpLimiter, TRUST_PROXY_SETTINGS, type HeaderLine, type HttpOutcome, type HttpRateLimitOptions, type RateLimitInfo, type RateLimitControls, type RequestAccess } from '@slidegate/core';
import { KoaClientAddress } from './client-address';
import type { Context, Middleware, Next } from 'koa';

/** Sends the limited response yourself; headers and `Retry-After` are already set. */
export type KoaLimitHandler = (ctx: Context, next: Next, info: RateLimitInfo) => unknown;

/** koa-ratelimit's custom names for its three headers (sent in 'legacy' mode). */
export interface KoaHeaderNames {
  /** @default 'X-RateLimit-Remaining' */
  remaining?: string;
  /** @default 'X-RateLimit-Reset' */
  reset?: string;
  /** @default 'X-RateLimit-Limit' */
  total?: string;
}

/** Options of `rateLimit()`: the shared slidegate HTTP options, with Koa's context as the request. */
export interface KoaRateLimitOptions extends Omit<HttpRateLimitOptions<Context, KoaLimitHandler, Context>, 'headers'> {
  /**
   * Which headers to send (see `HeadersMode`), or, as koa-ratelimit takes them, custom names for the
   * legacy headers: `{ remaining: 'Rate-Remaining', reset: 'Rate-Reset', total: 'Rate-Limit' }`.
   * @default 'draft-8'
   */
  headers?: HttpRateLimitOptions<Context>['headers'] | KoaHeaderNames;
  /**
   * As koa-ratelimit's `throw`: a limited request calls `ctx.throw(status, body)` for the app's error
   * handling, with the rate-limit headers and Retry-After kept on the error (`err.headers`).
   * @default false: the middleware answers itself
   */
  throw?: boolean;
}

/** The middleware, with the limiter behind it for run-time limits. */
export interface KoaRateLimitMiddleware extends Middleware, RateLimitControls {}

/**
 * What the shared layer reads of a Koa request. The address follows `app.proxy` (and `app.proxyIpHeader`,
 * `app.maxIpsCount`), as `ctx.ip` does; headers are read through `ctx.req`, one getter fewer per request.
 */
function koaAccess(): RequestAccess<Context> {
  const address = new KoaClientAddress();
  return {
    ip: (ctx) => address.of(ctx),
    forwardedForIgnored: (ctx) => ctx.req.headers['x-forwarded-for'] !== undefined && !ctx.app.proxy,
    permissiveProxy: (ctx) => ctx.app.proxy && !(ctx.app.maxIpsCount > 0),
    socketAddress: (ctx) => ctx.req.socket?.remoteAddress,
    proxySetting: () => TRUST_PROXY_SETTINGS.koa,
  };
}

/**
 * Rate-limiting middleware for Koa 2 and 3: `app.use(rateLimit({ limit: 100, windowSeconds: 60 }))`.
 * The limiter is built here, once, not per request.
 */
export function rateLimit(options: KoaRateLimitOptions): KoaRateLimitMiddleware {
  const { headers, throw: throws = false, ...shared } = options ?? {};
  if (typeof throws !== 'boolean') throw new TypeError(`slidegate: rateLimit options.throw must be true or false; got ${typeof throws}`);
  const names = headerNamesOf(headers);
  const http = new HttpLimiter<Context, KoaLimitHandler, Context>({ ...shared, headers: names === undefined ? (headers as HttpRateLimitOptions<Context>['headers']) : 'legacy' }, koaAccess(), 'rateLimit options');
  const settings: Settings = { handler: http.handler, settle: http.settles ? http : undefined, names, throws };
  const middleware = (ctx: Context, next: Next): Promise<unknown> => {
    try {
      const outcome = http.decide(ctx);
      // In-process decisions go on at once: awaiting a promise per request would cost more than the decision.
      if (!(outcome instanceof Promise)) return apply(outcome, settings, ctx, next);
      return outcome.then((o) => apply(o, settings, ctx, next));
    } catch (error) {
      // As from an async middleware: a throwing user callback rejects, to Koa's error handling.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a user callback threw, as from an async function
      return Promise.reject(error);
    }
  };
  return Object.assign(middleware, http.controls());
}

/** What `apply` needs beside the outcome, fixed when the middleware is made. */
interface Settings {
  handler: KoaLimitHandler | undefined;
  /** The limiter, when finished requests may give their unit back. */
  settle: HttpLimiter<Context, KoaLimitHandler, Context> | undefined;
  /** Custom legacy header names by lower-case slidegate name (koa-ratelimit's `headers`). */
  names: ReadonlyMap<string, string> | undefined;
  throws: boolean;
}

/** Writes the outcome's headers, then continues or answers; a promise, as from an async middleware. */
function apply(outcome: HttpOutcome, settings: Settings, ctx: Context, next: Next): Promise<unknown> {
  if (outcome.kind === 'pass') return next();
  if (outcome.info !== undefined) ctx.state.rateLimit = outcome.info;
  const res = ctx.res;
  // ctx.set and ctx.append do nothing once the headers are sent.
  if (!res.headersSent) {
    for (const header of outcome.headers) {
      // Sent in lower case (HTTP names are case-insensitive): Node lower-cases a name on every set and send,
      // a copy each time unless it is lower case already.
      const name = settings.names?.get(header.key) ?? header.key;
      // ctx.append reads and sets through ctx.get and ctx.set; with nothing to append to, one setHeader is the same.
      if (header.append && res.getHeader(name) !== undefined) ctx.append(name, header.value);
      else res.setHeader(name, header.value);
    }
  }
  if (outcome.kind === 'allowed') {
    const http = settings.settle;
    if (http === undefined) return next();
    const info = outcome.info;
    // Not awaited: the response goes out while the unit is given back.
    return next().then(
      () => void http.settle(ctx, ctx, info, ctx.status),
      (error: unknown) => {
        void http.settle(ctx, ctx, info, statusOfError(error));
        throw error;
      },
    );
  }
  if (settings.handler !== undefined && outcome.info !== undefined) return Promise.resolve(settings.handler(ctx, next, outcome.info));
  ctx.status = outcome.statusCode;
  ctx.type = outcome.body.contentType;
  ctx.body = outcome.body.text;
  if (settings.throws) {
    // Koa's error handling drops the headers set so far and sets err.headers: the limit's go with the error.
    ctx.throw(outcome.statusCode, outcome.body.text, { headers: headerObject(outcome.headers, settings.names) });
  }
  return Promise.resolve();
}

/** The status a thrown error will be answered with, as Koa decides it. */
function statusOfError(error: unknown): number {
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
}

function headerObject(lines: readonly HeaderLine[], names: ReadonlyMap<string, string> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const name = names?.get(line.key) ?? line.key;
    headers[name] = headers[name] === undefined || !line.append ? line.value : `${headers[name]}, ${line.value}`;
  }
  return headers;
}

/** koa-ratelimit's `headers` object as a map from slidegate's legacy names; undefined for a header mode. */
function headerNamesOf(value: unknown): ReadonlyMap<string, string> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const given = value as Record<string, unknown>;
  const names = new Map<string, string>();
  for (const [option, ours] of [['remaining', 'x-ratelimit-remaining'], ['reset', 'x-ratelimit-reset'], ['total', 'x-ratelimit-limit']] as const) {
    const name = given[option] ?? ours;
    if (typeof name !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new TypeError(`slidegate: rateLimit options.headers.${option} must be a header name; got ${JSON.stringify(name)}`);
    }
    names.set(ours, name.toLowerCase());
  }
  for (const key of Object.keys(given)) {
    if (!['remaining', 'reset', 'total'].includes(key)) throw new TypeError(`slidegate: rateLimit options.headers has no option ${JSON.stringify(key)} (remaining, reset, total)`);
  }
  return names;
}
