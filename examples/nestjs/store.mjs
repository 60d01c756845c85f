// The embedded store by default; Redis when REDIS_URL is set, so several instances share one window.
import * as core from '@slidegate/core';

/** @returns {{ store: import('@slidegate/core').Store, description: string }} */
export function storeFromEnv(env = process.env) {
  if (!env.REDIS_URL) return { store: new core.MemoryStore(), description: 'the embedded memory store (set REDIS_URL to share limits through Redis)' };
  if (typeof core.RedisStore?.fromUrl !== 'function') {
    throw new Error('REDIS_URL is set, but this build of @slidegate/core has no RedisStore yet; unset REDIS_URL to use the memory store');
  }
  return { store: core.RedisStore.fromUrl(env.REDIS_URL), description: `Redis at ${env.REDIS_URL}` };
}
