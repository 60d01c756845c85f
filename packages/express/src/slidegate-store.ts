import { MemoryStore, RateLimiter, type Algorithm, type ClientLimit, type RateLimiterOptions, type Store } from '@slidegate/core';

/** The parts of express-rate-limit 8's `Options` that `init()` reads. */
interface ExpressRateLimitOptionsSubset {
  windowMs: number;
  limit: number | ((...args: never[]) => unknown);
}

/** express-rate-limit 8's `ClientRateLimitInfo`, declared here so the package needs no express-rate-limit types. */
export interface ClientRateLimitInfo {
  totalHits: number;
  resetTime: Date | undefined;
}

/** Options of `SlidegateStore`. */
export interface SlidegateStoreOptions {
  /**
   * Where counts live; share a `RedisStore` between instances for a distributed window.
   * @default a new in-process `MemoryStore`
   */
  store?: Store;
  /** @default 'sliding-window' */
  algorithm?: Algorithm;
  /**
   * Any other `RateLimiter` option (`failureMode`, `timeoutMs`, `lease`, ...).
   * @default none: RateLimiter's defaults
   */
  limiterOptions?: Omit<RateLimiterOptions, 'limit' | 'windowSeconds' | 'store' | 'algorithm'>;
  /**
   * Prepended to every key, so several express-rate-limit middlewares can share one store.
   * @default 'erl:'
   */
  prefix?: string;
}

/** How many recent allowed requests per key `decrement()` can take back. */
const MAX_REMEMBERED_PER_KEY = 64;
/** How many keys remember their recent requests; the oldest key is forgotten first. */
const MAX_REMEMBERED_KEYS = 10_000;

/**
 * An express-rate-limit 8 `Store` over slidegate: keep express-rate-limit's middleware and get
 * the exact sliding window, shared through any slidegate store.
 *
 * The interfaces differ in one way that matters. express-rate-limit increments and then compares
 * `totalHits` with its limit; slidegate decides in one atomic step and records nothing when it
 * denies. So `increment()` reports a denied request as `limit + 1` hits (express-rate-limit then
 * answers 429) and a refused request never counts against the client. `resetKey()` is not
 * possible over slidegate's Store interface (it has no delete) and rejects; `get()` reads without
 * recording. `limit` must be a number (a per-request function cannot be mapped onto one window).
 */
export class SlidegateStore {
  /** Counts live in the shared store, so express-rate-limit must not assume they are local. */
  readonly localKeys = false;
  readonly prefix: string;
  readonly #store: Store;
  readonly #ownsStore: boolean;
  readonly #algorithm: Algorithm | undefined;
  readonly #limiterOptions: SlidegateStoreOptions['limiterOptions'];
  #limiter: RateLimiter | undefined;
  #limit = 0;
  /** Effective times of recent allowed requests, for `decrement()`. */
  readonly #recent = new Map<string, number[]>();

  constructor(options: SlidegateStoreOptions = {}) {
    // Made here rather than by the limiter, because decrement() needs the store itself.
    this.#store = options.store ?? new MemoryStore();
    this.#ownsStore = options.store === undefined;
    this.#algorithm = options.algorithm;
    this.#limiterOptions = options.limiterOptions;
    this.prefix = options.prefix ?? 'erl:';
  }

  /** The limiter built by `init()`, for `updateLimit` (keys need the prefix; use `updateLimit` below). */
  get limiter(): RateLimiter {
    if (this.#limiter === undefined) throw new Error('slidegate: SlidegateStore is not initialised; pass it to rateLimit({ store }) first');
    return this.#limiter;
  }

  /** Called once by express-rate-limit with its options: the window and limit become the defaults. */
  init(options: ExpressRateLimitOptionsSubset): void {
    if (typeof options.limit !== 'number') {
      throw new TypeError('slidegate: SlidegateStore needs express-rate-limit option limit to be a number; use updateLimit() for per-client limits');
    }
    if (!Number.isInteger(options.windowMs / 1000)) {
      throw new RangeError(`slidegate: SlidegateStore needs express-rate-limit option windowMs in whole seconds; got ${options.windowMs}`);
    }
    this.#limit = options.limit;
    this.#limiter = new RateLimiter({
      ...this.#limiterOptions,
      limit: options.limit,
      windowSeconds: options.windowMs / 1000,
      store: this.#store,
      ...(this.#algorithm === undefined ? {} : { algorithm: this.#algorithm }),
    });
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const decision = await this.limiter.check(this.prefix + key);
    if (!decision.allowed) {
      const wait = Number.isFinite(decision.retryAfter) ? decision.retryAfter : decision.windowSeconds;
      return { totalHits: Math.max(this.#limit, decision.limit) + 1, resetTime: new Date((decision.timestamp + wait) * 1000) };
    }
    this.#remember(key, decision.timestamp);
    // The client's own limit (updateLimit) may differ from express-rate-limit's; slidegate's verdict wins.
    const used = Math.min(this.#limit, Math.max(1, decision.limit - decision.remaining));
    return { totalHits: used, resetTime: new Date((decision.timestamp + decision.resetAfter) * 1000) };
  }

  /** Takes back the key's most recent allowed request (skipSuccessfulRequests / skipFailedRequests). */
  async decrement(key: string): Promise<void> {
    const times = this.#recent.get(key);
    const at = times?.pop();
    if (at === undefined) return;
    await this.#store.release(this.prefix + key, this.limiter.algorithm, { at, units: 1 }, this.limiter.defaults);
  }

  /** Reads the key's hits without recording: a check that costs more than any limit is always denied and records nothing. */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const decision = await this.limiter.check(this.prefix + key, { cost: Number.MAX_SAFE_INTEGER });
    const used = decision.limit - decision.remaining;
    return { totalHits: used, resetTime: used === 0 ? undefined : new Date((decision.timestamp + decision.resetAfter) * 1000) };
  }

  resetKey(key: string): Promise<void> {
    return Promise.reject(
      new Error(`slidegate: SlidegateStore cannot reset ${JSON.stringify(key)}: slidegate's stores never delete counts; use updateLimit() to change a client's limit`),
    );
  }

  /** Gives one key (as express-rate-limit's keyGenerator returns it) its own limit. */
  updateLimit(key: string, limit: number, windowSeconds: number): Promise<void> {
    return this.limiter.updateLimit(this.prefix + key, limit, windowSeconds);
  }

  getLimit(key: string): Promise<ClientLimit> {
    return this.limiter.getLimit(this.prefix + key);
  }

  /** Closes the limiter, and the store if this made it. */
  async shutdown(): Promise<void> {
    await this.#limiter?.close();
    if (this.#ownsStore) await this.#store.close();
  }

  #remember(key: string, at: number): void {
    let times = this.#recent.get(key);
    if (times === undefined) {
      if (this.#recent.size >= MAX_REMEMBERED_KEYS) this.#recent.delete(this.#recent.keys().next().value as string);
      this.#recent.set(key, (times = []));
    }
    times.push(at);
    if (times.length > MAX_REMEMBERED_PER_KEY) times.shift();
  }
}
