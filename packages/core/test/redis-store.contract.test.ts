import { Redis } from 'ioredis';
import { sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import { RateLimiter } from '../src/index';
import { RedisStore } from '../src/stores/redis-store';
import { describeStoreContract } from './support/store-contract';
import { deleteKeys, uniquePrefix } from './redis-helpers';

// The shared model-based contract, on the shared Redis (6379, or a throwaway server when it is down).
const prefix = uniquePrefix('contract');
let shared: SharedRedis | undefined;
let client: Redis | undefined;

async function connection(): Promise<Redis> {
  if (client === undefined) {
    shared = await sharedRedis();
    client = new Redis(shared.url);
  }
  return client;
}

describe('RedisStore on the shared Redis', () => {
after(async () => {
  if (client !== undefined) {
    await deleteKeys(client, prefix);
    client.disconnect();
  }
  await shared?.stop();
});

describeStoreContract(
  'RedisStore',
  async ({ limit, windowSeconds, algorithm, bucketMs, now }) => {
    const store = new RedisStore({ client: await connection(), prefix });
    // A generous deadline: the contract compares store decisions, never fallback ones; nor lease or
    // cached ones (the defaults on a shared store), which lease-equivalence and denial-cache tests cover.
    const limiter = new RateLimiter({ limit, windowSeconds, algorithm, bucketMs, store, now, timeoutMs: 10_000, maxClockSkewSeconds: Infinity, lease: false, denialCache: false });
    return {
      limiter,
      cleanup: async () => {
        await limiter.close();
        await store.close();
      },
    };
  },
  { numRuns: 25 },
);
});
