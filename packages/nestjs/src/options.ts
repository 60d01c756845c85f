import type { HttpRateLimitOptions, NamedLimitsOptions } from '@slidegate/core';

/** The platform's request, as Nest's `switchToHttp().getRequest()` gives it: Express's `Request` or Fastify's `FastifyRequest`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- typed by the platform the app runs on, as in Nest's own getRequest<T = any>()
export type NestRequest = any;

/**
 * One limit: the shared slidegate HTTP options, without `handler` (a limited request throws `SlidegateException`).
 * `requestWasSuccessful(req, res)` gets the platform's response (Express `Response`, Fastify `FastifyReply`).
 */
export type SlidegateLimitOptions = Omit<HttpRateLimitOptions<NestRequest, never, NestRequest>, 'handler'>;

/** A named limit of several; `name` is also its draft-8 policy name and key prefix. */
export interface NamedLimit extends SlidegateLimitOptions {
  name: string;
}

/** `SlidegateModule.forRoot()`: one limit (named 'default'), or `limits`, each checked on every guarded request. */
export type SlidegateModuleOptions = NamedLimitsOptions<SlidegateLimitOptions>;
