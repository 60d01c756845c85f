import { ClosedError } from './errors';
import { parseOptions, type ParsedOptions } from './options';
import type { CheckOptions, ClientLimit, Decision, RateLimiterOptions, StoreDecision } from './types';
import { checkClientId, checkCost, checkLimit, checkTimestamp, checkWindowSeconds, checkPlainObject } from './validate';
import { ErrorCodes } from './errors';

/**
 * The limiter: validates a request, resolves its time and cost, and asks the store for one atomic
 * decision. Limits are results (`Decision`), never exceptions; exceptions mean bad input.
 */
export class RateLimiter {
  readonly #options: ParsedOptions;
  readonly #defaults: ClientLimit;
  #closed = false;

  constructor(options: RateLimiterOptions) {
    this.#options = parseOptions(options);
    this.#defaults = { limit: this.#options.limit, windowSeconds: this.#options.windowSeconds };
  }

  /** The default limit for clients without their own. */
  get defaults(): ClientLimit {
    return { ...this.#defaults };
  }

  get algorithm(): ParsedOptions['algorithm'] {
    return this.#options.algorithm;
  }

  /** Decides one request: allowed or not, with the figures for rate-limit headers. */
  check(clientId: string, options?: CheckOptions): Promise<Decision> {
    let timestamp: number | undefined;
    let cost = 1;
    try {
      checkClientId(clientId);
      if (options !== undefined) {
        checkPlainObject(options, 'check options', ErrorCodes.INVALID_ARGUMENT);
        if (options.timestamp !== undefined) timestamp = checkTimestamp(options.timestamp, 'check options.timestamp');
        if (options.cost !== undefined) cost = checkCost(options.cost, 'check options.cost');
      }
      if (this.#closed) throw new ClosedError();
    } catch (error) {
      // Bad input rejects instead of throwing synchronously, so callers handle one failure path.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- validation only throws Errors
      return Promise.reject(error);
    }
    return this.#decide(clientId, timestamp, cost);
  }

  /** The seed API: true when the request at `timestamp` (default: now) is allowed, and records it if so. */
  async isAllowed(clientId: string, timestamp?: number): Promise<boolean> {
    const decision = await this.check(clientId, timestamp === undefined ? undefined : { timestamp });
    return decision.allowed;
  }

  /**
   * Gives the client its own limit, stored beside its counts. It applies from the next decision;
   * requests already recorded keep counting.
   */
  async updateLimit(clientId: string, limit: number, windowSeconds: number): Promise<void> {
    checkClientId(clientId);
    checkLimit(limit);
    checkWindowSeconds(windowSeconds);
    if (this.#closed) throw new ClosedError();
    await this.#options.store.setLimit({
      clientId,
      limit: { limit, windowSeconds },
      defaults: this.#defaults,
      algorithm: this.#options.algorithm,
    });
  }

  /** The limit that applies to the client: its own, or the limiter's default. */
  async getLimit(clientId: string): Promise<ClientLimit> {
    checkClientId(clientId);
    if (this.#closed) throw new ClosedError();
    return (await this.#options.store.getLimit(clientId)) ?? this.defaults;
  }

  /** Stops timers; closes the store only when the limiter created it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#options.ownsStore) await this.#options.store.close();
  }

  #decide(clientId: string, timestamp: number | undefined, cost: number): Promise<StoreDecision> {
    const { store } = this.#options;
    if (timestamp === undefined && !store.hasOwnClock) timestamp = Math.floor(this.#options.now());
    return store.check({
      clientId,
      timestamp,
      cost,
      defaults: this.#defaults,
      algorithm: this.#options.algorithm,
      extra: 0,
      limitFactor: 1,
    });
  }
}
