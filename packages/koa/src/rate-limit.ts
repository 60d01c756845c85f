import { HttpLimiter, type ClientLimit, type HttpRateLimitOptions, type RateLimitInfo, type RateLimiter } from '@slidegate/core';
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

/** `ctx.ip` follows `app.proxy` (and `app.proxyIpHeader`, `app.maxIpsCount`). */
const koaAccess = {
  ip: (ctx: Context): string | undefined => ctx.ip || undefined,
  forwardedForIgnored: (ctx: Context): boolean => ctx.headers['x-forwarded-for'] !== undefined && !ctx.app.proxy,
  permissiveProxy: (ctx: Context): boolean => ctx.app.proxy && !(ctx.app.maxIpsCount > 0),
};

/**
 * Rate-limiting middleware for Koa 2 and 3: `app.use(rateLimit({ limit: 100, windowSeconds: 60 }))`.
 * The limiter is built here, once, not per request.
 */
export function rateLimit(options: KoaRateLimitOptions): KoaRateLimitMiddleware {
  const http = new HttpLimiter<Context, KoaLimitHandler>(options, koaAccess, 'rateLimit options');
  const handler = http.handler;
  const middleware = async (ctx: Context, next: Next): Promise<unknown> => {
    const outcome = await http.evaluate(ctx);
    if (outcome.kind === 'pass') return next();
    for (const header of outcome.headers) {
      if (header.append) ctx.append(header.name, header.value);
      else ctx.set(header.name, header.value);
    }
    if (outcome.kind === 'allowed') return next();
    if (handler !== undefined && outcome.info !== undefined) return handler(ctx, next, outcome.info);
    ctx.status = outcome.statusCode;
    ctx.type = outcome.body.contentType;
    ctx.body = outcome.body.text;
    return undefined;
  };
  return Object.assign(middleware, {
    limiter: http.limiter,
    updateLimit: (clientKey: string, limit: number, windowSeconds: number) => http.updateLimit(clientKey, limit, windowSeconds),
    getLimit: (clientKey: string) => http.getLimit(clientKey),
    close: () => http.close(),
  });
}
