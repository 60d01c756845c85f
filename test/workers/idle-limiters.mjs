// A worker process of test/fallback-share.test.ts: one application process with two limiters on
// one RedisStore (the BUILT @slidegate/core), idle. It reports 'ready' once its heartbeat has been
// counted, then waits to be killed. Input: one JSON argument { url, prefix }.
import { RateLimiter, RedisStore } from '@slidegate/core';

const { url, prefix } = JSON.parse(process.argv[2]);
const store = RedisStore.fromUrl(url, { prefix });
const limiters = [5, 10].map((limit) => new RateLimiter({ limit, windowSeconds: 60, store, onError: () => undefined }));
const timer = setInterval(() => {
  if (limiters.every((limiter) => (limiter.resilientStore?.instances ?? 0) >= 1)) {
    clearInterval(timer);
    process.send?.('ready');
  }
}, 20);
process.on('disconnect', () => process.exit(0));
