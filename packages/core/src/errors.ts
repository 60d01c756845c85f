/** Stable codes of slidegate's errors; never reused for another meaning. */
export const ErrorCodes = {
  INVALID_ARGUMENT: 'ERR_SLIDEGATE_INVALID_ARGUMENT',
  INVALID_OPTION: 'ERR_SLIDEGATE_INVALID_OPTION',
  CLOSED: 'ERR_SLIDEGATE_CLOSED',
  STORE_FAILURE: 'ERR_SLIDEGATE_STORE_FAILURE',
  STORE_TIMEOUT: 'ERR_SLIDEGATE_STORE_TIMEOUT',
  STORE_BAD_REPLY: 'ERR_SLIDEGATE_STORE_BAD_REPLY',
  /** The circuit breaker is open: the store is not being called (limit reads and writes fail fast). */
  STORE_UNAVAILABLE: 'ERR_SLIDEGATE_STORE_UNAVAILABLE',
  /** No usable connection: refused, closed, not ready, or retries exhausted. */
  STORE_CONNECTION: 'ERR_SLIDEGATE_STORE_CONNECTION',
  /** Redis WRONGTYPE: one of the client's keys was overwritten with another type. */
  STORE_WRONG_TYPE: 'ERR_SLIDEGATE_STORE_WRONG_TYPE',
  /** Redis OOM: maxmemory reached and the policy refuses writes. */
  STORE_OUT_OF_MEMORY: 'ERR_SLIDEGATE_STORE_OUT_OF_MEMORY',
  /** Redis READONLY: the node is (now) a replica, e.g. a demoted master after failover. */
  STORE_READ_ONLY: 'ERR_SLIDEGATE_STORE_READ_ONLY',
  /** Redis NOSCRIPT surfaced (ioredis normally retries EVALSHA as EVAL on its own). */
  STORE_NO_SCRIPT: 'ERR_SLIDEGATE_STORE_NO_SCRIPT',
  /** Redis MOVED/ASK surfaced, or too many Cluster redirections. */
  STORE_REDIRECTED: 'ERR_SLIDEGATE_STORE_REDIRECTED',
  /** Redis is busy or not serving yet: BUSY, LOADING, CLUSTERDOWN, TRYAGAIN, MASTERDOWN. */
  STORE_BUSY: 'ERR_SLIDEGATE_STORE_BUSY',
  /** An ioredis client configured so that a decision could wait in a queue or be counted twice. */
  UNSAFE_REDIS_CLIENT: 'ERR_SLIDEGATE_UNSAFE_REDIS_CLIENT',
  /** ClusterStore.serve: another live server already listens on the path, or the path is not a socket. */
  ADDRESS_IN_USE: 'ERR_SLIDEGATE_ADDRESS_IN_USE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Failures (not bad input): a store that failed, timed out or answered nonsense. */
export class SlidegateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SlidegateError';
    this.code = code;
  }
}

/** A store call failed; `cause` holds the store's own error. */
export class StoreError extends SlidegateError {
  constructor(message: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(options?.code ?? ErrorCodes.STORE_FAILURE, message, options);
    this.name = 'StoreError';
  }
}

/** A store call took longer than its timeout. */
export class StoreTimeoutError extends StoreError {
  readonly timeoutMs: number;

  constructor(timeoutMs: number, operation: string) {
    super(`slidegate: store ${operation} took longer than ${timeoutMs} ms`, { code: ErrorCodes.STORE_TIMEOUT });
    this.name = 'StoreTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The limiter was used after `close()`. */
export class ClosedError extends SlidegateError {
  constructor() {
    super(ErrorCodes.CLOSED, 'slidegate: this RateLimiter is closed; create a new one');
    this.name = 'ClosedError';
  }
}

/** A TypeError carrying a stable code, for a value of the wrong type. */
export function typeError(code: ErrorCode, message: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

/** A RangeError carrying a stable code, for a value out of range. */
export function rangeError(code: ErrorCode, message: string): RangeError {
  return Object.assign(new RangeError(message), { code });
}
