import type { OnApplicationShutdown } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { ErrorCodes, HttpLimiter, type ClientLimit, type HttpRateLimitOptions, type RequestAccess } from '@slidegate/core';
import { ALL_LIMITS, RATE_LIMIT_METADATA, SKIP_METADATA } from './decorators';
import type { NestRequest, RouteLimit, SlidegateLimitOptions, SlidegateModuleOptions } from './options';

const LABEL = 'SlidegateModule.forRoot options';
type Limiter = HttpLimiter<NestRequest, never, NestRequest>;

/** What the guard reads of either platform's request: Express's `Request` or Fastify's `FastifyRequest` (with `raw`). */
interface PlatformRequest {
  ip?: string;
  socket?: { remoteAddress?: string };
  headers: Record<string, string | string[] | undefined>;
  /** Fastify: the Node request; `ips` only exists with `trustProxy`. */
  raw?: unknown;
  ips?: string[];
  /** Express: the app, whose 'trust proxy' setting `req.ip` follows. */
  app?: { get?(setting: string): unknown };
}

const nestAccess: RequestAccess<PlatformRequest> = {
  ip: (req) => req.ip ?? req.socket?.remoteAddress,
  forwardedForIgnored: (req) => req.headers['x-forwarded-for'] !== undefined && (req.raw === undefined ? [false, undefined, 0].includes(req.app?.get?.('trust proxy') as never) : req.ips === undefined),
  permissiveProxy: (req) => req.raw === undefined && req.app?.get?.('trust proxy') === true,
};

/**
 * The limits of `SlidegateModule`, built once from its options, and the limiters of routes with their
 * own `@RateLimit()`. Inject it to change a client's limit at run time.
 */
export class SlidegateService implements OnApplicationShutdown {
  readonly #limits = new Map<string, { options: SlidegateLimitOptions; http: Limiter }>();
  /** Limiters of a route (handler, then controller), resolved on its first request. */
  readonly #routes = new WeakMap<object, WeakMap<object, Limiter[]>>();
  /** `@RateLimit()` limiters by limit and site (a controller's is shared by its handlers). */
  readonly #own = new Map<string, Limiter>();

  constructor(options: SlidegateModuleOptions) {
    const { limits, ...shared }: SlidegateModuleOptions = options ?? {};
    const list: unknown = limits; // checked as it came, not as typed
    if (limits === undefined) this.#add('default', shared, LABEL);
    else if (!Array.isArray(list) || list.length === 0) throw new TypeError(`slidegate: ${LABEL}.limits must be a non-empty array of named limits`);
    limits?.forEach((limit, i) => {
      const name: unknown = limit?.name;
      if (typeof name !== 'string' || name === '' || this.#limits.has(name)) throw new TypeError(`slidegate: ${LABEL}.limits[${i}].name must be a unique non-empty string; got ${String(name)}`);
      // Each limit counts under its own prefix, even when the options beside `limits` give one.
      this.#add(name, { ...shared, ...limit, prefix: limit.prefix ?? `${shared.prefix ?? ''}${name}:` }, `${LABEL}.limits[${i}]`);
    });
  }

  #add(name: string, options: SlidegateLimitOptions, label: string): void {
    this.#limits.set(name, { options, http: new HttpLimiter(options, nestAccess, label) });
  }

  /** The named limit's limiter ('default' when the module has one limit). */
  limiter(name = 'default'): Limiter {
    const limit = this.#limits.get(name);
    if (limit === undefined) throw new TypeError(`slidegate: no limit named ${JSON.stringify(name)}; the module has ${[...this.#limits.keys()].join(', ')}`);
    return limit.http;
  }

  /** Gives one client key its own limit under the named limit (routes with their own `@RateLimit()` keep theirs). */
  updateLimit(clientKey: string, limit: number, windowSeconds: number, name?: string): Promise<void> {
    return this.limiter(name).updateLimit(clientKey, limit, windowSeconds);
  }

  getLimit(clientKey: string, name?: string): Promise<ClientLimit> {
    return this.limiter(name).getLimit(clientKey);
  }

