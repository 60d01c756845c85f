import type { ClusterOptions, RedisOptions } from 'ioredis';
import { ErrorCodes, typeError } from '../errors';

/**
 * ioredis settings under which a decision never waits in a queue and a request is never counted
 * twice. Why each one:
 * - `enableOfflineQueue: false`: while disconnected, a command fails at once instead of queueing; a
 *   queued check would run on Redis after the caller was already answered in fallback, and the
 *   queue grows without bound during an outage.
 * - `autoResendUnfulfilledCommands: false`: a check that was sent but not answered when the
 *   connection dropped may already have run; re-sending it after the reconnect counts it twice.
 * - `maxRetriesPerRequest: 0`: unanswered commands are failed at the first disconnect. With a
 *   higher value and resending off, ioredis drops them on reconnect without ever settling them.
 * - `retryStrategy`: reconnect quickly and forever (50 ms doubling, at most 500 ms apart), so the
 *   client is connected again well within the 5 s in which decisions must return to the store.
 * - `connectTimeout: 2000`: a blackholed host fails the connection attempt in 2 s, not 10 s.
 * - `reconnectOnError`: on READONLY (a demoted master) reconnect, which makes a Sentinel client ask
 *   the Sentinels for the new master; `1`, not `2`, so the refused command is not re-sent.
 */
export const SAFE_REDIS_OPTIONS = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  retryStrategy: (times: number): number => Math.min(50 * 2 ** Math.min(times - 1, 4), 500),
  reconnectOnError: (error: Error): 1 | false => (error.message.includes('READONLY') ? 1 : false),
} as const satisfies RedisOptions;

/**
 * The same for `new Cluster(nodes, SAFE_CLUSTER_OPTIONS)`, plus:
 * - `retryDelayOnFailover: 0`: ioredis Cluster re-sends a command that failed with "Connection is
 *   closed", which may already have run on the node that died: counted twice. MOVED, ASK, TRYAGAIN
 *   and CLUSTERDOWN are still followed (those commands were refused, not run).
 * - `retryDelayOnClusterDown: 0`: fail at once while the cluster is down instead of re-sending every
 *   100 ms after the caller was answered in fallback (the breaker does the retrying, one probe at a time).
 * - `retryDelayOnTryAgain: 5`: a slot half-way through a migration answers TRYAGAIN for a moment;
 *   retrying every 5 ms (at most 16 times) usually lands within the decision timeout, where the
 *   default 100 ms never does.
 * - `slotsRefreshInterval: 1000`: learn a promoted replica within a second even without a MOVED.
 */
export const SAFE_CLUSTER_OPTIONS = {
  enableOfflineQueue: false,
  retryDelayOnFailover: 0,
  retryDelayOnClusterDown: 0,
  retryDelayOnTryAgain: 5,
  slotsRefreshInterval: 1000,
  clusterRetryStrategy: (times: number): number => Math.min(50 * 2 ** Math.min(times - 1, 4), 500),
  redisOptions: {
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    reconnectOnError: SAFE_REDIS_OPTIONS.reconnectOnError,
  },
} as const satisfies ClusterOptions;

/** Any ioredis `Redis` or `Cluster`, seen structurally (both expose their merged `options`). */
interface IoredisLike {
  isCluster?: boolean;
  options?: Record<string, unknown>;
}

/**
 * Lists the settings of an ioredis client that could make a decision wait in ioredis' queues or
 * count a request twice; empty when the client is safe. Reads the client's merged options.
 */
export function unsafeRedisClientSettings(client: unknown): string[] {
  const c = client as IoredisLike;
  const options = c.options ?? {};
  const problems: string[] = [];
  if (c.isCluster === true) {
    const node = (options.redisOptions ?? {}) as Record<string, unknown>;
    if (options.enableOfflineQueue !== false) problems.push('enableOfflineQueue must be false (a queued check runs after its caller was answered)');
    if (typeof options.retryDelayOnFailover === 'number' && options.retryDelayOnFailover > 0) {
      problems.push('retryDelayOnFailover must be 0 (ioredis re-sends a command that may already have run on a dead node)');
    }
    if (node.autoResendUnfulfilledCommands !== false) {
      problems.push('redisOptions.autoResendUnfulfilledCommands must be false (a re-sent check is counted twice)');
    }
    if (node.maxRetriesPerRequest !== 0) problems.push('redisOptions.maxRetriesPerRequest must be 0 (in-flight checks must fail at a disconnect)');
  } else {
    if (options.enableOfflineQueue !== false) problems.push('enableOfflineQueue must be false (a queued check runs after its caller was answered)');
    if (options.autoResendUnfulfilledCommands !== false) problems.push('autoResendUnfulfilledCommands must be false (a re-sent check is counted twice)');
    if (options.maxRetriesPerRequest !== 0) problems.push('maxRetriesPerRequest must be 0 (in-flight checks must fail at a disconnect)');
    if (typeof options.retryStrategy !== 'function') problems.push('retryStrategy must be a function (without one the client never reconnects)');
  }
  return problems;
}

