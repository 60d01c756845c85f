/** Stable codes of slidegate's errors; never reused for another meaning. */
export const ErrorCodes = {
  INVALID_ARGUMENT: 'ERR_SLIDEGATE_INVALID_ARGUMENT',
  INVALID_OPTION: 'ERR_SLIDEGATE_INVALID_OPTION',
  CLOSED: 'ERR_SLIDEGATE_CLOSED',
  STORE_FAILURE: 'ERR_SLIDEGATE_STORE_FAILURE',
  STORE_TIMEOUT: 'ERR_SLIDEGATE_STORE_TIMEOUT',
  STORE_BAD_REPLY: 'ERR_SLIDEGATE_STORE_BAD_REPLY',
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
