import { ErrorCodes, typeError } from '../errors';
import type { RateLimiter } from '../rate-limiter';
import type { ClientLimit, Decision, Store } from '../types';
import { checkCost, describe } from '../validate';
import { storeKey } from './store-key';
import { ipKey, isIpAddress, normalizeIp } from './client-ip';
import { RateLimitHeaders, retryAfterHeader } from './headers';
import { RequestRateLimit } from './rate-limit-info';
import { limitedBody, parseHttpOptions, storeErrorActionOf, type ParsedHttpOptions } from './parse-http-options';
import type { TrustProxySetting } from './platform-access';
import type { HeaderLine, HttpOutcome, HttpRateLimitOptions, LimitedBody, RateLimitControls, RateLimitInfo, StoreErrorAction } from './types';

/** What an adapter tells the shared layer about its framework's requests. */
export interface RequestAccess<Req> {
  /** The client address as the framework resolves it (trust-proxy aware), if known. */
  ip(req: Req): string | undefined;
  /** True when the request carries X-Forwarded-For but the framework's trust proxy is off. */
  forwardedForIgnored(req: Req): boolean;
  /**
   * True when trust proxy takes the client address from the left end of X-Forwarded-For, which
   * any client can write (Express `'trust proxy': true`, Koa `proxy` without `maxIpsCount`,
   * Fastify `trustProxy: true`; see `trustsAnyProxy`).
   */
  permissiveProxy?(req: Req): boolean;
  /** The address of the connecting peer (the socket's), when the framework's `ip` is not an IP address. */
  socketAddress?(req: Req): string | undefined;
  /**
   * How this framework trusts proxies, for the warnings (see `TRUST_PROXY_SETTINGS`).
   * @default the Express, Koa and Fastify settings together
   */
  proxySetting?(req: Req): TrustProxySetting | undefined;
}

/** What the warnings name when the adapter does not say which framework it serves. */
const ANY_PROXY_SETTING: TrustProxySetting = {
  trust:
    "Express: app.set('trust proxy', '10.0.0.0/8'); Koa: app.proxy = true with app.maxIpsCount = <number of proxies>; " +
    "Fastify: Fastify({ trustProxy: '10.0.0.0/8' }); or the number of proxies",
  hop: "Express: app.set('trust proxy', 1); Koa: app.proxy = true, app.maxIpsCount = 1; Fastify: trustProxy: (address, hop) => hop < 1",
};

const PASS: HttpOutcome = { kind: 'pass' };
/** The shared key of requests without a client address, with `unknownAddress: 'pool'`. */
const UNKNOWN_ADDRESS_KEY = 'unknown-ip';
const UNKNOWN_ADDRESS_BODY: LimitedBody = { contentType: 'text/plain; charset=utf-8', text: 'Rate limiter cannot tell who the client is.' };
const UNKNOWN_ADDRESS_EFFECT = {
  skip: 'such requests pass unlimited and uncounted',
  deny: 'such requests are refused with 503',
  pool: 'such requests share one key, so one client can use up the limit of all',
} as const;
const STORE_DOWN_BODY: LimitedBody = { contentType: 'text/plain; charset=utf-8', text: 'Rate limiter unavailable, please try again later.' };
/** Stores that an inline-configured HTTP limiter already uses, with the prefixes in use on each. */
const prefixesByStore = new WeakMap<Store, Set<string>>();
/**
 * draft-7, draft-6 and legacy headers hold one limit: of stacked limiters on one request, the one with
 * the fewest units left is sent (the one closest to limiting it). Keyed by the request object.
 */
const stateHeadersSent = new WeakMap<object, number>();

/**
 * The framework-neutral half of every adapter: parses the options once, then turns a request
 * into an outcome (pass, allowed with headers, or limited with headers and a body). Adapters
 * only read the request and write the response.
 */
