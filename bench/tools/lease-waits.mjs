// How many of a hot client's requests wait for Redis on RedisStore's defaults, when they come as a server's do:
// 50 in flight, the event loop turning between requests, `--work-us` of other work each (the framework's part).
// A request waits when `tryCheckSync` cannot answer it (no lease covers it, so it goes to Redis or queues behind
// a call in flight); counted after the first 5000 requests (the first leases, while they double). One client,
// limit 1e9 per 60 s, a throwaway redis-server, ioredis with enableAutoPipelining as in the http suite. Counts
// of waits, unlike req/s, hardly move with the machine's load. Run after `npm run build`:
//
//   node bench/tools/lease-waits.mjs [--before=DIR] [--requests=60000] [--work-us=40] [--rounds=2]
//
// --before=DIR also runs @slidegate/core from DIR/node_modules (another worktree's build), alternating with this one.
import { parseArgs } from '../lib/args.mjs';
import { importSlidegate } from '../lib/slidegate-build.mjs';
import { connect } from '../lib/redis.mjs';
import { startThrowawayRedis } from '../lib/throwaway-redis.mjs';

const args = parseArgs(process.argv.slice(2));
const requests = Number(args.requests ?? 60_000);
const workMs = Number(args.workUs ?? 40) / 1000;
const rounds = Number(args.rounds ?? 2);
const WARM = 5000;
const builds = { this: await importSlidegate('core') };
if (typeof args.before === 'string') builds.before = await importSlidegate('core', args.before);

const server = await startThrowawayRedis();
const client = connect({ url: server.url, autoPipelining: true, safe: true });
await client.connect();
const rows = [];
try {
  for (let round = 1; round <= rounds; round++) {
    for (const [build, core] of Object.entries(builds)) {
      const limiter = new core.RateLimiter({ limit: 1e9, windowSeconds: 60, store: new core.RedisStore({ client, prefix: `lease-waits:${build}:${round}:` }) });
      let done = 0;
      let waited = 0;
      const started = performance.now();
      const connection = async () => {
        while (done < requests) {
          await new Promise((resolve) => setImmediate(resolve));
          done++;
          const until = performance.now() + workMs;
          while (performance.now() < until);
          if (limiter.tryCheckSync('hot') !== undefined) continue;
          if (done > WARM) waited++;
          await limiter.check('hot');
        }
      };
      await Promise.all(Array.from({ length: 50 }, connection));
      const seconds = (performance.now() - started) / 1000;
      rows.push({ round, build, waited_per_1000: Math.round((waited / (done - WARM)) * 1000 * 100) / 100, requests_per_s: Math.round(done / seconds) });
      await limiter.close();
    }
  }
} finally {
  client.disconnect();
  await server.kill();
}
console.table(rows);
