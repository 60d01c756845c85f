export { rateLimit, type ExpressLimitHandler, type ExpressRateLimitMiddleware, type ExpressRateLimitOptions, type RequestWithRateLimit } from './rate-limit';
export { SlidegateStore, type SlidegateStoreOptions } from './slidegate-store';
export { ipKey, type HeadersMode, type RateLimitInfo } from '@slidegate/core';
