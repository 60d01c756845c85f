import { HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { decideEach, setNodeHeaders, settleWhenSent, type HttpLimiter, type HttpOutcome, type LimitedBody, type RateLimitInfo } from '@slidegate/core';
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

/** Express's response, or Fastify's reply around Node's. */
type PlatformResponse = ServerResponse | { raw: ServerResponse };

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
    const http = context.switchToHttp();
    const req = http.getRequest<object>();
    const res = http.getResponse<PlatformResponse>();
    const limiters = this.service.routeLimiters(context.getHandler(), context.getClass(), this.reflector);
    return decideEach(limiters, req, (outcome, limiter) => apply(outcome, limiter, req, res));
  }
}

function apply(outcome: HttpOutcome, http: HttpLimiter<NestRequest, never, NestRequest>, req: NestRequest, res: PlatformResponse): void {
  if (outcome.kind === 'pass') return;
  // The request's state as the other adapters put it (Express req.rateLimit, Fastify request.rateLimit): the last limit's.
  if (outcome.info !== undefined) (req as { rateLimit?: RateLimitInfo }).rateLimit = outcome.info;
  const raw = 'raw' in res ? res.raw : res;
  setNodeHeaders(raw, outcome.headers);
  if (outcome.kind === 'limited') throw new SlidegateException(outcome.body, outcome.statusCode, outcome.info);
  if (http.settles) settleWhenSent(http, req, res, raw, outcome.info);
}
