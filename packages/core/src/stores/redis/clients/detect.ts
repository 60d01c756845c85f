import type { Cluster, Redis } from 'ioredis';
import { ErrorCodes, rangeError, typeError } from '../../../errors';
import { warnIfUnsafeRedisClient } from '../../../faults/redis-client-safety';
import { describe } from '../../../validate';
import { isRedisClientAdapter, type RedisClientAdapter } from './adapter';
import { IoredisAdapter, isIoredisLike } from './ioredis';
import { NodeRedisAdapter, nodeRedisKind, nodeRedisOptions, type NodeRedisKind } from './node-redis';

/**
 * What `RedisStore` accepts as `client`: an ioredis 5 or 6 `Redis` or `Cluster`, an iovalkey one,
 * a node-redis 4 or 5 client (`createClient`), cluster (`createCluster`) or sentinel
 * (`createSentinel`, node-redis 5), or a `RedisClientAdapter` for any other client. Typed loosely
 * on purpose: each client's own types differ between its major versions.
 */
export type RedisClientLike = Redis | Cluster | RedisClientAdapter | object;

const ACCEPTED =
  'an ioredis or iovalkey Redis or Cluster, a node-redis client, cluster or sentinel (createClient, createCluster, createSentinel), or a RedisClientAdapter';

/**
 * The one place that decides which client RedisStore was given and wraps it; everything after
 * this talks to the adapter. Refuses what cannot be made safe, warns once about unsafe settings.
 */
export function toRedisAdapter(client: unknown, name = 'RedisStore options.client'): RedisClientAdapter {
  if (isIoredisLike(client)) {
    // ioredis puts its keyPrefix before every key: braces there would become the hash tag of every client.
    const keyPrefix = (client as { options?: { keyPrefix?: unknown } }).options?.keyPrefix;
    if (typeof keyPrefix === 'string' && /[{}]/.test(keyPrefix)) {
      throw rangeError(
        ErrorCodes.INVALID_OPTION,
        `slidegate: ${name} has an ioredis keyPrefix with '{' or '}', which would put every client on one hash tag; got ${describe(keyPrefix)}`,
      );
    }
    // One process warning if the client could queue or re-send checks (see faults/redis-client-safety.ts).
    warnIfUnsafeRedisClient(client, name);
    return new IoredisAdapter(client as Redis | Cluster);
  }
  const kind = nodeRedisKind(client);
  if (kind !== undefined) {
    checkNodeRedis(client, kind, name);
    return new NodeRedisAdapter(client, kind);
  }
  if (isRedisClientAdapter(client)) return client;
  if (typeof (client as { sendCommand?: unknown } | null)?.sendCommand === 'function' && typeof (client as { v4?: unknown }).v4 === 'object') {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} is a node-redis 4 client in legacyMode; pass its promise API, client.v4, instead`);
  }
  throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be ${ACCEPTED}; got ${describe(client)}`);
}

/** node-redis settings that could make a check wait in a queue or never reach Redis again. */
export function unsafeNodeRedisSettings(options: Record<string, unknown> | undefined): string[] {
  if (options === undefined) return [];
  const problems: string[] = [];
  if (options.disableOfflineQueue !== true) problems.push('disableOfflineQueue must be true (a queued check runs after its caller was answered)');
  const socket = options.socket as { reconnectStrategy?: unknown } | undefined;
  if (socket?.reconnectStrategy === false) problems.push('socket.reconnectStrategy must not be false (the client would never reconnect)');
  return problems;
}

let warnedNodeRedis = false;

function checkNodeRedis(client: unknown, kind: NodeRedisKind, name: string): void {
  const options = nodeRedisOptions(client, kind);
  // node-redis 4's legacyMode replaces the promise API with callbacks: sendCommand would never settle.
  if (options?.legacyMode === true) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} is a node-redis client in legacyMode; pass its promise API, client.v4, instead`);
  }
  const problems = unsafeNodeRedisSettings(options);
  if (problems.length === 0 || warnedNodeRedis) return;
  warnedNodeRedis = true;
  const where = kind === 'cluster' ? 'createCluster({ defaults: { ...SAFE_NODE_REDIS_OPTIONS, ...yours }, ... })' : 'createClient({ ...SAFE_NODE_REDIS_OPTIONS, ...yours })';
  process.emitWarning(`slidegate: ${name} may queue checks: ${problems.join('; ')}. Create it with ${where}.`, {
    type: 'SlidegateWarning',
    code: ErrorCodes.UNSAFE_REDIS_CLIENT,
  });
}
