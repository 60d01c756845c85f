import { RateLimiter } from '../src/index';
import { MemoryStore } from '../src/stores/memory-store';
import { describeStoreContract } from './support/store-contract';

// The embedded store is fast, so it runs five times the default number of random sequences.
describeStoreContract('MemoryStore', async ({ limit, windowSeconds, algorithm, bucketMs, now }) => {
  // sweepIntervalMs 0: no timer to leak; the store's clock is the contract's fixed one.
  const store = new MemoryStore({ now, sweepIntervalMs: 0 });
  const limiter = new RateLimiter({ limit, windowSeconds, algorithm, bucketMs, store, now, maxClockSkewSeconds: Infinity });
  return {
    limiter,
    cleanup: async () => {
      await limiter.close();
      await store.close();
    },
  };
}, { numRuns: 500 });
