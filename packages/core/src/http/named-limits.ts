import { ErrorCodes, typeError } from '../errors';
import { DEFAULT_METRICS_NAME } from '../metrics/metrics-options';
import type { ClientLimit } from '../types';
import { checkLimit, checkWindowSeconds, describe } from '../validate';
import { HttpLimiter, type RequestAccess } from './http-limiter';
import type { HttpOutcome, HttpRateLimitOptions } from './types';

/** The name of the one limit that options without `limits` describe. */
export const DEFAULT_LIMIT_NAME = 'default';
/** In a route's skips: every limit. */
export const ALL_LIMITS = '*';

/** A route's own limit, in place of one of the app's: a count of its own. */
export interface RouteLimit {
  limit: number;
  windowSeconds: number;
}

/** Options that describe one limit, or several named ones beside their shared defaults. */
export type NamedLimitsOptions<O> = O & {
  /**
   * Several limits (e.g. per second and per minute), each with a unique `name` (also its draft-8 policy
   * name and key prefix), each checked on every request. The options beside `limits` are their defaults
   * (a shared `store`, `keyGenerator`, `headers`, `limiterOptions`, ...); each limit keeps its keys under
   * `<prefix><name>:`, and metrics given once serve them all, each limit under its own name label.
   * @default one limit, named 'default', from the options themselves
   */
  limits?: readonly (O & { name: string })[];
};

/** What a route says about the limits at one level: its handler, or the controller around it. */
export interface RouteLevel {
  /** Where it is written, for messages and the key prefix of its own limits: 'AppController.strict', 'AppController'. */
  site: string;
  /** Limits it skips (true) or, on a handler, checks again (false), by name; `ALL_LIMITS` for every one. */
  skip?: Readonly<Record<string, boolean>> | undefined;
  /** Limits it replaces with its own, by name. */
  own?: Readonly<Record<string, RouteLimit>> | undefined;
}

/** How the options, their owner and the route annotations are named in messages. */
export interface NamedLimitsLabels {
  /** 'SlidegateModule.forRoot options' */
  options: string;
  /** 'SlidegateModule' */
  owner: string;
  /** What gives a route its own limits: '@RateLimit()'. */
  own: string;
  /** What makes a route skip limits: '@SkipRateLimit()'. */
  skip: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any request, handler and response: this class never calls them
type AnyHttpOptions = HttpRateLimitOptions<any, any, any>;

/**
 * Several named limits on the shared HTTP layer, in the shape of @nestjs/throttler: each limit checks
 * every request, and a route skips some by name or replaces some with limits of its own. It knows no
 * framework: the adapter reads the route's annotations and applies the outcomes.
 */
export class NamedHttpLimits<Req, Handler = never, Res = never> {
  readonly #limits = new Map<string, { options: HttpRateLimitOptions<Req, Handler, Res>; http: HttpLimiter<Req, Handler, Res> }>();
  /** Routes' own limiters, by limit and site (a controller's is shared by its handlers). */
  readonly #own = new Map<string, HttpLimiter<Req, Handler, Res>>();
  readonly #access: RequestAccess<Req>;
  readonly #labels: NamedLimitsLabels;

