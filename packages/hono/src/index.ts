export { rateLimit, type HonoLimitHandler, type HonoRateLimitMiddleware, type HonoRateLimitOptions } from './rate-limit';
export type { TrustProxy } from './client-address';
export { ipKey, type HeadersMode, type RateLimitInfo } from '@slidegate/core';
