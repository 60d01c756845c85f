import { EXPRESS_REQUEST_ACCESS, HttpLimiter, settleWhenSent, type HttpOutcome, type HttpRateLimitOptions, type RateLimitInfo, type RateLimitControls, type RequestAccess } from '@slidegate/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { clientIp } from './client-ip';

/** Sends the limited response yourself; headers and `Retry-After` are already set. */
export type ExpressLimitHandler = (req: Request, res: Response, next: NextFunction, info: RateLimitInfo) => unknown;

/** Options of `rateLimit()`: the shared slidegate HTTP options, with Express's request and response. */
export type ExpressRateLimitOptions = HttpRateLimitOptions<Request, ExpressLimitHandler, Response>;

/** A request that went through `rateLimit()`: `req.rateLimit`, as express-rate-limit puts it. */
export type RequestWithRateLimit = Request & { rateLimit?: RateLimitInfo };

/** The middleware, with the limiter behind it for run-time limits. */
export interface ExpressRateLimitMiddleware extends RequestHandler, RateLimitControls {}

/** Express 4 and 5 both resolve `req.ip` through the app's 'trust proxy' setting; `clientIp` reads it the cheap way. */
const expressAccess: RequestAccess<Request> = { ...EXPRESS_REQUEST_ACCESS, ip: clientIp };

/**
 * Rate-limiting middleware for Express 4 and 5:
 * `app.use(rateLimit({ limit: 100, windowSeconds: 60 }))`. Options are validated here, once.
 */
export function rateLimit(options: ExpressRateLimitOptions): ExpressRateLimitMiddleware {
  const http = new HttpLimiter<Request, ExpressLimitHandler, Response>(options, expressAccess, 'rateLimit options');
  const handler = http.handler;
  const settle = http.settles ? http : undefined;
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    // A throwing user callback goes to Express's error handling, never an unhandled rejection.
    try {
      const outcome = http.decide(req);
      // In-process decisions continue at once: a promise per request would cost more than the decision.
      if (!(outcome instanceof Promise)) return apply(outcome, handler, settle, req, res, next);
      outcome.then((o) => apply(o, handler, settle, req, res, next)).catch((error: unknown) => next(error));
    } catch (error) {
      next(error);
    }
  };
  return Object.assign(middleware, http.controls());
}

type Settler = HttpLimiter<Request, ExpressLimitHandler, Response>;

function apply(outcome: HttpOutcome, handler: ExpressLimitHandler | undefined, settle: Settler | undefined, req: Request, res: Response, next: NextFunction): void {
  if (outcome.kind === 'pass') return next();
  if (outcome.info !== undefined) (req as RequestWithRateLimit).rateLimit = outcome.info;
  if (!res.headersSent) {
    for (const header of outcome.headers) {
      // Sent in lower case (HTTP names are case-insensitive): Node lower-cases a name on every set and send,
      // a copy each time unless it is lower case already.
      const name = header.key;
      // res.append reads and sets through res.get and res.set; with nothing to append to, one setHeader is the same.
      if (header.append && res.getHeader(name) !== undefined) res.append(name, header.value);
      else res.setHeader(name, header.value);
    }
  }
  if (outcome.kind === 'allowed') {
    if (settle !== undefined) settleWhenSent(settle, req, res, res, outcome.info);
    return next();
  }
  if (handler !== undefined && outcome.info !== undefined) {
    Promise.resolve(handler(req, res, next, outcome.info)).catch(next);
    return;
  }
  res.status(outcome.statusCode).type(outcome.body.contentType).send(outcome.body.text);
}