/**
 * Refuses an ioredis client whose settings could make a decision wait or count twice, with a
 * message that lists each setting and how to get a safe client.
 */
export function assertSafeRedisClient(client: unknown, name = 'RedisStore options.client'): void {
  const problems = unsafeRedisClientSettings(client);
  if (problems.length === 0) return;
  const isCluster = (client as IoredisLike).isCluster === true;
  const fix = isCluster
    ? 'new Cluster(nodes, { ...SAFE_CLUSTER_OPTIONS, ...yours })'
    : 'new Redis({ ...SAFE_REDIS_OPTIONS, ...yours })';
  throw typeError(
    ErrorCodes.UNSAFE_REDIS_CLIENT,
    `slidegate: ${name} is unsafe for a rate limiter: ${problems.join('; ')}. ` +
      `Create it with ${fix} (both exported by @slidegate/core), or (standalone, Sentinel) client.duplicate(SAFE_REDIS_OPTIONS) for a separate connection.`,
  );
}

/**
 * A function that warns once (process warning with code ERR_SLIDEGATE_UNSAFE_REDIS_CLIENT) the
 * first time it sees a client whose settings could make a check wait in a queue or count twice.
 * A warning, not a refusal: the limiter's timeout still answers every decision in time, and what
 * such a client gets wrong is over-counting (a re-sent or queued check counted once more), which
 * denies early and never admits too much. Call `assertSafeRedisClient` to refuse instead.
 */
export function createUnsafeClientWarner(
  emit: typeof process.emitWarning = process.emitWarning.bind(process),
): (client: unknown, name?: string) => void {
  let warned = false;
  return (client, name = 'RedisStore options.client') => {
    if (warned || typeof client !== 'object' || client === null) return;
    const problems = unsafeRedisClientSettings(client);
    if (problems.length === 0) return;
    warned = true;
    const isCluster = (client as IoredisLike).isCluster === true;
    emit(
      `slidegate: ${name} may queue or re-send checks: ${problems.join('; ')}. ` +
        `Create it with ${isCluster ? 'new Cluster(nodes, { ...SAFE_CLUSTER_OPTIONS, ...yours })' : 'new Redis({ ...SAFE_REDIS_OPTIONS, ...yours })'}.`,
      { type: 'SlidegateWarning', code: ErrorCodes.UNSAFE_REDIS_CLIENT },
    );
  };
}

/** Warns once per process about an unsafe client (RedisStore calls it with the client it is given). */
export const warnIfUnsafeRedisClient = createUnsafeClientWarner();

/**
 * node-redis (4, 5) settings under which a decision never waits in a queue:
 * `createClient({ ...SAFE_NODE_REDIS_OPTIONS, url })`, or for a Cluster
 * `createCluster({ rootNodes, defaults: SAFE_NODE_REDIS_OPTIONS })`. node-redis never re-sends a
 * command that was in flight when the connection dropped, so nothing more is needed against
 * counting twice. Why each one:
 * - `disableOfflineQueue: true`: while disconnected, a command fails at once instead of waiting
 *   to run after its caller was answered in fallback.
 * - `socket.connectTimeout: 2000`: a blackholed host fails the attempt in 2 s.
 * - `socket.reconnectStrategy`: reconnect quickly and forever (50 ms doubling, at most 500 ms apart).
 */
export const SAFE_NODE_REDIS_OPTIONS = {
  disableOfflineQueue: true,
  socket: {
    connectTimeout: 2000,
    reconnectStrategy: (retries: number): number => Math.min(50 * 2 ** Math.min(retries, 4), 500),
  },
} as const;