export class HttpLimiter<Req, Handler = never, Res = never> {
  readonly #o: ParsedHttpOptions<Req, Handler>;
  /** True when headers describe one limit only (draft-7, draft-6, legacy), so stacked limiters pick one. */
  readonly #oneLimitHeaders: boolean;
  readonly #access: RequestAccess<Req>;
  readonly #label: string;
  readonly #headers: RateLimitHeaders;
  readonly #warned = new Set<string>();
  /** False once the warning was given: each request then skips the check. */
  #checkXff = true;
  #checkPermissive = true;
  /** The last client address and its key: a client's requests tend to come in runs (keep-alive). */
  #lastIp: string | undefined;
  #lastIpKey: string | undefined;

  constructor(options: HttpRateLimitOptions<Req, Handler, Res> | undefined, access: RequestAccess<Req>, label: string, adapterOptionNames: readonly string[] = []) {
    this.#o = parseHttpOptions(options as HttpRateLimitOptions<Req, Handler>, label, adapterOptionNames);
    const mode = this.#o.headers;
    this.#oneLimitHeaders = mode === 'draft-7' || mode === 'draft-6' || mode === 'legacy';
    this.#access = access;
    this.#label = label;
    this.#headers = new RateLimitHeaders(this.#o.headers, this.#o.name);
    this.#claimKeySpace();
  }

  /** The limiter that decides; use it for `updateLimit` with keys from `keyFor`. */
  get limiter(): RateLimiter {
    return this.#o.limiter;
  }

  /** The custom limited-response handler, if one was given. */
  get handler(): Handler | undefined {
    return this.#o.handler;
  }

