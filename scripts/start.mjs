// Until the web example lands with the adapters: a short demonstration of the core API.
import { RateLimiter } from '@slidegate/core';

const limiter = new RateLimiter({ limit: 3, windowSeconds: 10 });
for (let i = 0; i < 5; i++) {
  const d = await limiter.check('demo-client', { timestamp: 1_700_000_000 + i });
  console.log(`t+${i}s allowed=${d.allowed} remaining=${d.remaining} retryAfter=${d.retryAfter}`);
}
await limiter.close();
console.log('The web example (Express, Koa, Fastify) comes with the adapters.');
