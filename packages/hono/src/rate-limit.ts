import { HttpLimiter, setNodeHeaders, TRUST_PROXY_SETTINGS, trustsAnyProxy, type HttpOutcome, type HttpRateLimitOptions, type RateLimitInfo, type RateLimitControls, type RequestAccess } from '@slidegate/core';
import type { Context, MiddlewareHandler, Next } from 'hono';
import { clientAddress, compileTrust, incomingOf, outgoingOf, type Trust, type TrustProxy } from './client-address';

/** Sends the limited response yourself (through `c.text`, `c.json` or `c.body`, which keep the headers set). */
export type HonoLimitHandler = (c: Context, next: Next, info: RateLimitInfo) => Response | Promise<Response>;

/** Options of `rateLimit()`: the shared slidegate HTTP options, with Hono's context as the request. */
export interface HonoRateLimitOptions extends HttpRateLimitOptions<Context, HonoLimitHandler, Context> {
  /**
   * Which proxies may name the client in X-Forwarded-For; see `TrustProxy`.
   * @default false: the client is the socket's address
   */
  trustProxy?: TrustProxy;
}

/** The middleware, with the limiter behind it for run-time limits. */
export interface HonoRateLimitMiddleware extends MiddlewareHandler, RateLimitControls {}

declare module 'hono' {
  interface ContextVariableMap {
    /** The last slidegate decision on this request (`c.get('rateLimit')`), unless it was skipped or allow-listed. */
    rateLimit: RateLimitInfo;
  }
}

const LABEL = 'rateLimit options';
const APPEND = { append: true };

function honoAccess(trust: Trust, trustsAll: boolean): RequestAccess<Context> {
  return {
    // Without a Node request (app.request(), another runtime) the address is unknown, which the
    // shared layer reports and handles by unknownAddress.
    ip: (c) => clientAddress(c, trust),
    forwardedForIgnored: (c) => trust === undefined && incomingOf(c)?.headers['x-forwarded-for'] !== undefined,
    permissiveProxy: () => trustsAll,
    socketAddress: (c) => incomingOf(c)?.socket.remoteAddress,
    proxySetting: () => TRUST_PROXY_SETTINGS.hono,
  };
}

/**
 * Rate-limiting middleware for Hono on @hono/node-server:
 * `app.use(rateLimit({ limit: 100, windowSeconds: 60 }))`. Options are validated here, once.
 */
export function rateLimit(options: HonoRateLimitOptions): HonoRateLimitMiddleware {
  const trustProxy = (options as HonoRateLimitOptions | undefined)?.trustProxy ?? false;
  const trust = compileTrust(trustProxy, `${LABEL}.trustProxy`);
  const access = honoAccess(trust, trust !== undefined && trustsAnyProxy(trust));
  const http = new HttpLimiter<Context, HonoLimitHandler, Context>(options, access, LABEL, ['trustProxy']);
  const handler = http.handler;
  const settle = http.settles ? http : undefined;
  const middleware = (c: Context, next: Next): Promise<Response | void> => {
    try {
      const outcome = http.decide(c);
      // In-process decisions go on at once: awaiting a promise per request would cost more than the decision.
      if (!(outcome instanceof Promise)) return apply(outcome, handler, settle, c, next);
      return outcome.then((o) => apply(o, handler, settle, c, next));
    } catch (error) {
      // As from an async middleware: a throwing user callback rejects, to Hono's onError.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a user callback threw, as from an async function
      return Promise.reject(error);
    }
  };
  return Object.assign(middleware, http.controls());
}

function apply(
  outcome: HttpOutcome,
  handler: HonoLimitHandler | undefined,
  settle: HttpLimiter<Context, HonoLimitHandler, Context> | undefined,
  c: Context,
  next: Next,
): Promise<Response | void> {
  if (outcome.kind === 'pass') return next();
  // On @hono/node-server the lines go on the Node response, which @hono/node-server merges with the head of
  // whatever Response the app returns: c.header() would make Hono build a Web Headers object for every
  // response, and a handler's own `new Response()` (or a proxied fetch) would go out without them.
  const outgoing = outgoingOf(c);
  if (outgoing !== undefined) setNodeHeaders(outgoing, outcome.headers);
  else for (const header of outcome.headers) c.header(header.key, header.value, header.append ? APPEND : undefined);
  if (outcome.info !== undefined) c.set('rateLimit', outcome.info);
  if (outcome.kind === 'allowed') {
    if (settle === undefined) return next();
    const info = outcome.info;
    // Hono answers a thrown error through onError before next() resolves: c.res holds the final status.
    // Not awaited: the response goes out while the unit is given back.
    return next().then(() => void settle.settle(c, c, info, c.res.status));
  }
  if (handler !== undefined && outcome.info !== undefined) return Promise.resolve(handler(c, next, outcome.info));
  c.status(outcome.statusCode as Parameters<Context['status']>[0]);
  // The content type as an argument, not c.header(): no Headers object when nothing else set one.
  return Promise.resolve(c.body(outcome.body.text, undefined, { 'content-type': outcome.body.contentType }));
}
