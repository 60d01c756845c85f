import type { Redis, RedisOptions } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { ErrorCodes, StoreError, rangeError, typeError } from '../errors';
import { redisShareFactor } from '../adaptive/redis-shared-factor';
import { redisHeartbeat } from '../faults/redis-heartbeat';
import { SAFE_REDIS_OPTIONS } from '../faults/redis-client-safety';
import type {
  Algorithm,
  ClientLimit,
  FactorProposal,
  LeaseRelease,
  Store,
  StoreCheckRequest,
  StoreDecision,
  StoreDeleteLimitRequest,
  StoreSetLimitRequest,
} from '../types';
import { checkKnownKeys, checkPlainObject, describe } from '../validate';
import type { RedisClientAdapter } from './redis/clients/adapter';
import { toRedisAdapter, type RedisClientLike } from './redis/clients/detect';
import { evalScript, luaScript, type LuaScript } from './redis/clients/lua-script';
import { decodeClientId, encodeClientId, KEY_SUFFIXES, limitsChannel } from './redis/key-encoding';
import { LimitSubscription } from './redis/limit-subscription';
import { describeEndpoint } from './redis/endpoint';
import { deleteLimitScript } from './redis/delete-limit-script';
import { CONNECT_WAIT_MS } from './redis/client-ready';
import { POLICY_META_SUFFIX, RedisPolicies } from './redis/redis-policies';
import { RESET_CLIENT, RESET_CLIENT_COMMAND } from './redis/reset-script';
import { isPolicyDefaults } from '../policies/policy-validation';
import type { ClientPolicyConfig, PolicyStore, StoreSettleRequest, StoreSetPoliciesRequest, TierTable } from '../policies/policy-types';
import { CHECK_COMMANDS as COMMANDS, CheckBatcher, DEFAULT_MAX_BATCH, type ScriptArg } from './redis/check-batcher';
import { SET_LIMIT, SLIDING_COUNTER_RELEASE, SLIDING_LOG_RELEASE, SLIDING_WINDOW_RELEASE } from './redis/scripts';

/** Where a RedisStore takes the time of a check that carries no timestamp. */
export type RedisStoreClock = 'caller' | 'redis';

/** Options of `RedisStore`. */
export interface RedisStoreOptions {
  /**
   * The Redis client the application already has: an ioredis 5 or 6 `Redis` (standalone or
   * Sentinel) or `Cluster`, an iovalkey one, a node-redis 4 or 5 client (`createClient`), cluster
   * (`createCluster`) or sentinel (`createSentinel`), or a `RedisClientAdapter` for any other client
   * (docs/redis-clients.md). The user owns it: `close()` leaves it open. A node-redis client must be
   * connected (`await client.connect()`) by its owner.
   */
  client: RedisClientLike;
  /**
   * Prepended to every key and to the pub/sub channel (`${prefix}limits`). May not contain '{' or
   * '}', which would break the per-client hash tag.
   * @default 'slidegate:'
   */
  prefix?: string;
  /**
   * The clock of a check without a timestamp.
   * - `'caller'`: the limiter's `now()` on each instance. Decisions use the caller's timestamps as
   *   given (the seed's API; tests and replays can pass any time). Instances whose clocks drift
   *   disagree on the window by the drift; a client's clock never runs backwards, so an instance
   *   running ahead moves that client's window forward for everyone.
   * - `'redis'`: Redis `TIME`, read inside the script, so every instance shares one clock and host
   *   drift does not matter. Checks that pass a timestamp still use it. On a Cluster each slot's
   *   master has its own clock, which is harmless because a client lives on one slot; after a
   *   failover, the new master's clock applies (its skew shifts that client's window).
   * @default 'caller'
   */
  clock?: RedisStoreClock;
  /**
   * Client limits cached for `getLimit()` (decisions never need the cache: the script reads the
   * limit itself). Entries are dropped when a change is announced on the channel.
   * @default 10_000
   */
  limitCacheSize?: number;
  /**
   * The most checks sent in one script call. Checks made in the same turn of the event loop
   * (requests in flight at once) go to Redis together when it ends, as one EVALSHA that decides them in order,
   * exactly as separate calls would; a lone check goes alone. 1 sends every check as its own call.
   * @default 128
   */
  maxBatch?: number;
}

