import { EventEmitter } from 'node:events';
import { ErrorCodes, rangeError, typeError } from '../errors';
import { checkKnownKeys, checkPlainObject, describe } from '../validate';

/**
 * What a breaker answers when asked for a store call:
 * - `'call'`: the breaker is closed; make the call and report its outcome.
 * - `'probe'`: the breaker is half-open and this is its one probe; its outcome decides.
 * - `'denied'`: do not call the store; decide in fallback.
 */
export type BreakerPermit = 'call' | 'probe' | 'denied';

/** Why a breaker opened. */
export type BreakerOpenReason = 'consecutive-failures' | 'failure-rate' | 'probe-failed';

/** The states of `CircuitBreaker`. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * The small interface a breaker implements, so a user can plug in their own (`breaker` option).
 * Every permit other than `'denied'` is followed by exactly one `success(permit)` or
 * `failure(permit, error)` for the same permit, once the call settles or times out.
 * Called on the hot path: keep `acquire` and `success` cheap and synchronous, and never throw.
 */
export interface Breaker {
  acquire(): BreakerPermit;
  success(permit: BreakerPermit): void;
  failure(permit: BreakerPermit, error: unknown): void;
}

/** Options of `CircuitBreaker`. */
export interface CircuitBreakerOptions {
  /**
   * Opens after this many failures (errors or timeouts) in a row.
   * @default 5
   */
  consecutiveFailures?: number;
  /**
   * Opens when, over the last `rollingWindowMs`, at least `minimumCalls` calls were made and this
   * fraction of them failed (0 < rate <= 1). Catches a store that fails every other call, which a
   * run of consecutive failures never sees.
   * @default 0.5
   */
  failureRate?: number;
  /**
   * Calls needed in the rolling window before `failureRate` is judged.
   * @default 20
   */
  minimumCalls?: number;
  /**
   * Length of the rolling window for `failureRate`, in milliseconds (kept in 10 buckets).
   * @default 5000
   */
  rollingWindowMs?: number;
  /**
   * How long the breaker stays open before it lets the first probe through, in milliseconds.
   * Each failed probe doubles the wait, up to `maxResetTimeoutMs`; closing starts over. Short, so a
   * blip (a failover, a client still connecting at startup) costs a fraction of a second.
   * @default 125
   */
  resetTimeoutMs?: number;
  /**
   * The longest wait between probes, in milliseconds: decisions return to the store within about
   * this long (plus one timeout) of its recovery, however long the outage was.
   * @default 1000
   */
  maxResetTimeoutMs?: number;
  /**
   * The clock in milliseconds; injectable for tests.
   * @default Date.now
   */
  now?: () => number;
}

export const DEFAULT_BREAKER_OPTIONS = {
  consecutiveFailures: 5,
  failureRate: 0.5,
  minimumCalls: 20,
  rollingWindowMs: 5000,
  resetTimeoutMs: 125,
  maxResetTimeoutMs: 1000,
} as const;

const BUCKETS = 10;

/** Payload of the `'open'` event. */
export interface BreakerOpenEvent {
  reason: BreakerOpenReason;
  /** The failure that tipped it. */
  error: unknown;
}

/**
 * A small circuit breaker: closed -> open after a run of failures or a failure rate over a short
 * rolling window; open -> half-open after `resetTimeoutMs`, which admits exactly one probe;
 * half-open -> closed when the probe succeeds, back to open (for twice as long, up to
 * `maxResetTimeoutMs`) when it fails.
 * Emits `'open'` (`BreakerOpenEvent`), `'halfOpen'` and `'close'`.
 * Results of calls admitted before the breaker opened are ignored once it has opened: only
 * the probe decides whether the store is back.
 */