  /** Validates the options (TypeError or RangeError naming the option) and builds every limit's limiter. */
  constructor(options: NamedLimitsOptions<HttpRateLimitOptions<Req, Handler, Res>> | undefined, access: RequestAccess<Req>, labels: NamedLimitsLabels) {
    this.#access = access;
    this.#labels = labels;
    const { limits, ...shared } = options ?? {};
    const label = labels.options;
    if (limits === undefined) {
      this.#add(DEFAULT_LIMIT_NAME, shared, label);
      return;
    }
    if (!Array.isArray(limits) || limits.length === 0) {
      throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${label}.limits must be a non-empty array of named limits; got ${describe(limits)}`);
    }
    limits.forEach((limit: HttpRateLimitOptions<Req, Handler, Res> & { name?: unknown }, i) => {
      const name = limit?.name;
      if (typeof name !== 'string' || name === '' || this.#limits.has(name)) {
        throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${label}.limits[${i}].name must be a unique non-empty string; got ${String(name)}`);
      }
      // Each limit counts under its own prefix, even when the options beside `limits` give one.
      const own = { ...shared, ...limit, prefix: limit.prefix ?? `${shared.prefix ?? ''}${name}:` };
      // Metrics given beside `limits` serve every limit, each under its own name; a limit's own keep theirs.
      const inherited = limit.limiterOptions === undefined;
      this.#add(name, withMetricsName(own, (given) => (given === undefined ? name : inherited ? `${given}:${name}` : given)), `${label}.limits[${i}]`);
    });
  }

  #add(name: string, options: HttpRateLimitOptions<Req, Handler, Res>, label: string): void {
    this.#limits.set(name, { options, http: new HttpLimiter(options, this.#access, label) });
  }

  /** The names of the limits, in order. */
  get names(): string[] {
    return [...this.#limits.keys()];
  }

  /** The named limit's limiter ('default' when the options describe one limit). */
  limiter(name: string = DEFAULT_LIMIT_NAME): HttpLimiter<Req, Handler, Res> {
    const limit = this.#limits.get(name);
    if (limit === undefined) throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: no limit named ${JSON.stringify(name)}; ${this.#labels.owner} has ${this.names.join(', ')}`);
    return limit.http;
  }

  /** Gives one client key its own limit under the named limit (routes' own limits keep theirs). */
  updateLimit(clientKey: string, limit: number, windowSeconds: number, name?: string): Promise<void> {
    return this.limiter(name).updateLimit(clientKey, limit, windowSeconds);
  }

  /** Removes one client key's own limit under the named limit: the limit's default applies again. */
  deleteLimit(clientKey: string, name?: string): Promise<void> {
    return this.limiter(name).deleteLimit(clientKey);
  }

  getLimit(clientKey: string, name?: string): Promise<ClientLimit> {
    return this.limiter(name).getLimit(clientKey);
  }

  /** Forgets one client key's counts under the named limit; never rejects (a failure is a process warning). */
  resetKey(clientKey: string, name?: string): Promise<void> {
    return this.limiter(name).resetKey(clientKey);
  }

  /**
   * The limiters that check a route, in the order of the limits, skipped ones left out: a handler's
   * word over its controller's. A name the limits lack is a mistake in the code: a TypeError.
   */
  forRoute(handler: RouteLevel, controller: RouteLevel): HttpLimiter<Req, Handler, Res>[] {
    const { own: ownLabel, skip: skipLabel, owner } = this.#labels;
    const named = [[skipLabel, handler, handler.skip], [skipLabel, controller, controller.skip], [ownLabel, handler, handler.own], [ownLabel, controller, controller.own]] as const;
    for (const [label, level, byName] of named) {
      const unknown = Object.keys(byName ?? {}).find((name) => name !== ALL_LIMITS && !this.#limits.has(name));
      if (unknown !== undefined) {
        throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${label} on ${level.site} names limit ${JSON.stringify(unknown)}, which ${owner} does not have; it has ${this.names.join(', ')}`);
      }
    }
    const limiters: HttpLimiter<Req, Handler, Res>[] = [];
    for (const [name, { options, http }] of this.#limits) {
      if (handler.skip?.[name] ?? handler.skip?.[ALL_LIMITS] ?? controller.skip?.[name] ?? controller.skip?.[ALL_LIMITS] ?? false) continue;
      const level = handler.own?.[name] !== undefined ? handler : controller.own?.[name] !== undefined ? controller : undefined;
      limiters.push(level === undefined ? http : this.#ownLimiter(name, options, level.own![name]!, level.site));
    }
    return limiters;
  }

  /** A route's own limit counts apart from the app's: a new limiter, on the same store, under its own prefix and metrics name. */
  #ownLimiter(name: string, options: HttpRateLimitOptions<Req, Handler, Res>, own: RouteLimit, site: string): HttpLimiter<Req, Handler, Res> {
    const id = `${name}|${site}`;
    let http = this.#own.get(id);
    if (http === undefined) {
      // The limit's options, not a limiter passed in: a limiter of the route's own.
      const rest = { ...options };
      delete rest.limiter;
      const prefix = `${options.prefix ?? (options.name === undefined ? '' : `${options.name}:`)}${site}:`;
      const routeOptions = withMetricsName({ ...rest, ...own, prefix }, (given) => `${given ?? DEFAULT_METRICS_NAME}:${site}`);
      http = new HttpLimiter(routeOptions, this.#access, `${this.#labels.own} on ${site}`);
      this.#own.set(id, http);
    }
    return http;
  }

  /** Closes the limiters these options created (a `limiter` passed in is left open). */
  async close(): Promise<void> {
    await Promise.all([...[...this.#limits.values()].map(({ http }) => http), ...this.#own.values()].map((http) => http.close()));
  }
}

/**
 * `options` with its metrics (when on) named `name(the name given)`: limiters on one registry each
 * need a name label of their own. Anything else is left for the limiter to validate.
 */
export function withMetricsName<O extends AnyHttpOptions>(options: O, name: (given: string | undefined) => string): O {
  const metrics: unknown = options.limiterOptions?.metrics;
  if (metrics !== true && (typeof metrics !== 'object' || metrics === null)) return options;
  const given = metrics === true ? undefined : (metrics as { name?: unknown }).name;
  if (given !== undefined && typeof given !== 'string') return options;
  return { ...options, limiterOptions: { ...options.limiterOptions, metrics: { ...(metrics === true ? {} : metrics), name: name(given) } } };
}

/** A route's own limits as written: `{ limit, windowSeconds }` for the default limit, or such limits by name. */
export function routeLimitsOf(value: unknown, label: string): Record<string, RouteLimit> {
  const one = value as Partial<RouteLimit> | null | undefined;
  const single = typeof one?.limit === 'number' || typeof one?.windowSeconds === 'number';
  const byName = single ? { [DEFAULT_LIMIT_NAME]: value } : value;
  if (typeof byName !== 'object' || byName === null) throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${label} takes { limit, windowSeconds } or limits by name; got ${describe(value)}`);
  const checked: Record<string, RouteLimit> = {};
  for (const [name, limit] of Object.entries(byName as Record<string, Partial<RouteLimit> | null | undefined>)) {
    const at = single ? label : `${label}.${name}`;
    checked[name] = { limit: checkLimit(limit?.limit, `${at}.limit`), windowSeconds: checkWindowSeconds(limit?.windowSeconds, `${at}.windowSeconds`) };
  }
  return checked;
}

/** A route's skips as written (`{ short: true }`); none: every limit. */
export function routeSkipsOf(value: unknown, label: string): Record<string, boolean> {
  if (value === undefined) return { [ALL_LIMITS]: true };
  if (typeof value !== 'object' || value === null) throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${label} takes limit names with true or false; got ${describe(value)}`);
  for (const [name, skip] of Object.entries(value)) {
    if (typeof skip !== 'boolean') throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${label}.${name} must be a boolean; got ${typeof skip}`);
  }
  return { ...(value as Record<string, boolean>) };
}

/**
 * Decides a request with each limiter in turn, handing every outcome to `apply` (which throws to stop
 * there, as for a limited request): without a promise while every decision is made in-process.
 */
export function decideEach<Req, L extends HttpLimiter<Req, unknown, unknown>>(limiters: readonly L[], req: Req, apply: (outcome: HttpOutcome, http: L) => void, start = 0): true | Promise<true> {
  for (let i = start; i < limiters.length; i++) {
    const http = limiters[i] as L;
    const outcome = http.decide(req);
    if (outcome instanceof Promise) return outcome.then((o) => (apply(o, http), decideEach(limiters, req, apply, i + 1)));
    apply(outcome, http);
  }
  return true;
}
