export { RateLimiter } from './rate-limiter';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store';
export { parseOptions, DEFAULT_ALGORITHM } from './options';
export {
  ErrorCodes,
  SlidegateError,
  StoreError,
  StoreTimeoutError,
  ClosedError,
  type ErrorCode,
} from './errors';
export { MAX_WINDOW_SECONDS, MAX_CLIENT_ID_BYTES, ALGORITHMS } from './validate';
export type {
  Algorithm,
  CheckOptions,
  ClientLimit,
  Decision,
  DecisionSource,
  LeaseRelease,
  RateLimiterOptions,
  Store,
  StoreCheckRequest,
  StoreDecision,
  StoreSetLimitRequest,
} from './types';
