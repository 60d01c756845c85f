export { RateLimiter } from './rate-limiter';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store';
export {
  RedisStore,
  DEFAULT_REDIS_PREFIX,
  type RedisStoreOptions,
  type RedisStoreUrlOptions,
  type RedisStoreClock,
} from './stores/redis-store';
export { ClusterStore, type ClusterStoreOptions } from './stores/cluster-store';
export { ClusterPrimary, type ClusterPrimaryOptions } from './stores/cluster/cluster-primary';
export { ClusterSocketServer, type ClusterSocketServerOptions } from './stores/cluster/socket-server';
export { parseOptions, DEFAULT_ALGORITHM } from './options';
export {
  ErrorCodes,
  SlidegateError,
  StoreError,
  StoreTimeoutError,
  ClosedError,
  type ErrorCode,
} from './errors';
export { MAX_WINDOW_SECONDS, MAX_CLIENT_ID_BYTES, MAX_TIMESTAMP, ALGORITHMS, checkLimit, checkWindowSeconds } from './validate';
// Fault tolerance: timeout, circuit breaker, failure modes, safe ioredis settings.
export {
  CircuitBreaker,
  DEFAULT_BREAKER_OPTIONS,
  type Breaker,
  type BreakerOpenEvent,
  type BreakerOpenReason,
  type BreakerPermit,
  type BreakerState,
  type CircuitBreakerOptions,
} from './faults/circuit-breaker';
export { ResilientStore, type ResilientStoreOptions } from './faults/resilient-store';
export { DEFAULT_TIMEOUT_MS, DEFAULT_FAILURE_MODE } from './faults/fault-options';
export { classifyStoreError } from './faults/store-errors';
export { SAFE_REDIS_OPTIONS, SAFE_CLUSTER_OPTIONS, SAFE_NODE_REDIS_OPTIONS, assertSafeRedisClient, unsafeRedisClientSettings } from './faults/redis-client-safety';
export type { RedisClientAdapter, RedisCommandArg, RedisSendOptions, RedisSubscriber, RedisSubscriberEvents } from './stores/redis/clients/adapter';
export type { RedisClientLike } from './stores/redis/clients/detect';
export { unsafeNodeRedisSettings } from './stores/redis/clients/detect';
export { redisHeartbeat, HEARTBEAT_SCRIPT } from './faults/redis-heartbeat';
// Metrics, the status page and load-adaptive limits.
export { LimiterMetrics, type MetricsSnapshot } from './metrics/limiter-metrics';
export { watchBreaker, type LimiterEvents, type BreakerEmitter } from './metrics/limiter-events';
export type { MetricsOptions, MetricsRegistry } from './metrics/metrics-options';
export { DEFAULT_METRICS_NAME } from './metrics/metrics-options';
export { renderMetrics, LATENCY_BUCKETS_SECONDS, BREAKER_STATE_VALUES } from './metrics/prometheus';
export { STATUS_PAGE_HTML, hashClientId, statusSnapshot, statusReport, type StatusOptions, type StatusSnapshot, type StatusReport } from './metrics/status-page';
export type { RatePoint } from './metrics/rate-history';
export type { TopClient } from './metrics/top-clients';
export { AdaptiveLimit } from './adaptive/adaptive-limit';
export { DEFAULT_ADAPTIVE, type AdaptiveOptions, type AdaptiveScope, type LoadSignal } from './adaptive/adaptive-options';
export { redisShareFactor, SHARE_FACTOR_SCRIPT } from './adaptive/redis-shared-factor';
// The shared HTTP layer of the adapters (@slidegate/express, koa, fastify, hono, nestjs).
export { HttpLimiter, resetQuietly, type RequestAccess } from './http/http-limiter';
export {
  NamedHttpLimits,
  decideEach,
  routeLimitsOf,
  routeSkipsOf,
  withMetricsName,
  ALL_LIMITS,
  DEFAULT_LIMIT_NAME,
  type NamedLimitsLabels,
  type NamedLimitsOptions,
  type RouteLevel,
  type RouteLimit,
} from './http/named-limits';
export {
  EXPRESS_REQUEST_ACCESS,
  FASTIFY_REQUEST_ACCESS,
  TRUST_PROXY_SETTINGS,
  accessByRequest,
  type ExpressLikeRequest,
  type FastifyLikeRequest,
  type TrustProxySetting,
} from './http/platform-access';
export { setNodeHeaders, settleWhenSent } from './http/node-response';
export { storeKey } from './http/store-key';
export { RequestRateLimit } from './http/rate-limit-info';
export { windowSecondsOf, durationInWords } from './duration';
export { ipKey, isIpAddress, trustsAnyProxy, PROXY_PROBE, type TrustFunction } from './http/client-ip';
export { rateLimitHeaders, retryAfterHeader, partitionKey, defaultPolicyName, policyNameText, HEADER_MODES, DEFAULT_HEADERS_MODE, MAX_SF_INTEGER } from './http/headers';
export { HTTP_OPTION_NAMES } from './http/parse-http-options';
export type {
  HeaderLine,
  HeadersMode,
  HttpOutcome,
  HttpRateLimitOptions,
  RateLimitControls,
  LimitedBody,
  LimitedMessage,
  MaybePromise,
  RateLimitInfo,
  StoreErrorAction,
  UnknownAddressAction,
} from './http/types';
// Several policies per client, tiers, shadow mode, reserve/settle (policy mode).
export { MAX_POLICIES, effectivePolicies } from './policies/policy-validation';
export type { ClientPolicies } from './policies/policy-mode';
export type {
  ClientPolicyConfig,
  PolicyDecision,
  PolicyRateLimiterOptions,
  PolicyStatus,
  PolicyStore,
  PolicyStoreDecision,
  Reservation,
  ReserveOptions,
  StoreSettleRequest,
  StoreSetPoliciesRequest,
  TierTable,
} from './policies/policy-types';
export { POLICY_CHECK, SET_POLICIES, SET_TIER } from './stores/redis/policy-scripts';
export type {
  Algorithm,
  CheckOptions,
  ClientLimit,
  Decision,
  DecisionSource,
  FactorProposal,
  FailureMode,
  LeaseOptions,
  LeaseRelease,
  RateLimiterOptions,
  Store,
  StoreCheckRequest,
  StoreDecision,
  StoreSetLimitRequest,
} from './types';
