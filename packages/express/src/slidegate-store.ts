import { AsyncLocalStorage } from 'node:async_hooks';
import { MemoryStore, RateLimiter, resetQuietly, storeKey, windowSecondsOf, type Algorithm, type ClientLimit, type Decision, type RateLimiterOptions, type Store } from '@slidegate/core';

/** The parts of express-rate-limit 8's `Options` that `init()` reads. */
interface ExpressRateLimitOptionsSubset {
  windowMs: number;
  limit: number | ((...args: never[]) => unknown);
  skipFailedRequests?: boolean;
  skipSuccessfulRequests?: boolean;
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
   * Prepended to every key. Two SlidegateStores on one `store` must use different prefixes (refused
   * otherwise), so their counts never mix; give the same prefix to the same limiter on every instance.
   * @default 'erl:'
   */
  prefix?: string;
}

/** What one `increment()` recorded, so its `decrement()` gives back exactly that. */
interface Receipt {
  owner: SlidegateStore;
  key: string;
  /** The allowed decision, or undefined when the request was refused and recorded nothing. */
  decision: Decision | undefined;
  released: boolean;
  /** An earlier receipt of the same request (another limiter in front of this one). */
  outer: Receipt | undefined;
}

/** How many recent receipts per key `decrement()` can match when the request's own is not in reach. */
const MAX_REMEMBERED_PER_KEY = 64;
/** How many keys remember their recent receipts; the oldest key is forgotten first. */
const MAX_REMEMBERED_KEYS = 10_000;
/** The prefixes in use on each store, so two SlidegateStores never count into one key by accident. */
const prefixesByStore = new WeakMap<Store, Set<string>>();

/**
 * An express-rate-limit 8 `Store` over slidegate: keep express-rate-limit's middleware and get
 * the exact sliding window, shared through any slidegate store.
 *
 * express-rate-limit increments and then compares `totalHits` with its limit; slidegate decides in
 * one atomic step and records nothing when it refuses. So `increment()` reports a refused request as
 * `limit + 1` hits (express-rate-limit then answers 429), a refused request never counts, and its
 * `decrement()` (skipFailedRequests, skipSuccessfulRequests) gives back nothing. An allowed request's
 * `decrement()` gives back the unit that request recorded, at the time it recorded it.
 */
export class SlidegateStore {
  /** True when counts live in this process (express-rate-limit keys its double-count check by instance). */
  readonly localKeys: boolean;
  readonly prefix: string;
  /** Forgets every key's counts; only when this store made its own MemoryStore (no other user's keys in it). */
  readonly resetAll: (() => Promise<void>) | undefined;
  readonly #store: Store;
  readonly #ownsStore: boolean;
  readonly #algorithm: Algorithm | undefined;
  readonly #limiterOptions: SlidegateStoreOptions['limiterOptions'];
  #limiter: RateLimiter | undefined;
  #limit = 0;
  /** Made in `init()` only when express-rate-limit will call `decrement()`: it carries each request's receipt to it. */
  #receipts: AsyncLocalStorage<Receipt> | undefined;
  /** Recent receipts per key, newest last: the fallback when a request's own receipt is not in reach. */
  readonly #recent = new Map<string, Receipt[]>();