export class CircuitBreaker extends EventEmitter implements Breaker {
  readonly #consecutiveLimit: number;
  readonly #failureRate: number;
  readonly #minimumCalls: number;
  readonly #bucketMs: number;
  readonly #resetTimeoutMs: number;
  readonly #maxResetTimeoutMs: number;
  /** The current wait before a probe: `resetTimeoutMs`, doubled by each failed probe. */
  #waitMs: number;
  readonly #now: () => number;
  #state: BreakerState = 'closed';
  #consecutive = 0;
  #openedAt = 0;
  #probeInFlight = false;
  // The rolling window: bucket i holds the counts of bucket id `ids[i]` (= floor(now / bucketMs)).
  readonly #ids = new Float64Array(BUCKETS).fill(-1);
  readonly #calls = new Uint32Array(BUCKETS);
  readonly #failures = new Uint32Array(BUCKETS);

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    const o = checkPlainObject(options, 'breaker options');
    checkKnownKeys(
      o,
      ['consecutiveFailures', 'failureRate', 'minimumCalls', 'rollingWindowMs', 'resetTimeoutMs', 'maxResetTimeoutMs', 'now'],
      'breaker options',
    );
    const d = DEFAULT_BREAKER_OPTIONS;
    this.#consecutiveLimit = positiveInteger(o.consecutiveFailures ?? d.consecutiveFailures, 'breaker options.consecutiveFailures');
    this.#failureRate = fraction(o.failureRate ?? d.failureRate, 'breaker options.failureRate');
    this.#minimumCalls = positiveInteger(o.minimumCalls ?? d.minimumCalls, 'breaker options.minimumCalls');
    const rollingWindowMs = positiveInteger(o.rollingWindowMs ?? d.rollingWindowMs, 'breaker options.rollingWindowMs');
    this.#bucketMs = Math.max(1, Math.ceil(rollingWindowMs / BUCKETS));
    const reset = o.resetTimeoutMs === undefined ? undefined : positiveInteger(o.resetTimeoutMs, 'breaker options.resetTimeoutMs');
    // A first wait longer than the default cap raises the cap with it, unless the cap is given.
    this.#maxResetTimeoutMs = positiveInteger(o.maxResetTimeoutMs ?? Math.max(d.maxResetTimeoutMs, reset ?? 0), 'breaker options.maxResetTimeoutMs');
    this.#resetTimeoutMs = reset ?? Math.min(d.resetTimeoutMs, this.#maxResetTimeoutMs);
    if (this.#resetTimeoutMs > this.#maxResetTimeoutMs) {
      throw rangeError(
        ErrorCodes.INVALID_OPTION,
        `slidegate: breaker options.resetTimeoutMs (${this.#resetTimeoutMs}) must not exceed maxResetTimeoutMs (${this.#maxResetTimeoutMs})`,
      );
    }
    this.#waitMs = this.#resetTimeoutMs;
    if (o.now !== undefined && typeof o.now !== 'function') {
      throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: breaker options.now must be a function returning milliseconds; got ${describe(o.now)}`);
    }
    this.#now = (o.now as (() => number) | undefined) ?? Date.now;
  }

  /** The current state; an open breaker whose reset timeout has passed reads as `'half-open'`. */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#waitMs) return 'half-open';
    return this.#state;
  }

  /** Milliseconds the breaker, when open, waits before its next probe. */
  get waitMs(): number {
    return this.#waitMs;
  }

  acquire(): BreakerPermit {
    if (this.#state === 'closed') return 'call';
    if (this.#state === 'open') {
      if (this.#now() - this.#openedAt < this.#waitMs) return 'denied';
      this.#state = 'half-open';
      this.#probeInFlight = false;
      this.emit('halfOpen');
    }
    // Half-open: exactly one probe at a time; everyone else keeps to the fallback until it answers.
    if (this.#probeInFlight) return 'denied';
    this.#probeInFlight = true;
    return 'probe';
  }

  success(permit: BreakerPermit): void {
    if (permit === 'call') {
      if (this.#state !== 'closed') return;
      this.#consecutive = 0;
      this.#count(false);
    } else if (permit === 'probe' && this.#state === 'half-open') {
      this.#probeInFlight = false;
      this.#close();
    }
  }

  failure(permit: BreakerPermit, error: unknown): void {
    if (permit === 'call') {
      if (this.#state !== 'closed') return;
      this.#consecutive++;
      const rateExceeded = this.#count(true);
      if (this.#consecutive >= this.#consecutiveLimit) this.#open('consecutive-failures', error);
      else if (rateExceeded) this.#open('failure-rate', error);
    } else if (permit === 'probe' && this.#state === 'half-open') {
      this.#probeInFlight = false;
      this.#waitMs = Math.min(this.#waitMs * 2, this.#maxResetTimeoutMs);
      this.#open('probe-failed', error);
    }
  }

  /** Closes the breaker at once (for example after an operator fixed the store). */
  reset(): void {
    if (this.#state !== 'closed') this.#close();
  }

  #open(reason: BreakerOpenReason, error: unknown): void {
    this.#state = 'open';
    this.#openedAt = this.#now();
    const event: BreakerOpenEvent = { reason, error };
    this.emit('open', event);
  }

  #close(): void {
    this.#state = 'closed';
    this.#consecutive = 0;
    this.#waitMs = this.#resetTimeoutMs;
    this.#ids.fill(-1);
    this.emit('close');
  }

  /** Counts one outcome in the rolling window; on a failure, says whether the rate is exceeded. */
  #count(failed: boolean): boolean {
    const id = Math.floor(this.#now() / this.#bucketMs);
    const slot = id % BUCKETS;
    if (this.#ids[slot] !== id) {
      this.#ids[slot] = id;
      this.#calls[slot] = 0;
      this.#failures[slot] = 0;
    }
    this.#calls[slot] = (this.#calls[slot] as number) + 1;
    if (!failed) return false;
    this.#failures[slot] = (this.#failures[slot] as number) + 1;
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if ((this.#ids[i] as number) > id - BUCKETS) {
        calls += this.#calls[i] as number;
        failures += this.#failures[i] as number;
      }
    }
    return calls >= this.#minimumCalls && failures >= this.#failureRate * calls;
  }
}

/** True when `value` looks like a user-supplied breaker (has the three methods). */
export function isBreaker(value: unknown): value is Breaker {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.acquire === 'function' && typeof v.success === 'function' && typeof v.failure === 'function';
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an integer >= 1; got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 1) throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an integer >= 1; got ${describe(value)}`);
  return value;
}

function fraction(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a number in (0, 1]; got ${describe(value)}`);
  if (!(value > 0 && value <= 1)) throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a number in (0, 1]; got ${describe(value)}`);
  return value;
}
