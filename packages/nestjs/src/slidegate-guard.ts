import { HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { HttpLimiter, HttpOutcome, LimitedBody, RateLimitInfo } from '@slidegate/core';
import type { ServerResponse } from 'node:http';
import type { NestRequest } from './options';
import { SlidegateService } from './slidegate-service';

/**
 * Thrown for a limited request, after the rate-limit headers and `Retry-After` are set, so exception filters
 * shape the answer. A text message becomes Nest's `{ statusCode, message }`; an object is the body as given.
 */
export class SlidegateException extends HttpException {
  /** The decision and key (undefined when a failing store was answered with 503 through `onStoreError: 'deny'`). */
  readonly info: RateLimitInfo | undefined;

  constructor(body: LimitedBody, statusCode: number, info: RateLimitInfo | undefined) {
    super(body.contentType.startsWith('application/json') ? (JSON.parse(body.text) as object) : body.text, statusCode);
    this.info = info;
  }
}

/**
 * Checks every limit of `SlidegateModule` that applies to the route: register it globally
 * (`{ provide: APP_GUARD, useClass: SlidegateGuard }`) or with `@UseGuards(SlidegateGuard)`.
 */
@Injectable()
export class SlidegateGuard implements CanActivate {
  constructor(
    @Inject(SlidegateService) private readonly service: SlidegateService,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  /** True, or throws `SlidegateException`; in-process decisions answer at once, without a promise. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const limiters = this.service.forRoute(context.getHandler(), context.getClass(), this.reflector);
    const http = context.switchToHttp();
    return checkFrom(limiters, 0, http.getRequest(), http.getResponse());
  }
}

type Limiter = HttpLimiter<NestRequest, never, NestRequest>;
/** Express's response, or Fastify's reply around Node's. */
type PlatformResponse = ServerResponse | { raw: ServerResponse };

function checkFrom(limiters: readonly Limiter[], start: number, req: NestRequest, res: PlatformResponse): boolean | Promise<boolean> {
  for (let i = start; i < limiters.length; i++) {
    const http = limiters[i]!;
    const outcome = http.decide(req);
    if (outcome instanceof Promise) return outcome.then((o) => (apply(o, http, req, res), checkFrom(limiters, i + 1, req, res)));
    apply(outcome, http, req, res);
  }
  return true;
}

function apply(outcome: HttpOutcome, http: Limiter, req: NestRequest, res: PlatformResponse): void {
  if (outcome.kind === 'pass') return;
  // The request's state as the other adapters put it (Express req.rateLimit, Fastify request.rateLimit): the last limit's.
  if (outcome.info !== undefined) (req as { rateLimit?: RateLimitInfo }).rateLimit = outcome.info;
  // Fastify's reply wraps Node's response; Node merges what is set here with what the platform writes later.
  const raw = 'raw' in res ? res.raw : res;
  if (!raw.headersSent) {
    for (const header of outcome.headers) {
      const previous = header.append ? raw.getHeader(header.key) : undefined;
      raw.setHeader(header.key, previous === undefined ? header.value : `${String(previous)}, ${header.value}`);
    }
  }
  if (outcome.kind === 'limited') throw new SlidegateException(outcome.body, outcome.statusCode, outcome.info);
  if (http.settles) settleWhenDone(http, req, res, raw, outcome.info);
}

/** skipFailedRequests / skipSuccessfulRequests: once the response is sent (or the connection closed first), ask whether it counts. */
function settleWhenDone(http: Limiter, req: NestRequest, res: PlatformResponse, raw: ServerResponse, info: RateLimitInfo): void {
  let done = false;
  const settle = (statusCode: number | undefined): void => {
    if (done) return;
    done = true;
    void http.settle(req, res, info, statusCode);
  };
  raw.once('finish', () => settle(raw.statusCode));
  raw.once('close', () => settle(raw.writableEnded ? raw.statusCode : undefined));
}