  constructor(options: SlidegateStoreOptions = {}) {
    // Made here rather than by the limiter, because resetAll needs the store itself.
    const owned = options.store === undefined ? new MemoryStore() : undefined;
    this.#store = owned ?? (options.store as Store);
    this.#ownsStore = owned !== undefined;
    this.#algorithm = options.algorithm;
    this.#limiterOptions = options.limiterOptions;
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw new TypeError(`slidegate: SlidegateStore options.prefix must be a string; got ${typeof options.prefix}`);
    }
    this.prefix = options.prefix ?? 'erl:';
    this.localKeys = this.#store.inProcess === true;
    this.resetAll = owned === undefined ? undefined : () => owned.resetAll();
    this.#claimPrefix();
  }

  /** The limiter built by `init()`, for `updateLimit` (keys need the prefix; use `updateLimit` below). */
  get limiter(): RateLimiter {
    if (this.#limiter === undefined) throw new Error('slidegate: SlidegateStore is not initialised; pass it to rateLimit({ store }) first');
    return this.#limiter;
  }

  /**
   * Called once by express-rate-limit with its options: the window and limit become the defaults.
   * express-rate-limit only logs an error thrown here and then fails every request with 500, so an
   * option this store cannot honour is also thrown on the next tick: the app stops at start-up.
   */
  init(options: ExpressRateLimitOptionsSubset): void {
    try {
      this.#init(options);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
      throw error;
    }
  }

  #init(options: ExpressRateLimitOptionsSubset): void {
    const { limit, windowMs } = options;
    if (typeof limit === 'function') {
      throw new TypeError(
        'slidegate: SlidegateStore cannot take express-rate-limit option limit as a function: slidegate decides against the limit ' +
          'before express-rate-limit calls it. Pass a number, and give clients their own limits with store.updateLimit(key, limit, windowSeconds), ' +
          "or use @slidegate/express's rateLimit() with a keyGenerator and updateLimit.",
      );
    }
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`slidegate: SlidegateStore needs express-rate-limit option limit to be an integer >= 0; got ${String(limit)}`);
    }
    // Rounded up to whole seconds (with a warning) when it is not: never more than limit in any windowMs.
    const windowSeconds = windowSecondsOf(windowMs, 'express-rate-limit option windowMs (SlidegateStore)', 'ms');
    this.#limit = limit;
    this.#limiter = new RateLimiter({
      ...this.#limiterOptions,
      limit,
      windowSeconds,
      store: this.#store,
      ...(this.#algorithm === undefined ? {} : { algorithm: this.#algorithm }),
    });
    if (options.skipFailedRequests === true || options.skipSuccessfulRequests === true) this.#receipts = new AsyncLocalStorage<Receipt>();
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    // Entered before the first await: express-rate-limit's code after `await increment()` (its decrement
    // on finish included) runs in this context, so decrement() finds this request's own receipt.
    const receipt = this.#receipts === undefined ? undefined : this.#newReceipt(key);
    const decision = await this.limiter.check(storeKey(this.prefix, key));
    if (!decision.allowed) {
      const wait = Number.isFinite(decision.retryAfter) ? decision.retryAfter : decision.windowSeconds;
      return { totalHits: Math.max(this.#limit, decision.limit) + 1, resetTime: new Date((decision.timestamp + wait) * 1000) };
    }
    if (receipt !== undefined) receipt.decision = decision;
    // The client's own limit (updateLimit) may differ from express-rate-limit's; slidegate's verdict wins.
    const used = Math.min(this.#limit, Math.max(1, decision.limit - decision.remaining));
    return { totalHits: used, resetTime: new Date((decision.timestamp + decision.resetAfter) * 1000) };
  }

  /**
   * Gives back the unit this request's `increment()` recorded (skipFailedRequests /
   * skipSuccessfulRequests); nothing when it recorded none (a refused request).
   */
  async decrement(key: string): Promise<void> {
    const receipt = this.#receiptOf(key);
    if (receipt === undefined || receipt.released) return;
    receipt.released = true;
    if (receipt.decision !== undefined) await this.limiter.release(storeKey(this.prefix, key), receipt.decision);
  }

  /** Reads the key's hits without recording anything. */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const decision = await this.limiter.peek(storeKey(this.prefix, key));
    const used = decision.limit - decision.remaining;
    return { totalHits: used, resetTime: used === 0 ? undefined : new Date((decision.timestamp + decision.resetAfter) * 1000) };
  }

  /**
   * Forgets the key's counts. Never rejects (express-rate-limit users call it without await): a store
   * failure is reported once per call with `process.emitWarning` (code SLIDEGATE_RESET_FAILED).
   */
  resetKey(key: string): Promise<void> {
    this.#recent.delete(key);
    return resetQuietly(this.limiter, storeKey(this.prefix, key), key);
  }

  /** Gives one key (as express-rate-limit's keyGenerator returns it) its own limit. */
  updateLimit(key: string, limit: number, windowSeconds: number): Promise<void> {
    return this.limiter.updateLimit(storeKey(this.prefix, key), limit, windowSeconds);
  }

  getLimit(key: string): Promise<ClientLimit> {
    return this.limiter.getLimit(storeKey(this.prefix, key));
  }

  /** Closes the limiter, and the store if this made it. */
  async shutdown(): Promise<void> {
    await this.#limiter?.close();
    if (this.#ownsStore) await this.#store.close();
    else prefixesByStore.get(this.#store)?.delete(this.prefix);
  }

  #newReceipt(key: string): Receipt {
    const receipts = this.#receipts as AsyncLocalStorage<Receipt>;
    const receipt: Receipt = { owner: this, key, decision: undefined, released: false, outer: receipts.getStore() };
    receipts.enterWith(receipt);
    let recent = this.#recent.get(key);
    if (recent === undefined) {
      if (this.#recent.size >= MAX_REMEMBERED_KEYS) this.#recent.delete(this.#recent.keys().next().value as string);
      this.#recent.set(key, (recent = []));
    }
    recent.push(receipt);
    if (recent.length > MAX_REMEMBERED_PER_KEY) recent.shift();
    return receipt;
  }

  /**
   * The request's own receipt from its async context; failing that (a decrement called from elsewhere),
   * the key's newest receipt not yet given back: with one request at a time per key, that is its own.
   */
  #receiptOf(key: string): Receipt | undefined {
    for (let r = this.#receipts?.getStore(); r !== undefined; r = r.outer) {
      if (r.owner === this && r.key === key) return r;
    }
    const recent = this.#recent.get(key);
    if (recent === undefined) return undefined;
    for (let i = recent.length - 1; i >= 0; i--) if (!(recent[i] as Receipt).released) return recent[i];
    return undefined;
  }

  #claimPrefix(): void {
    let prefixes = prefixesByStore.get(this.#store);
    if (prefixes === undefined) prefixesByStore.set(this.#store, (prefixes = new Set()));
    if (prefixes.has(this.prefix)) {
      throw new RangeError(
        `slidegate: another SlidegateStore already uses prefix ${JSON.stringify(this.prefix)} on this store, so both would count into the same keys; ` +
          `give each SlidegateStore its own prefix (e.g. new SlidegateStore({ store, prefix: 'login:' })), or share one SlidegateStore's limiter`,
      );
    }
    prefixes.add(this.prefix);
  }
}