/** Options of `RedisStore.fromUrl`: the store's options, plus those of the client it creates. */
export interface RedisStoreUrlOptions extends Omit<RedisStoreOptions, 'client'> {
  /**
   * Options for the ioredis client the store creates (and closes), over `SAFE_REDIS_OPTIONS`.
   * @default SAFE_REDIS_OPTIONS
   */
  redisOptions?: RedisOptions;
}

export const DEFAULT_REDIS_PREFIX = 'slidegate:';
const DEFAULT_LIMIT_CACHE_SIZE = 10_000;
const KNOWN_OPTIONS = ['client', 'prefix', 'clock', 'limitCacheSize', 'maxBatch'] as const;
const MAX_MAX_BATCH = 1000;
const CLOCKS: readonly RedisStoreClock[] = ['caller', 'redis'];

const SET_LIMIT_SCRIPT = luaScript('slidegateSetLimitV3', SET_LIMIT, 5);
const DELETE_LIMIT_SCRIPT = luaScript('slidegateDeleteLimitV1', deleteLimitScript(SET_LIMIT), 5);
const RESET_CLIENT_SCRIPT = luaScript(RESET_CLIENT_COMMAND, RESET_CLIENT, 5);
const RELEASE_SCRIPTS: Record<Algorithm, LuaScript> = {
  'sliding-window': luaScript(COMMANDS['sliding-window'].release, SLIDING_WINDOW_RELEASE, 2),
  'sliding-log': luaScript(COMMANDS['sliding-log'].release, SLIDING_LOG_RELEASE, 3),
  'sliding-counter': luaScript(COMMANDS['sliding-counter'].release, SLIDING_COUNTER_RELEASE, 2),
};

/** A cached answer of getLimit(): the client's own limit or none. */
interface CachedLimit {
  limit: ClientLimit | undefined;
}

/**
 * The shared store: every instance that uses the same Redis agrees on every client's window. Each
 * check is one EVALSHA of an atomic Lua script that resolves the client's limit, applies a lease
 * release, decides, records and computes every decision field from one snapshot.
 */
export class RedisStore implements Store, PolicyStore {
  readonly hasOwnClock: boolean;
  /** Shared by every instance on the same Redis: leases and the denial cache are on by default (see `Store.shared`). */
  readonly shared = true;
  readonly prefix: string;
  readonly #redis: RedisClientAdapter;
  /** Where the client connects, for failure messages (`Store.endpoint`); undefined for a hand-written adapter. */
  readonly #endpoint: string | undefined;
  readonly #ownsClient: boolean;
  readonly #cache: LRUCache<string, CachedLimit>;
  readonly #batcher: CheckBatcher;
  readonly #listeners = new Set<(clientId: string | undefined) => void>();
  #subscription: LimitSubscription | undefined;
  /** Bumped on every invalidation, so a getLimit() read that raced one is not cached. */
  #generation = 0;
  #closed = false;
  /** Policy mode (several policies per client, tiers, settle): created on first use. */
  #policies: RedisPolicies | undefined;

  constructor(options: RedisStoreOptions) {
    const o = checkPlainObject(options, 'RedisStore options');
    checkKnownKeys(o, KNOWN_OPTIONS, 'RedisStore options');
    // The one place that tells the clients apart; past it every client is the same adapter.
    this.#redis = toRedisAdapter(o.client);
    this.#endpoint = describeEndpoint(o.client);
    this.prefix = checkPrefix(o.prefix ?? DEFAULT_REDIS_PREFIX);
    this.hasOwnClock = checkClock(o.clock ?? 'caller') === 'redis';
    const cacheSize = checkCacheSize(o.limitCacheSize ?? DEFAULT_LIMIT_CACHE_SIZE);
    this.#cache = new LRUCache<string, CachedLimit>({ max: cacheSize });
    this.#batcher = new CheckBatcher(this.#redis, checkMaxBatch(o.maxBatch ?? DEFAULT_MAX_BATCH));
    this.#ownsClient = (options as { [OWNS_CLIENT]?: boolean })[OWNS_CLIENT] === true;
  }

