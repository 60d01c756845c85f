// Where does a hot client's decision on leases spend its time, against a MemoryStore decision, counted in CPU
// instructions (callgrind counts them whatever the machine's load; it runs clock reads as system calls, which
// it does not count, so say how many each path makes). One process, sequential awaits on one hot client:
//   null     the loop alone: an already-resolved promise awaited, nothing decided
//   memory   RateLimiter on its MemoryStore
//   spend    RedisStore with leases of up to 1e7 units, so next to no decision waits for an acquisition
//   lease    RedisStore with its defaults (leases of up to 1000 units)
//   store    RedisStore with lease: false: every decision one script call, what an acquisition costs here
// Run a mode twice with different counts and subtract (start-up and warm-up cancel out), e.g.
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/a.out node bench/tools/lease-instructions.mjs spend 200000
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/b.out node bench/tools/lease-instructions.mjs spend 1000000
// (instructions a decision = (b - a) / 800000). Natively, --cpu-prof shows the same paths in time.
// Args: mode, decisions [200000], warm-up decisions [100000]. Redis: BENCH_REDIS_URL or 127.0.0.1:6379.
import * as core from '@slidegate/core';
import { connect, uniquePrefix } from '../lib/redis.mjs';

const mode = process.argv[2] ?? 'lease';
const ops = Number(process.argv[3] ?? 200_000);
const warm = Number(process.argv[4] ?? 100_000);
const MODES = ['null', 'memory', 'spend', 'lease', 'store'];
if (!MODES.includes(mode)) throw new Error(`mode must be one of ${MODES.join(', ')}; got ${mode}`);
let client;
let store;
if (mode !== 'memory' && mode !== 'null') {
  client = connect({ autoPipelining: true, safe: true });
  await client.connect();
  store = new core.RedisStore({ client, prefix: uniquePrefix('lease-instructions') });
}
const lease = mode === 'spend' ? { maxUnits: 1e7 } : mode === 'store' ? false : undefined;
const limiter =
  mode === 'null'
    ? { check: ((d) => () => Promise.resolve(d))({ allowed: true, source: 'none' }), close: async () => {} }
    : new core.RateLimiter({ limit: 1e9, windowSeconds: 60, store, lease });
let leased = 0;
for (let i = 0; i < warm; i++) await limiter.check('hot');
for (let i = 0; i < ops; i++) {
  const d = await limiter.check('hot');
  if (d.source === 'lease') leased++;
}
console.log(JSON.stringify({ mode, ops, warm, leased }));
await limiter.close();
await store?.close();
client?.disconnect();
