import { SetMetadata } from '@nestjs/common';
import { routeLimitsOf, routeSkipsOf, type RouteLimit } from '@slidegate/core';

export const RATE_LIMIT_METADATA = 'slidegate:rate-limit';
export const SKIP_METADATA = 'slidegate:skip-rate-limit';

/**
 * Gives a controller or handler its own limit (and its own count): `@RateLimit({ limit: 5, windowSeconds: 60 })`
 * for the default limit, or `@RateLimit({ short: { ... }, long: { ... } })` by limit name. A handler's wins over its controller's.
 */
export function RateLimit(options: RouteLimit | Readonly<Record<string, RouteLimit>>): ClassDecorator & MethodDecorator {
  return SetMetadata(RATE_LIMIT_METADATA, routeLimitsOf(options, '@RateLimit()'));
}

/**
 * Leaves a controller or handler unlimited: `@SkipRateLimit()` for every limit, `@SkipRateLimit({ short: true })`
 * for some; `{ short: false }` on a handler limits it again inside a skipped controller.
 */
export function SkipRateLimit(names?: Readonly<Record<string, boolean>>): ClassDecorator & MethodDecorator {
  return SetMetadata(SKIP_METADATA, routeSkipsOf(names, '@SkipRateLimit()'));
}
