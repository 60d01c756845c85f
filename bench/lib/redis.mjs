// Redis helpers for the bench: a connection that fails fast, a unique key prefix per run, and cleanup of
// exactly that prefix. Never FLUSHALL/FLUSHDB/SCRIPT FLUSH/CONFIG SET on the shared server.
import { SAFE_REDIS_OPTIONS } from '@slidegate/core';
import Redis from 'ioredis';

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const HOW_TO_GET_REDIS = `no Redis at ${REDIS_URL} (start one with \`redis-server --port 6379 --save '' --appendonly no\`, or set BENCH_REDIS_URL)`;

/**
 * A client (not yet connected: `await client.connect()`) that does not queue or retry forever: a bench
 * must fail fast when Redis is missing. `safe`: slidegate's SAFE_REDIS_OPTIONS, as RedisStore wants its client (an application's client for
 * slidegate would have them; without them RedisStore warns ERR_SLIDEGATE_UNSAFE_REDIS_CLIENT).
 */
export function connect({ url = REDIS_URL, autoPipelining = false, safe = false } = {}) {
  return new Redis(url, {
    ...(safe ? SAFE_REDIS_OPTIONS : { maxRetriesPerRequest: 1, retryStrategy: (times) => (times > 3 ? null : 200) }),
    enableAutoPipelining: autoPipelining,
    connectTimeout: 2000,
    lazyConnect: true,
  });
}

/** Resolves true when Redis answers PING within a second. */
export async function redisReachable() {
  const client = connect();
  client.on('error', () => {});
  try {
    await Promise.race([client.connect().then(() => client.ping()), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1500))]);
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** A prefix no one else uses: bench, process, time. Contains no glob characters, so SCAN MATCH is exact. */
export function uniquePrefix(tag) {
  return `slidegate-bench:${tag}:${process.pid}:${Date.now().toString(36)}:`;
}

/** Every key under `prefix` (SCAN, never KEYS). */
export async function keysUnder(client, prefix) {
  const keys = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Deletes exactly the keys under `prefix`. */
export async function deleteUnder(client, prefix) {
  const keys = await keysUnder(client, prefix);
  for (let i = 0; i < keys.length; i += 500) await client.unlink(...keys.slice(i, i + 500));
  return keys.length;
}

/** Sum of MEMORY USAGE (SAMPLES 0: every element counted) over the keys under `prefix`. */
export async function memoryUnder(client, prefix) {
  const keys = await keysUnder(client, prefix);
  let bytes = 0;
  for (let i = 0; i < keys.length; i += 200) {
    const pipeline = client.pipeline();
    for (const key of keys.slice(i, i + 200)) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    for (const [error, value] of await pipeline.exec()) if (!error && value != null) bytes += Number(value);
  }
  return { bytes, keys: keys.length };
}

/** Redis INFO stats total_commands_processed, for commands-per-decision figures. */
export async function commandsProcessed(client) {
  const info = await client.info('stats');
  const match = /total_commands_processed:(\d+)/.exec(info);
  return match ? Number(match[1]) : NaN;
}

/** Sum of usec over INFO commandstats (Redis CPU time spent executing commands, scripts included). */
export async function commandMicros(client) {
  const info = await client.info('commandstats');
  let usec = 0;
  for (const match of info.matchAll(/usec=(\d+)/g)) usec += Number(match[1]);
  return usec;
}