  /** A store over a client it creates from `url` (redis://, rediss://) and closes in `close()`. */
  static fromUrl(url: string, options: RedisStoreUrlOptions = {}): RedisStore {
    if (typeof url !== 'string') {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        `slidegate: RedisStore.fromUrl url must be a string; got ${describe(url)}` +
          (url === undefined ? " (is REDIS_URL set? Pass a URL such as 'redis://127.0.0.1:6379', or no store to keep limits in this process)" : ''),
      );
    }
    const o = checkPlainObject(options, 'RedisStore.fromUrl options');
    checkKnownKeys(o, ['prefix', 'clock', 'limitCacheSize', 'maxBatch', 'redisOptions'], 'RedisStore.fromUrl options');
    const { redisOptions, ...storeOptions } = options;
    if (redisOptions !== undefined) checkPlainObject(redisOptions, 'RedisStore.fromUrl options.redisOptions');
    // The safe settings first (no offline queue, no re-sending after a reconnect); the caller's win.
    const client = new (loadIoredis().Redis)(url, { ...SAFE_REDIS_OPTIONS, ...redisOptions });
    // Without a listener ioredis prints every failed reconnect (twice a second through an outage).
    // Failures reach the limiters' onError instead: by default once per code, and once on recovery.
    client.on('error', () => undefined);
    try {
      return new RedisStore({ ...storeOptions, client, [OWNS_CLIENT]: true } as RedisStoreOptions);
    } catch (error) {
      client.disconnect();
      throw error;
    }
  }

  /**
   * Resolves once the Redis client is connected and ready, at once if it is; rejects with a StoreError
   * (`ERR_SLIDEGATE_STORE_CONNECTION`) if it is not within `timeoutMs`, or if the connection has ended. Optional:
   * writes (`updateLimit`, ...) wait up to 0.9 s for a connecting client by themselves, and checks decide in
   * fallback until Redis answers; `await store.ready()` at start-up is for a service that would rather not
   * take traffic before then.
   * @param timeoutMs @default 10_000
   */
  ready(timeoutMs = 10_000): Promise<void> {
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(rangeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: RedisStore.ready timeoutMs must be a finite number >= 0; got ${describe(timeoutMs)}`));
    }
    if (this.#closed) return Promise.reject(new StoreError('slidegate: RedisStore is not ready: it was closed', { code: ErrorCodes.STORE_CONNECTION }));
    return this.#redis.ready?.(timeoutMs) ?? Promise.resolve();
  }

  async check(request: StoreCheckRequest): Promise<StoreDecision> {
    const tag = this.#tag(request.clientId);
    const { defaults, algorithm, release } = request;
    if (isPolicyDefaults(defaults)) return this.#policyMode().check(tag, request, defaults);
    const keys = checkKeys(tag, algorithm);
    // The script's ARGV (CHECK_ARGS in scripts.ts); trailing arguments at their usual value are left
    // out, since every argument costs both ends (encoding, parsing, a Lua string).
    const args: ScriptArg[] = [request.timestamp === undefined ? '' : request.timestamp, defaults.limit, defaults.windowSeconds, request.bucketMs ?? 0];
    if (release !== undefined) {
      args.push(request.cost, request.limitFactor, request.extra, release.at, release.units);
      if (release.clock !== undefined) args.push(release.clock);
    }
    else if (request.extra !== 0) args.push(request.cost, request.limitFactor, request.extra);
    else if (request.limitFactor !== 1) args.push(request.cost, request.limitFactor);
    else if (request.cost !== 1) args.push(request.cost);
    return this.#batcher.check(algorithm, keys, args);
  }

  async release(clientId: string, algorithm: Algorithm, release: LeaseRelease, defaults: ClientLimit): Promise<void> {
    const tag = this.#tag(clientId);
    if (isPolicyDefaults(defaults)) return this.#policyMode().adjust(tag, release.at, -release.units, defaults, 1);
    // Timestamp 0 (never read) spares a TIME call; cost and extra are unused by release scripts, and
    // so is bucketMs (units are released from the bucket width they were recorded with).
    const args = checkKeys(tag, algorithm);
    args.push(0, defaults.limit, defaults.windowSeconds, 0, 0, 1, 0, release.at, release.units);
    if (release.clock !== undefined) args.push(release.clock);
    await this.#run(RELEASE_SCRIPTS[algorithm], args);
  }

  /** Forgets the client's counts and clock under every algorithm and in policy mode (`Store.reset`); its own limit stays. */
  async reset(clientId: string): Promise<void> {
    const tag = this.#tag(clientId);
    const k = KEY_SUFFIXES;
    await this.#run(RESET_CLIENT_SCRIPT, [tag + k.slidingWindow, tag + k.slidingLog, tag + k.slidingLogMeta, tag + k.slidingCounter, tag + POLICY_META_SUFFIX, tag]);
  }

  async getLimit(clientId: string): Promise<ClientLimit | undefined> {
    this.#subscribe();
    const cached = this.#cache.get(clientId);
    if (cached !== undefined) return copy(cached.limit);
    const generation = this.#generation;
    let reply: unknown;
    await this.#connected();
    try {
      const key = this.#tag(clientId) + KEY_SUFFIXES.config;
      reply = await this.#redis.send(['HMGET', key, 'L', 'W'], { key });
    } catch (error) {
      throw new StoreError(`slidegate: RedisStore getLimit failed: ${(error as Error).message}`, { cause: error });
    }
    const limit = decodeLimit(reply);
    if (generation === this.#generation && this.#subscription?.subscribed === true) this.#cache.set(clientId, { limit });
    return copy(limit);
  }

  async setLimit(request: StoreSetLimitRequest): Promise<void> {
    // Policy mode: a single limit is a list of one.
    if (isPolicyDefaults(request.defaults)) return this.setPolicies({ clientId: request.clientId, config: { policies: [{ ...request.limit }] } });
    await this.#run(SET_LIMIT_SCRIPT, this.#setLimitArgs(request));
    // This instance learns at once; the others through the channel (so do we, a second time).
    this.#invalidate(request.clientId);
  }

  /**
   * Removes the client's own limit (policy mode: its config) in one script: the window-change rule
   * back to the defaults, as SET_LIMIT applies it, then the config key goes and the change is
   * published, so no check sees one without the other.
   */
  async deleteLimit(request: StoreDeleteLimitRequest): Promise<void> {
    if (isPolicyDefaults(request.defaults)) return this.setPolicies({ clientId: request.clientId, config: {} });
    await this.#run(DELETE_LIMIT_SCRIPT, this.#setLimitArgs({ ...request, limit: request.defaults }));
    this.#invalidate(request.clientId);
  }

  /** KEYS and ARGV of SET_LIMIT. */
  #setLimitArgs(request: StoreSetLimitRequest): ScriptArg[] {
    const tag = this.#tag(request.clientId);
    return [
      tag + KEY_SUFFIXES.config,
      tag + KEY_SUFFIXES.slidingWindow,
      tag + KEY_SUFFIXES.slidingLog,
      tag + KEY_SUFFIXES.slidingLogMeta,
      tag + KEY_SUFFIXES.slidingCounter,
      request.algorithm,
      request.limit.limit,
      request.limit.windowSeconds,
      request.defaults.windowSeconds,
      limitsChannel(this.prefix),
      encodeClientId(request.clientId),
      request.bucketMs ?? 0,
    ];
  }

  /** Policy mode: replaces the client's whole policy config and announces it like a limit change. */
  async setPolicies(request: StoreSetPoliciesRequest): Promise<void> {
    await this.#policyMode().setPolicies(this.#tag(request.clientId), request);
    this.#invalidate(request.clientId);
  }

  getPolicies(clientId: string): Promise<ClientPolicyConfig | undefined> {
    return this.#policyMode().getPolicies(this.#tag(clientId));
  }

  /** Policy mode: refunds (units < 0) or charges (units > 0) at time `at` (ms), in every policy whose window still holds it. */
  settle(request: StoreSettleRequest): Promise<void> {
    return this.#policyMode().settle(this.#tag(request.clientId), request);
  }

  setTier(name: string, policies: ClientLimit[] | undefined): Promise<void> {
    return this.#policyMode().setTier(name, policies);
  }

  getTiers(): Promise<TierTable> {
    return this.#policyMode().getTiers();
  }

  onTierChange(listener: () => void): () => void {
    return this.#policyMode().onTierChange(listener);
  }

  /** `Store.heartbeat`: the live-instance count for the `'local'` failure mode's share. */
  async heartbeat(instanceId: string, ttlSeconds: number): Promise<number> {
    // No ':suffix', so this key can never equal a client's key (those always end in one).
    return redisHeartbeat(this.#evalClient(), `${this.prefix}{instances}`, instanceId, ttlSeconds);
  }

  /** `Store.endpoint`: where the client connects (host and port, never a password), for failure messages. */
  get endpoint(): string | undefined {
    return this.#endpoint;
  }

  /** `Store.shareFactor`: the smallest live load-adaptive factor of the group. */
  async shareFactor(proposal: FactorProposal): Promise<number> {
    const key = `${this.prefix}{adaptive:${encodeClientId(proposal.group)}}`;
    return redisShareFactor(this.#evalClient(), key, proposal.instanceId, proposal.factor, proposal.ttlSeconds);
  }

  onLimitChange(listener: (clientId: string | undefined) => void): () => void {
    this.#subscribe();
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Closes the subscriber connection, and the client when the store created it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscription?.close();
    this.#subscription = undefined;
    this.#policies?.close();
    this.#listeners.clear();
    this.#cache.clear();
    if (this.#ownsClient) await this.#redis.close?.();
  }

  /** Names the client this store talks to, e.g. `'node-redis 5 cluster'` (for logs and tests). */
  get clientName(): string {
    return this.#redis.name;
  }

  /**
   * The subscriber connection, once getLimit() or onLimitChange() started it (for tests): an
   * ioredis `Redis` when the client is ioredis or iovalkey, the client's own connection otherwise.
   */
  get subscriberConnection(): Redis | undefined {
    return this.#subscription?.connection as Redis | undefined;
  }

  /** True while the limit-change subscription is confirmed by the server (getLimit() caches only then). */
  get subscribed(): boolean {
    return this.#subscription?.subscribed === true;
  }

  #policyMode(): RedisPolicies {
    return (this.#policies ??= new RedisPolicies(this.#redis, this.prefix, (script, args) => this.#run(script, args)));
  }

  /** The `eval` that the heartbeat and the shared factor use (one key each: it routes the call). */
  #evalClient(): { eval(script: string, numberOfKeys: number, ...args: (string | number)[]): Promise<unknown> } {
    return { eval: (script, numberOfKeys, ...args) => this.#redis.send(['EVAL', script, numberOfKeys, ...args], { key: String(args[0]) }) };
  }

  /** `${prefix}{encoded id}:`, the start of every key of the client. */
  #tag(clientId: string): string {
    return `${this.prefix}{${encodeClientId(clientId)}}:`;
  }

  /** Waits (bounded) for a client that is still connecting: see `RedisClientAdapter.ready`. Checks never wait: they fall back. */
  async #connected(): Promise<void> {
    if (this.#redis.ready !== undefined) await this.#redis.ready(CONNECT_WAIT_MS);
  }

  async #run(script: LuaScript, args: ScriptArg[]): Promise<unknown> {
    await this.#connected();
    try {
      return await evalScript(this.#redis, script, args);
    } catch (error) {
      throw new StoreError(`slidegate: RedisStore ${script.name} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  #subscribe(): void {
    if (this.#subscription !== undefined || this.#closed) return;
    this.#subscription = new LimitSubscription(this.#redis, limitsChannel(this.prefix), {
      onMessage: (message) => this.#invalidate(decodeClientId(message)),
      onDesync: () => {
        this.#generation++;
        this.#cache.clear();
      },
      onResync: () => {
        this.#generation++;
        this.#cache.clear();
        this.#notify(undefined);
      },
    });
  }

  #invalidate(clientId: string): void {
    this.#generation++;
    this.#cache.delete(clientId);
    this.#notify(clientId);
  }

  #notify(clientId: string | undefined): void {
    for (const listener of this.#listeners) listener(clientId);
  }
}