  /** The store key of a client key: the prefix framed by its length, over-long keys hashed (see `storeKey`). */
  keyFor(clientKey: string): string {
    return storeKey(this.#o.prefix, clientKey);
  }

  /** Gives one client key (as the key generator returns it) its own limit, at run time. */
  updateLimit(clientKey: string, limit: number, windowSeconds: number): Promise<void> {
    return this.#o.limiter.updateLimit(this.keyFor(clientKey), limit, windowSeconds);
  }

  /** Removes one client key's own limit: the limiter's default applies again (`RateLimiter.deleteLimit`). */
  deleteLimit(clientKey: string): Promise<void> {
    return this.#o.limiter.deleteLimit(this.keyFor(clientKey));
  }

  /** The limit that applies to one client key. */
  getLimit(clientKey: string): Promise<ClientLimit> {
    return this.#o.limiter.getLimit(this.keyFor(clientKey));
  }

  /**
   * Forgets one client key's counts (as the key generator returns it). Never rejects, since callers
   * often do not await it: a failure is reported with `process.emitWarning` (SLIDEGATE_RESET_FAILED).
   */
  resetKey(clientKey: string): Promise<void> {
    return resetQuietly(this.#o.limiter, this.keyFor(clientKey), clientKey);
  }

  /** The run-time controls an adapter attaches to its middleware, bound to this limiter. */
  controls(): RateLimitControls {
    return {
      limiter: this.limiter,
      updateLimit: (clientKey, limit, windowSeconds) => this.updateLimit(clientKey, limit, windowSeconds),
      deleteLimit: (clientKey) => this.deleteLimit(clientKey),
      getLimit: (clientKey) => this.getLimit(clientKey),
      resetKey: (clientKey) => this.resetKey(clientKey),
      close: () => this.close(),
    };
  }

  /** True when finished requests may give their unit back (skipFailedRequests or skipSuccessfulRequests). */
  get settles(): boolean {
    return this.#o.skipFailedRequests || this.#o.skipSuccessfulRequests;
  }

  /**
   * Called by the adapter once an allowed request's response is done (when `settles`): gives back the
   * unit it recorded if the options say it should not count. `statusCode` undefined: the connection
   * closed before the response ended (a failure). Never rejects; a failure is reported as a warning.
   */
  settle(req: Req, res: Res, info: RateLimitInfo, statusCode: number | undefined): Promise<void> {
    const o = this.#o;
    const judge = o.requestWasSuccessful;
    // Inside the chain, so a requestWasSuccessful that throws becomes a warning, never an exception in a response event.
    return Promise.resolve()
      .then(() => (statusCode === undefined ? false : judge === undefined ? statusCode < 400 : judge(req, res as never)))
      .then((ok) => {
        if (ok === true ? o.skipSuccessfulRequests : o.skipFailedRequests) return o.limiter.release(info.key, info.decision, (info as RequestRateLimit).cost ?? 1);
        return undefined;
      })
      .catch((error: unknown) => {
        this.#warnOnce(`settle:${String((error as { code?: unknown } | null)?.code)}`, 'SLIDEGATE_SETTLE_FAILED', `slidegate: a finished request's unit could not be given back (${this.#label}.skipFailedRequests / skipSuccessfulRequests): ${String(error)}`);
      });
  }

  /** Closes the limiter if these options created it (a shared `limiter` is left open). */
  async close(): Promise<void> {
    if (this.#o.ownsLimiter) await this.#o.limiter.close();
  }

  /**
   * Decides one request. Rejects only when a user callback (keyGenerator, cost, skip, allowList,
   * onLimited, message, onStoreError) throws or returns a bad value; a store failure never rejects.
   */
  async evaluate(req: Req): Promise<HttpOutcome> {
    return this.decide(req);
  }

  /**
   * `evaluate` without a promise when none is needed: the outcome itself when every user callback
   * answers synchronously and the limiter decides in-process (MemoryStore), else a promise of it. A
   * user callback that throws synchronously throws here; adapters send both to the framework's error path.
   */
  decide(req: Req): HttpOutcome | Promise<HttpOutcome> {
    const skip = this.#o.skip;
    if (skip === undefined) return this.#fromKey(req);
    return andThen(skip(req), (skipped) => (skipped ? PASS : this.#fromKey(req)));
  }

  #fromKey(req: Req): HttpOutcome | Promise<HttpOutcome> {
    const o = this.#o;
    if (o.keyGenerator === undefined) {
      let ip = this.#access.ip(req);
      if (this.#checkXff && this.#access.forwardedForIgnored(req)) this.#warnXff(req);
      if (this.#checkPermissive && this.#access.permissiveProxy?.(req) === true) this.#warnPermissive(req);
      let key = ip === undefined ? undefined : this.#ipKey(ip);
      if (key === undefined && ip !== undefined) {
        // Not an IP address: a value written into a trusted X-Forwarded-For position, never used as a
        // key verbatim. The connecting peer is the nearest address known to be real.
        this.#warnNotAnIp(ip);
        ip = this.#access.socketAddress?.(req);
        key = ip === undefined ? undefined : this.#ipKey(ip);
      }
      if (key === undefined) return this.#unknownAddress(req);
      return this.#fromAllowList(req, key, ip);
    }
    return andThen(o.keyGenerator(req), (key) => this.#fromAllowList(req, checkKey(key, `${this.#label}.keyGenerator() result`), undefined));
  }

  /** The key of an address; undefined when it is not an IP address. */
  #ipKey(ip: string): string | undefined {
    if (ip !== this.#lastIp) {
      this.#lastIpKey = isIpAddress(ip) ? ipKey(ip, this.#o.ipv6Subnet) : undefined;
      this.#lastIp = ip;
    }
    return this.#lastIpKey;
  }

  /** A request whose client address cannot be determined: never pooled silently (`unknownAddress`). */
  #unknownAddress(req: Req): HttpOutcome | Promise<HttpOutcome> {
    const action = this.#o.unknownAddress;
    const hop = this.#proxySetting(req).hop;
    this.#warnOnce(
      'unknown-address',
      'SLIDEGATE_UNKNOWN_CLIENT_ADDRESS',
      `slidegate: a request came without a client address (a Unix socket, or a proxy chain that trust proxy does not cover), so ` +
        `it cannot be limited by IP; ${UNKNOWN_ADDRESS_EFFECT[action]} (${this.#label}.unknownAddress). ` +
        `${hop === undefined ? 'Give' : `Behind a proxy on a Unix socket, trust it by hop count (${hop}), or give`} a keyGenerator. Reported once.`,
    );
    if (action === 'skip') return PASS;
    if (action === 'deny') return { kind: 'limited', headers: [], info: undefined, statusCode: 503, body: UNKNOWN_ADDRESS_BODY };
    return this.#fromAllowList(req, UNKNOWN_ADDRESS_KEY, undefined);
  }

  #warnNotAnIp(value: string): void {
    this.#warnOnce(
      'not-an-ip',
      'SLIDEGATE_CLIENT_ADDRESS_NOT_IP',
      `slidegate: the client address the framework gave is not an IP address (${describe(value)}), so it came from a trusted ` +
        `X-Forwarded-For position that a client wrote; it is keyed by the connecting peer's address instead. Trust only as many ` +
        `proxies as you have. Reported once.`,
    );
  }

  #fromAllowList(req: Req, clientKey: string, ip: string | undefined): HttpOutcome | Promise<HttpOutcome> {
    const list = this.#o.allowList;
    if (list === undefined) return this.#fromCost(req, clientKey);
    if (typeof list !== 'function') return list.has(clientKey) || (ip !== undefined && list.has(normalizeIp(ip))) ? PASS : this.#fromCost(req, clientKey);
    return andThen(list(req, clientKey), (listed) => (listed === true ? PASS : this.#fromCost(req, clientKey)));
  }

  #fromCost(req: Req, clientKey: string): HttpOutcome | Promise<HttpOutcome> {
    const cost = this.#o.cost;
    if (typeof cost === 'number') return this.#check(req, clientKey, cost);
    return andThen(cost(req), (units) => this.#check(req, clientKey, checkCost(units, `${this.#label}.cost() result`)));
  }

  #check(req: Req, clientKey: string, cost: number): HttpOutcome | Promise<HttpOutcome> {
    const limiter = this.#o.limiter;
    const key = this.keyFor(clientKey);
    let decision: Decision | undefined;
    try {
      // An in-process store decides here and now; any other store through its promise.
      decision = limiter.tryCheckSync(key, cost);
    } catch (error) {
      return this.#storeFailed(error, req);
    }
    if (decision !== undefined) return this.#outcome(req, clientKey, key, decision, cost);
    return limiter.check(key, { cost }).then(
      (d) => this.#outcome(req, clientKey, key, d, cost),
      (error: unknown) => this.#storeFailed(error, req),
    );
  }

  #outcome(req: Req, clientKey: string, key: string, decision: Decision, cost: number): HttpOutcome | Promise<HttpOutcome> {
    const o = this.#o;
    const headers = this.#oneLimitHeaders && !this.#closestToLimit(req, decision.remaining) ? [] : this.#headers.lines(decision, clientKey);
    const info = new RequestRateLimit(decision, key, o.statusCode, cost);
    if (decision.allowed) return { kind: 'allowed', headers, info };
    const retryAfter = retryAfterHeader(decision);
    if (retryAfter !== undefined) headers.push(retryAfter);
    return andThen(o.onLimited === undefined ? undefined : o.onLimited(req, decision), () => this.#limited(req, decision, headers, info));
  }

  #limited(req: Req, decision: Decision, headers: HeaderLine[], info: RateLimitInfo): HttpOutcome | Promise<HttpOutcome> {
    const { message, statusCode } = this.#o;
    if (typeof message !== 'function') return { kind: 'limited', headers, info, statusCode, body: message };
    return andThen(message(req, decision), (made): HttpOutcome => ({ kind: 'limited', headers, info, statusCode, body: limitedBody(made, `${this.#label}.message() result`) }));
  }

  /** True when no limiter before this one on the request sent one-limit headers with fewer units left. */
  #closestToLimit(req: Req, remaining: number): boolean {
    const holder = req as unknown as object;
    const sent = stateHeadersSent.get(holder);
    if (sent !== undefined && sent <= remaining) return false;
    stateHeadersSent.set(holder, remaining);
    return true;
  }