  /** Forgets one client key's counts under the named limit; never rejects (a failure is a process warning). */
  resetKey(clientKey: string, name?: string): Promise<void> {
    return this.limiter(name).resetKey(clientKey);
  }

  /** The limiters that guard a route, in the module's order, skipped ones left out. */
  forRoute(handler: object, controller: object & { name?: string }, reflector: Reflector): Limiter[] {
    let byController = this.#routes.get(handler);
    if (byController === undefined) this.#routes.set(handler, (byController = new WeakMap()));
    let limiters = byController.get(controller);
    if (limiters === undefined) byController.set(controller, (limiters = this.#resolve(handler, controller, reflector)));
    return limiters;
  }

  #resolve(handler: object & { name?: string }, controller: object & { name?: string }, reflector: Reflector): Limiter[] {
    const read = <T>(key: string, target: object) => reflector.get<Readonly<Record<string, T>> | undefined>(key, target as never);
    const handlerSkip = read<boolean>(SKIP_METADATA, handler);
    const controllerSkip = read<boolean>(SKIP_METADATA, controller);
    const handlerOwn = read<RouteLimit>(RATE_LIMIT_METADATA, handler);
    const controllerOwn = read<RouteLimit>(RATE_LIMIT_METADATA, controller);
    const site = controller.name ?? 'controller';
    const route = `${site}.${handler.name ?? 'handler'}`;
    // A name the module lacks is a mistake in the code: SlidegateModule resolves every route at start-up, so it fails there.
    const named = [['@SkipRateLimit()', route, handlerSkip], ['@SkipRateLimit()', site, controllerSkip], ['@RateLimit()', route, handlerOwn], ['@RateLimit()', site, controllerOwn]] as const;
    for (const [decorator, where, metadata] of named) {
      const unknown = Object.keys(metadata ?? {}).find((name) => name !== ALL_LIMITS && !this.#limits.has(name));
      if (unknown !== undefined) {
        const message = `slidegate: ${decorator} on ${where} names limit ${JSON.stringify(unknown)}, which SlidegateModule does not have; it has ${[...this.#limits.keys()].join(', ')}`;
        throw Object.assign(new TypeError(message), { code: ErrorCodes.INVALID_OPTION });
      }
    }
    const limiters: Limiter[] = [];
    for (const [name, { options, http }] of this.#limits) {
      if (handlerSkip?.[name] ?? handlerSkip?.[ALL_LIMITS] ?? controllerSkip?.[name] ?? controllerSkip?.[ALL_LIMITS] ?? false) continue;
      const own = handlerOwn?.[name] ?? controllerOwn?.[name];
      if (own === undefined) limiters.push(http);
      else limiters.push(this.#ownLimiter(name, options, own, handlerOwn?.[name] !== undefined ? route : site));
    }
    return limiters;
  }

  /** A route's own limit counts apart from the module's: a new limiter, on the same store, under its own prefix. */
  #ownLimiter(name: string, options: SlidegateLimitOptions, own: RouteLimit, site: string): Limiter {
    const id = `${name}|${site}`;
    let http = this.#own.get(id);
    if (http === undefined) {
      // The module's own limit, not a shared limiter's: a new limiter on the same store.
      const rest: HttpRateLimitOptions<NestRequest, never, NestRequest> = { ...options };
      delete rest.limiter;
      const prefix = `${options.prefix ?? (options.name === undefined ? '' : `${options.name}:`)}${site}:`;
      // Its own metrics name as well: two open limiters may not share one on a registry ('default' is core's default name).
      const metrics = rest.limiterOptions?.metrics;
      if (metrics !== undefined && metrics !== false) {
        const base = metrics === true ? {} : metrics;
        rest.limiterOptions = { ...rest.limiterOptions, metrics: { ...base, name: `${base.name ?? 'default'}:${site}` } };
      }
      http = new HttpLimiter<NestRequest, never, NestRequest>({ ...rest, ...own, prefix }, nestAccess, `@RateLimit() on ${site}`);
      this.#own.set(id, http);
    }
    return http;
  }

  /** Closes the limiters these options created (a `limiter` passed in is left open). */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.#limits.values()].map(({ http }) => http.close()).concat([...this.#own.values()].map((http) => http.close())));
  }
}
