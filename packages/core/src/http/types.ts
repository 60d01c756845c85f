/**
 * Options and results shared by the adapters. Each adapter fills the `Req` parameter with its
 * framework's request (Express `Request`, Koa `Context`, Fastify `FastifyRequest`, Hono `Context`)
 * and `Handler` with its own handler signature.
 */
import type { RateLimiter } from '../rate-limiter';
import type { Algorithm, ClientLimit, Decision, RateLimiterOptions, Store } from '../types';

/**
 * Which rate-limit response headers to send, named as express-rate-limit names them.
 * - `'draft-8'`: `RateLimit: "<name>"; r=<remaining>; t=<reset>` and
 *   `RateLimit-Policy: "<name>"; q=<limit>; w=<window>; pk=:<partition key>:` (appended, so stacked limiters all show)
 * - `'draft-7'`: `RateLimit: limit=<L>, remaining=<R>, reset=<S>` and `RateLimit-Policy: <L>;w=<W>`
 * - `'draft-6'`: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy: <L>;w=<W>`
 * - `'legacy'`: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix time in seconds)
 * - `false` or `'none'`: none (limited responses still carry `Retry-After`)
 */
export type HeadersMode = 'draft-6' | 'draft-7' | 'draft-8' | 'legacy' | 'none' | false;

/** What `onStoreError` decides when the store fails: let the request through, or refuse it with 503. */
export type StoreErrorAction = 'allow' | 'deny';

/**
 * What happens to a request whose client address cannot be determined (the default key only):
 * `'skip'` lets it through uncounted, `'deny'` answers 503, `'pool'` counts all such requests under
 * one shared key. Each is reported once with `process.emitWarning`.
 */
export type UnknownAddressAction = 'skip' | 'deny' | 'pool';

/** A value or a promise of it: every request callback may be async. */
export type MaybePromise<T> = T | Promise<T>;

/** The limited response's body: a string is sent as text, anything else as JSON. */
export type LimitedMessage<Req> = string | Record<string, unknown> | unknown[] | ((req: Req, decision: Decision) => MaybePromise<unknown>);

/**
 * A request's rate-limit state, as the peers put it on the request (Express `req.rateLimit`, Koa
 * `ctx.state.rateLimit`, Fastify `request.rateLimit`), and passed to a custom `handler`.
 */
export interface RateLimitInfo {
  decision: Decision;
  /** The key the request was counted under, prefix included. */
  key: string;
  statusCode: number;
  /** The limit that applied (in policy mode: of the policy that bound). */
  readonly limit: number;
  /** Units counted in the window, this request's included when it was allowed. */
  readonly used: number;
  readonly remaining: number;
  /** Seconds until the oldest counted unit leaves the window (0: none counted). */
  readonly resetAfter: number;
  /** When the oldest counted unit leaves the window (express-rate-limit's `resetTime`). */
  readonly resetTime: Date;
  /** The policy that bound: its limit and window. */
  readonly policy: ClientLimit;
}

/** Options common to every adapter; `Res` is what `requestWasSuccessful` gets beside the request. */
/** What each adapter's middleware carries beside the handler: its limiter and the run-time controls. */
export interface RateLimitControls {
  readonly limiter: RateLimiter;
  /** Gives one client key (as the key generator returns it: an IP, an API key) its own limit. */
  updateLimit(clientKey: string, limit: number, windowSeconds: number): Promise<void>;
  /** Removes one client key's own limit (own limits never expire): the default applies again. */
  deleteLimit(clientKey: string): Promise<void>;
  getLimit(clientKey: string): Promise<ClientLimit>;
  /** Forgets one client key's counts; never rejects (a failure is a process warning). */
  resetKey(clientKey: string): Promise<void>;
  /** Closes the limiter when the options created it. */
  close(): Promise<void>;
}

