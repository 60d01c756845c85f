export { rateLimit, type KoaLimitHandler, type KoaRateLimitMiddleware, type KoaRateLimitOptions, type KoaHeaderNames } from './rate-limit';
export { ipKey, type HeadersMode, type RateLimitInfo } from '@slidegate/core';