/** Marks a store made by fromUrl, without a public option that users could set by mistake. */
const OWNS_CLIENT = Symbol('slidegate.ownsClient');

/** A new argument list that starts with the KEYS of an algorithm's scripts: state key, config key, then (log only) the meta key. */
function checkKeys(tag: string, algorithm: Algorithm): ScriptArg[] {
  switch (algorithm) {
    case 'sliding-window':
      return [tag + KEY_SUFFIXES.slidingWindow, tag + KEY_SUFFIXES.config];
    case 'sliding-log':
      return [tag + KEY_SUFFIXES.slidingLog, tag + KEY_SUFFIXES.config, tag + KEY_SUFFIXES.slidingLogMeta];
    default:
      return [tag + KEY_SUFFIXES.slidingCounter, tag + KEY_SUFFIXES.config];
  }
}

function decodeLimit(reply: unknown): ClientLimit | undefined {
  if (!Array.isArray(reply)) throw new StoreError('slidegate: RedisStore got an unexpected config reply', { code: ErrorCodes.STORE_BAD_REPLY });
  const [limit, windowSeconds] = reply as (string | null)[];
  if (limit == null || windowSeconds == null) return undefined;
  return { limit: Number(limit), windowSeconds: Number(windowSeconds) };
}

function copy(limit: ClientLimit | undefined): ClientLimit | undefined {
  return limit === undefined ? undefined : { ...limit };
}