export interface HttpRateLimitOptions<Req, Handler = never, Res = never> {
  /**
   * A limiter to use (and share between routes or middlewares: they then share one budget per key).
   * Give either this or `limit` + `windowSeconds`, not both. The middleware never closes it.
   */
  limiter?: RateLimiter;
  /** Requests (cost units) allowed per window, per key, when no `limiter` is given. An integer >= 0. */
  limit?: number;
  /**
   * The window when no `limiter` is given: whole seconds (1..31,536,000) or a duration the `ms` package
   * reads ('15m', '1 minute', '2 hours').
   */
  windowSeconds?: number | string;
  /**
   * The window in milliseconds, as express-rate-limit and @fastify/rate-limit name it (or a duration
   * string); give this or `windowSeconds`. Counted in whole seconds: a value that is not is rounded up
   * (stricter) with a warning.
   */
  windowMs?: number | string;
  /**
   * Where counts live when no `limiter` is given (share a `RedisStore` between instances).
   * @default a new in-process `MemoryStore`
   */
  store?: Store;
  /** @default 'sliding-window' */
  algorithm?: Algorithm;
  /**
   * Any other `RateLimiter` option for the limiter made from `limit` and `windowSeconds`:
   * `failureMode`, `timeoutMs`, `lease`, `metrics`, ... (see `RateLimiterOptions`).
   * @default none: RateLimiter's defaults
   */
  limiterOptions?: Omit<RateLimiterOptions, 'limit' | 'windowSeconds' | 'store' | 'algorithm'>;
  /**
   * The client key of a request. Return a string of 1+ characters; keys longer than 1024 UTF-8
   * bytes (prefix included) are stored by their SHA-256, in a form no short key can spell, so
   * hostile input can neither cause an error nor share another key's window.
   * @default the client IP (the framework's trust-proxy aware `ip`), IPv6 grouped by `ipv6Subnet`
   */
  keyGenerator?: (req: Req) => MaybePromise<string>;
  /**
   * Units the request consumes, an integer >= 1.
   * @default 1
   */
  cost?: number | ((req: Req) => MaybePromise<number>);
  /**
   * Return true to let the request through uncounted, with no headers.
   * @default never
   */
  skip?: (req: Req) => MaybePromise<boolean>;
  /**
   * Keys that are never limited (compared with the generated key before the prefix and, for the
   * default key, also with the full client IP), or a function of the request and key.
   * @default none
   */
  allowList?: readonly string[] | ((req: Req, key: string) => MaybePromise<boolean>);
  /** @default 429 */
  statusCode?: number;
  /**
   * The limited response's body: a string (sent as text/plain), an object (sent as JSON), or a
   * function of the request and decision returning either.
   * @default 'Too many requests, please try again later.'
   */
  message?: LimitedMessage<Req>;
  /**
   * Sends the limited response yourself (overrides `statusCode` and `message`). Headers and
   * `Retry-After` are already set when it runs.
   */
  handler?: Handler;
  /**
   * Gives back the unit a request recorded when its response failed (`requestWasSuccessful` false; by
   * default a status >= 400, or a connection closed before the response ended). A limited request recorded
   * nothing and gives back nothing, so limited clients stay limited.
   * @default false
   */
  skipFailedRequests?: boolean;
  /**
   * Gives back the unit a request recorded when its response succeeded: count only failures (e.g. failed
   * logins, with `requestWasSuccessful: (req, res) => res.statusCode !== 401`).
   * @default false
   */
  skipSuccessfulRequests?: boolean;
  /**
   * Whether a finished request succeeded, for the two options above.
   * @default a status code below 400
   */
  requestWasSuccessful?: (req: Req, res: Res) => MaybePromise<boolean>;
  /** Called for every limited request, before the response is sent (logging, metrics). */
  onLimited?: (req: Req, decision: Decision) => MaybePromise<void>;
  /**
   * Which rate-limit headers to send; see `HeadersMode`.
   * @default 'draft-8'
   */
  headers?: HeadersMode;
  /**
   * IPv6 prefix length that groups the default key (a client usually owns a whole /56 or /64),
   * 1..128, or false to key each IPv6 address alone. IPv4 and IPv4-mapped IPv6 are never grouped.
   * @default 56
   */
  ipv6Subnet?: number | false;
  /**
   * The limiter's name: the draft-8 policy name and, unless `prefix` is given, the key prefix
   * `<name>:`, so limiters sharing a store never count each other's requests.
   * @default none (policy name `<limit>-in-<window>`, no prefix)
   */
  name?: string;
  /**
   * Sets this limiter's keys apart from other limiters' on the same store (overrides the prefix
   * derived from `name`). Keys are stored as `storeKey(prefix, key)` (`~4:api:alice` for prefix
   * `api:`), which no other prefix and key can spell; with no prefix, a key is stored as it is.
   * @default `<name>:` when `name` is set, else ''
   */
  prefix?: string;
  /**
   * When `check()` rejects: `'allow'` lets the request through, `'deny'` answers 503, a function
   * decides per error. Every distinct error code is reported once with `process.emitWarning`.
   * Store outages are normally decided by the limiter's own `failureMode` (set it through
   * `limiterOptions`), which answers with a decision instead of rejecting; this is the last line
   * for what still rejects (a closed limiter, a custom store or limiter that throws).
   * @default 'allow'
   */
  onStoreError?: StoreErrorAction | ((error: unknown, req: Req) => MaybePromise<StoreErrorAction>);
  /**
   * A request whose client address cannot be determined (behind a Unix socket with trust proxy off
   * or `'loopback'`, say) when keyed by IP: `'skip'` (through, uncounted), `'deny'` (503) or `'pool'`
   * (one key shared by all such requests, so one client can lock out the others). Reported once.
   * @default 'skip': the cause is a setting that hits every request, where 'pool' lets one client
   * exhaust everyone's limit and 'deny' takes the site down; no client can make its own address unknown
   */
  unknownAddress?: UnknownAddressAction;
}

/** The outcome of one request, for the adapter to apply. */
export type HttpOutcome =
  /** Let it through untouched (skipped, allow-listed, or store failure with 'allow'). */
  | { kind: 'pass' }
  /** Allowed: write the headers, then continue. */
  | { kind: 'allowed'; headers: HeaderLine[]; info: RateLimitInfo }
  /** Limited (or store failure with 'deny'): write the headers, then the response (or call `handler`). */
  | { kind: 'limited'; headers: HeaderLine[]; info: RateLimitInfo | undefined; statusCode: number; body: LimitedBody };

/** One response header; `append` adds to a list header instead of replacing it. */
export interface HeaderLine {
  name: string;
  /** The name in lower case, as Node and Fastify key their header maps. */
  key: string;
  value: string;
  append: boolean;
}

/** A serialised response body with its content type. */
export interface LimitedBody {
  contentType: string;
  text: string;
}
