import type { OnApplicationShutdown } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { EXPRESS_REQUEST_ACCESS, FASTIFY_REQUEST_ACCESS, NamedHttpLimits, TRUST_PROXY_SETTINGS, accessByRequest, type HttpLimiter, type RouteLevel } from '@slidegate/core';
import { RATE_LIMIT_METADATA, SKIP_METADATA } from './decorators';
import type { NestRequest, SlidegateModuleOptions } from './options';

type Limiter = HttpLimiter<NestRequest, never, NestRequest>;
const LABELS = { options: 'SlidegateModule.forRoot options', owner: 'SlidegateModule', own: '@RateLimit()', skip: '@SkipRateLimit()' };
/** On Fastify, Nest takes the server's `trustProxy` through its adapter, which the warnings name. */
const ON_FASTIFY = { ...FASTIFY_REQUEST_ACCESS, proxySetting: () => TRUST_PROXY_SETTINGS.nestFastify };
/** Fastify's request wraps Node's in `raw`; Express's is Node's. */
const nestAccess = accessByRequest<NestRequest>((req: { raw?: unknown }) => (req.raw === undefined ? EXPRESS_REQUEST_ACCESS : ON_FASTIFY));

/**
 * The limits of `SlidegateModule`, built once from its options, and the limiters of routes with their own
 * `@RateLimit()`. Inject it to change a client's limit at run time: `updateLimit(key, limit, windowSeconds, name?)`,
 * `getLimit(key, name?)`, `deleteLimit(key, name?)`, `resetKey(key, name?)`, `limiter(name?)`.
 */
export class SlidegateService extends NamedHttpLimits<NestRequest, never, NestRequest> implements OnApplicationShutdown {
  /** Limiters of a route (handler, then controller), resolved on its first request. */
  readonly #routes = new WeakMap<object, WeakMap<object, Limiter[]>>();

  constructor(options: SlidegateModuleOptions) {
    super(options, nestAccess, LABELS);
  }

  /** The limiters that guard a handler of a controller, read from their decorators once. */
  routeLimiters(handler: object & { name: string }, controller: object & { name: string }, reflector: Reflector): Limiter[] {
    let byController = this.#routes.get(handler);
    if (byController === undefined) this.#routes.set(handler, (byController = new WeakMap()));
    let limiters = byController.get(controller);
    if (limiters === undefined) {
      const level = (target: object, site: string): RouteLevel => ({ site, skip: reflector.get(SKIP_METADATA, target as never), own: reflector.get(RATE_LIMIT_METADATA, target as never) });
      limiters = this.forRoute(level(handler, `${controller.name}.${handler.name}`), level(controller, controller.name));
      byController.set(controller, limiters);
    }
    return limiters;
  }

  /** Closes the limiters these options created (a `limiter` passed in is left open). */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }
}
