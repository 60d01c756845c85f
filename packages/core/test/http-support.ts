/**
 * Shared by the adapter tests (packages/{express,koa,fastify}/test): the stores every adapter
 * behaviour runs on, and a warning collector. Imports @slidegate/core from dist like any user.
 */
import * as core from '@slidegate/core';
import type { RateLimiterOptions, Store } from '@slidegate/core';

type LimiterOptions = Omit<RateLimiterOptions, 'limit' | 'windowSeconds' | 'store' | 'algorithm'>;
import { sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import request from 'supertest';

export interface StoreCase {
  name: string;
  /** A fresh store, and a key prefix no other test run uses (Redis on 6379 is shared). */
  open(): Promise<{ store: Store; prefix: string; limiterOptions: LimiterOptions; close(): Promise<void> }>;
}

interface RedisStoreClass {
  fromUrl(url: string, options?: { prefix?: string }): Store & { ready(): Promise<void> };
}

/** The memory store always; Redis too once @slidegate/core exports RedisStore (with `fromUrl`). */
export function storeCases(): StoreCase[] {
  const cases: StoreCase[] = [
    {
      name: 'memory store',
      open: async () => {
        const store = new core.MemoryStore({ sweepIntervalMs: 0 });
        return { store, prefix: uniquePrefix(), limiterOptions: {}, close: () => store.close() };
      },
    },
  ];
  const RedisStore = (core as unknown as { RedisStore?: RedisStoreClass }).RedisStore;
  if (RedisStore !== undefined && typeof RedisStore.fromUrl === 'function') {
    cases.push({
      name: 'Redis store',
      open: async () => {
        const redis: SharedRedis = await sharedRedis();
        const prefix = uniquePrefix();
        // Redis on 6379 is shared: a prefix no other run uses, and keys that expire with their windows.
        const store = RedisStore.fromUrl(redis.url, { prefix: `${prefix}:` });
        // Connected before any limiter uses it, so no first decision is a fallback made while connecting.
        await store.ready();
        return {
          store,
          prefix,
          // A loaded test machine can stall a Redis call past the 50 ms default; these tests are about
          // the adapters, so no decision may come from the fallback.
          limiterOptions: { timeoutMs: 2000 },
          close: async () => {
            await store.close();
            await deleteKeys(redis.url, `${prefix}:*`);
            await redis.stop();
          },
        };
      },
    });
  }
  return cases;
}

export function uniquePrefix(): string {
  return `sg-http-test-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Collects process warnings emitted while `fn` runs. */
export async function warningsDuring(fn: () => Promise<void>): Promise<Array<{ code: string | undefined; message: string }>> {
  const seen: Array<{ code: string | undefined; message: string }> = [];
  const listener = (warning: Error & { code?: string }) => seen.push({ code: warning.code, message: warning.message });
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

/** Client limits never expire, so a test run removes its own keys (only its prefix) from the shared Redis. */
async function deleteKeys(url: string, pattern: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0' && ++rounds < 10_000);
  } finally {
    client.disconnect();
  }
}

/** The status codes of `n` GET requests to `path`, one after another, through a real server. */
export async function statuses(target: Parameters<typeof request>[0], n: number, path = '/', headers: Record<string, string> = {}): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < n; i++) seen.push((await request(target).get(path).set(headers)).status);
  return seen;
}
