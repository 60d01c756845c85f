// How fast is a decision from a lease against a MemoryStore decision, sequential awaits on one hot client,
// in one process (the lease on the shared Redis, or BENCH_REDIS_URL)? `node bench/tools/lease-path.mjs [ms]`
import * as core from '@slidegate/core';
import { connect, uniquePrefix } from '../lib/redis.mjs';
import { sequentialOps } from '../lib/measure.mjs';

const durationMs = Number(process.argv[2] ?? 2000);
const client = connect({ autoPipelining: true, safe: true });
await client.connect();
const store = new core.RedisStore({ client, prefix: uniquePrefix('lease-path') });
const subjects = {
  memory: new core.RateLimiter({ limit: 1e9, windowSeconds: 60 }),
  lease: new core.RateLimiter({ limit: 1e9, windowSeconds: 60, store }),
};
const sources = {};
for (const round of [1, 2]) {
  for (const [name, limiter] of Object.entries(subjects)) {
    await sequentialOps(() => limiter.check('hot'), { durationMs: 300 });
    const r = await sequentialOps(() => limiter.check('hot').then((d) => (sources[d.source] = (sources[d.source] ?? 0) + 1)), { durationMs });
    console.log(`round ${round} ${name}: ${r.ops_per_s} decisions/s`);
  }
}
console.log(sources);
for (const limiter of Object.values(subjects)) await limiter.close();
await store.close();
client.disconnect();