  #storeFailed(error: unknown, req: Req): HttpOutcome | Promise<HttpOutcome> {
    const policy = this.#o.onStoreError;
    if (typeof policy !== 'function') return this.#storeFailedWith(policy, error);
    return andThen(policy(error, req), (action) => this.#storeFailedWith(storeErrorActionOf(action, `${this.#label}.onStoreError() result`), error));
  }

  #storeFailedWith(action: StoreErrorAction, error: unknown): HttpOutcome {
    const code = (error as { code?: unknown } | null)?.code;
    const reason = typeof code === 'string' ? code : error instanceof Error ? error.name : typeof error;
    this.#warnOnce(
      `store:${reason}`,
      action === 'allow' ? 'SLIDEGATE_STORE_FAILED_OPEN' : 'SLIDEGATE_STORE_FAILED_CLOSED',
      `slidegate: the rate-limit store failed (${reason}: ${error instanceof Error ? error.message : String(error)}); ` +
        (action === 'allow' ? 'requests pass unlimited until it recovers' : 'requests are refused with 503 until it recovers') +
        ` (${this.#label}.onStoreError). Reported once per error code.`,
    );
    if (action === 'allow') return PASS;
    return { kind: 'limited', headers: [], info: undefined, statusCode: 503, body: STORE_DOWN_BODY };
  }

  #warnXff(req: Req): void {
    this.#checkXff = false;
    this.#warnOnce(
      'xff',
      'SLIDEGATE_XFF_IGNORED',
      `slidegate: a request carried X-Forwarded-For but the framework's trust proxy setting is off, so every client behind ` +
        `that proxy shares the proxy's address as its rate-limit key. If this server runs behind a proxy or load balancer, enable ` +
        `trust proxy for the proxy's addresses (${this.#proxySetting(req).trust}); if not, clients are spoofing the header and it is rightly ignored.`,
    );
  }

  #warnPermissive(req: Req): void {
    this.#checkPermissive = false;
    this.#warnOnce(
      'permissive',
      'SLIDEGATE_PERMISSIVE_TRUST_PROXY',
      `slidegate: trust proxy takes the client address from the left end of X-Forwarded-For, which any client can set, so ` +
        `a client can pick its own rate-limit key. Trust only your proxies (${this.#proxySetting(req).trust}).`,
    );
  }

  #proxySetting(req: Req): TrustProxySetting {
    return this.#access.proxySetting?.(req) ?? ANY_PROXY_SETTING;
  }

  #warnOnce(key: string, code: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    process.emitWarning(message, { code });
  }

  /** Two limiters with their own counts on one store must not share a prefix, or each counts the other's requests. */
  #claimKeySpace(): void {
    const store = this.#o.store;
    if (store === undefined) return;
    let prefixes = prefixesByStore.get(store);
    if (prefixes === undefined) prefixesByStore.set(store, (prefixes = new Set()));
    if (prefixes.has(this.#o.prefix)) {
      this.#warnOnce(
        'keyspace',
        'SLIDEGATE_KEY_SPACE_SHARED',
        `slidegate: two rate limiters use the same store with the same key prefix ${JSON.stringify(this.#o.prefix)}, so each counts ` +
          `the other's requests; give each a distinct ${this.#label}.name (or prefix), or share one limiter through ${this.#label}.limiter.`,
      );
    }
    prefixes.add(this.#o.prefix);
  }
}

/** `limiter.reset(key)` that never rejects: a failure becomes a process warning. */
export function resetQuietly(limiter: RateLimiter, key: string, shown: string): Promise<void> {
  return limiter.reset(key).catch((error: unknown) => {
    process.emitWarning(`slidegate: could not reset ${JSON.stringify(shown)}: ${error instanceof Error ? error.message : String(error)}`, { code: 'SLIDEGATE_RESET_FAILED' });
  });
}

/**
 * `next(value)`, after waiting for `value` only when it is a promise or other thenable (what `await`
 * would wait for): a synchronous callback's answer goes on synchronously, with no promise.
 */
function andThen<T, R>(value: T | PromiseLike<T>, next: (value: T) => R | Promise<R>): R | Promise<R> {
  if (isThenable(value)) return Promise.resolve(value).then(next);
  return next(value);
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function checkKey(key: unknown, name: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${name} must be a non-empty string; got ${describe(key)}`);
  }
  return key;
}