/**
 * ioredis, loaded only when slidegate makes a client itself: an application on the in-process store
 * never loads it. Loading it at startup costs every request of a Fastify server on Node 20: it leaves
 * V8's `process.nextTick` on a slow path (bench/http-headers-cost.mjs).
 */
function loadIoredis(): typeof import('ioredis') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy, see above
  return require('ioredis') as typeof import('ioredis');
}

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: RedisStore options.prefix must be a string; got ${describe(prefix)}`);
  if (/[{}]/.test(prefix)) {
    throw rangeError(
      ErrorCodes.INVALID_OPTION,
      `slidegate: RedisStore options.prefix may not contain '{' or '}' (they would break the per-client Cluster hash tag); got ${describe(prefix)}`,
    );
  }
  return prefix;
}

function checkClock(clock: unknown): RedisStoreClock {
  const expected = CLOCKS.map((c) => `'${c}'`).join(' or ');
  if (typeof clock !== 'string') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: RedisStore options.clock must be ${expected}; got ${describe(clock)}`);
  if (!(CLOCKS as readonly string[]).includes(clock)) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: RedisStore options.clock must be ${expected}; got ${describe(clock)}`);
  }
  return clock as RedisStoreClock;
}

function checkMaxBatch(size: unknown): number {
  const message = `slidegate: RedisStore options.maxBatch must be an integer from 1 (no batching) to ${MAX_MAX_BATCH}; got ${describe(size)}`;
  if (typeof size !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, message);
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_MAX_BATCH) throw rangeError(ErrorCodes.INVALID_OPTION, message);
  return size;
}

function checkCacheSize(size: unknown): number {
  const message = `slidegate: RedisStore options.limitCacheSize must be an integer >= 1; got ${describe(size)}`;
  if (typeof size !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, message);
  if (!Number.isSafeInteger(size) || size < 1) throw rangeError(ErrorCodes.INVALID_OPTION, message);
  return size;
}
