import { SetMetadata } from '@nestjs/common';
import { checkLimit, checkWindowSeconds } from '@slidegate/core';
import type { RouteLimit } from './options';

export const RATE_LIMIT_METADATA = 'slidegate:rate-limit';
export const SKIP_METADATA = 'slidegate:skip-rate-limit';
/** The key of `@SkipRateLimit()` with no names: every limit. */
export const ALL_LIMITS = '*';

/**
 * Gives a controller or handler its own limit (and its own count): `@RateLimit({ limit: 5, windowSeconds: 60 })`
 * for the default limit, or `@RateLimit({ short: { ... }, long: { ... } })` by limit name. A handler's wins over its controller's.
 */
export function RateLimit(options: RouteLimit | Readonly<Record<string, RouteLimit>>): ClassDecorator & MethodDecorator {
  const single = typeof (options as Partial<RouteLimit> | null)?.limit === 'number' || typeof (options as Partial<RouteLimit> | null)?.windowSeconds === 'number';
  const byName = single ? { default: options as RouteLimit } : (options as Readonly<Record<string, RouteLimit>>);
  if (typeof byName !== 'object' || byName === null) throw new TypeError(`slidegate: @RateLimit() takes { limit, windowSeconds } or limits by name; got ${options === null ? 'null' : typeof options}`);
  const checked: Record<string, RouteLimit> = {};
  for (const [name, own] of Object.entries(byName)) {
    const label = single ? '@RateLimit()' : `@RateLimit().${name}`;
    checked[name] = { limit: checkLimit(own?.limit, `${label}.limit`), windowSeconds: checkWindowSeconds(own?.windowSeconds, `${label}.windowSeconds`) };
  }
  return SetMetadata(RATE_LIMIT_METADATA, checked);
}

/**
 * Leaves a controller or handler unlimited: `@SkipRateLimit()` for every limit, `@SkipRateLimit({ short: true })`
 * for some; `{ short: false }` on a handler limits it again inside a skipped controller.
 */
export function SkipRateLimit(names: Readonly<Record<string, boolean>> = { [ALL_LIMITS]: true }): ClassDecorator & MethodDecorator {
  for (const [name, skip] of Object.entries(names)) {
    if (typeof skip !== 'boolean') throw new TypeError(`slidegate: @SkipRateLimit().${name} must be a boolean; got ${typeof skip}`);
  }
  return SetMetadata(SKIP_METADATA, { ...names });
}
