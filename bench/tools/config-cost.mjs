// What does one per-client limit (a config, which never expires) cost: bytes of heap in a MemoryStore,
// and bytes of Redis memory (MEMORY USAGE) of a RedisStore's config hash; and does deleteLimit free them?
// Run after `npm run build`: node --expose-gc bench/tools/config-cost.mjs [configs=200000] [redis=redis://127.0.0.1:6379]
import { Redis } from 'ioredis';
import { MemoryStore, RateLimiter, RedisStore, SAFE_REDIS_OPTIONS } from '@slidegate/core';

const N = Number(process.argv[2] ?? 200_000);
const url = process.argv[3] ?? 'redis://127.0.0.1:6379';
if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');

global.gc();
const before = process.memoryUsage().heapUsed;
const store = new MemoryStore({ sweepIntervalMs: 0 });
const limiter = new RateLimiter({ limit: 100, windowSeconds: 60, store });
for (let i = 0; i < N; i++) await limiter.updateLimit(`user-${i}`, 10, 60);
global.gc();
const perConfig = (process.memoryUsage().heapUsed - before) / N;
for (let i = 0; i < N; i++) await limiter.deleteLimit(`user-${i}`);
global.gc();
const afterDelete = (process.memoryUsage().heapUsed - before) / N;
await limiter.close();

const client = new Redis(url, SAFE_REDIS_OPTIONS);
await new Promise((resolve) => client.once('ready', resolve));
const prefix = `config-cost:${process.pid}:`;
const redisStore = new RedisStore({ client, prefix });
const shared = new RateLimiter({ limit: 100, windowSeconds: 60, store: redisStore });
await shared.updateLimit('user-123456', 10, 60);
const key = `${prefix}{user-123456}:cfg`;
const usage = await client.memory('USAGE', key);
const ttl = await client.ttl(key);
await shared.deleteLimit('user-123456');
const left = await client.exists(key);
await shared.close();
await redisStore.close();
client.disconnect();

console.table([
  { store: 'MemoryStore', 'bytes per config': Math.round(perConfig), 'after deleteLimit': Math.round(afterDelete), ttl: 'none' },
  { store: 'RedisStore', 'bytes per config': usage, 'after deleteLimit': left === 0 ? 'key gone' : 'key left', ttl: ttl === -1 ? 'none' : ttl },
]);
