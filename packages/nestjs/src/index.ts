export { SlidegateModule, type SlidegateModuleAsyncOptions } from './slidegate-module';
export { SlidegateGuard, SlidegateException } from './slidegate-guard';
export { SlidegateService } from './slidegate-service';
export { RateLimit, SkipRateLimit, RATE_LIMIT_METADATA, SKIP_METADATA } from './decorators';
export type { NamedLimit, NestRequest, SlidegateLimitOptions, SlidegateModuleOptions } from './options';
export { ipKey, type HeadersMode, type RateLimitInfo, type RouteLimit } from '@slidegate/core';
