import { HttpLimiter, type ClientLimit, type HttpOutcome, type HttpRateLimitOptions, type RateLimitInfo, type RateLimiter, type RequestAccess } from '@slidegate/core';
import { KoaClientAddress } from './client-address';
import type { Context, Middleware, Next } from 'koa';

/** Sends the limited response yourself; headers and `Retry-After` are already set. */
export type KoaLimitHandler = (ctx: Context, next: Next, info: RateLimitInfo) => unknown;

/** Options of `rateLimit()`: the shared slidegate HTTP options, with Koa's context as the request. */
export type KoaRateLimitOptions = HttpRateLimitOptions<Context, KoaLimitHandler>;

/** The middleware, with the limiter behind it for run-time limits. */
export interface KoaRateLimitMiddleware extends Middleware {
  readonly limiter: RateLimiter;
  /** Gives one client key (as the key generator returns it: an IP, an API key) its own limit. */
  updateLimit(clientKey: string, limit: number, windowSeconds: number): Promise<void>;
  getLimit(clientKey: string): Promise<ClientLimit>;
  /** Closes the limiter when the options created it. */
  close(): Promise<void>;
}

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
  };
}

/**
 * Rate-limiting middleware for Koa 2 and 3: `app.use(rateLimit({ limit: 100, windowSeconds: 60 }))`.
 * The limiter is built here, once, not per request.
 */
export function rateLimit(options: KoaRateLimitOptions): KoaRateLimitMiddleware {
  const http = new HttpLimiter<Context, KoaLimitHandler>(options, koaAccess(), 'rateLimit options');
  const handler = http.handler;
  const middleware = (ctx: Context, next: Next): Promise<unknown> => {
    try {
      const outcome = http.decide(ctx);
      // In-process decisions go on at once: awaiting a promise per request would cost more than the decision.
      if (!(outcome instanceof Promise)) return apply(outcome, handler, ctx, next);
      return outcome.then((o) => apply(o, handler, ctx, next));
    } catch (error) {
      // As from an async middleware: a throwing user callback rejects, to Koa's error handling.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a user callback threw, as from an async function
      return Promise.reject(error);
    }
  };
  return Object.assign(middleware, {
    limiter: http.limiter,
    updateLimit: (clientKey: string, limit: number, windowSeconds: number) => http.updateLimit(clientKey, limit, windowSeconds),
    getLimit: (clientKey: string) => http.getLimit(clientKey),
    close: () => http.close(),
  });
}

/** Writes the outcome's headers, then continues or answers; a promise, as from an async middleware. */
function apply(outcome: HttpOutcome, handler: KoaLimitHandler | undefined, ctx: Context, next: Next): Promise<unknown> {
  if (outcome.kind === 'pass') return next();
  const res = ctx.res;
  // ctx.set and ctx.append do nothing once the headers are sent.
  if (!res.headersSent) {
    for (const header of outcome.headers) {
      // Sent in lower case (HTTP names are case-insensitive): Node lower-cases a name on every set and send,
      // a copy each time unless it is lower case already.
      const name = header.key;
      // ctx.append reads and sets through ctx.get and ctx.set; with nothing to append to, one setHeader is the same.
      if (header.append && res.getHeader(name) !== undefined) ctx.append(name, header.value);
      else res.setHeader(name, header.value);
    }
  }
  if (outcome.kind === 'allowed') return next();
  if (handler !== undefined && outcome.info !== undefined) return Promise.resolve(handler(ctx, next, outcome.info));
  ctx.status = outcome.statusCode;
  ctx.type = outcome.body.contentType;
  ctx.body = outcome.body.text;
  return Promise.resolve();
}
