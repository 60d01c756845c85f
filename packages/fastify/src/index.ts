import { slidegate } from './plugin';

export { slidegate, type FastifyLimitContext, type FastifyLimitHandler, type FastifyRateLimitOptions, type FastifyRateLimitRouteOptions } from './plugin';
export { ipKey, type HeadersMode, type RateLimitInfo } from '@slidegate/core';
export default slidegate;
