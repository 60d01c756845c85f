// A plain Node process of test/cluster-store-socket.test.ts (no node:cluster): decides requests of one hot
// client through `new ClusterStore({ path })` on the BUILT @slidegate/core (leases and the denial cache, a shared
// store's defaults), on the real clock, and reports each round of decisions to the test over IPC as it makes it
// ({ round: { allowed: [ms...], firstAllowedAt, fallback, denied, lease } }), until the test says 'stop'.
// Input: one JSON argument { path, limit, windowSeconds, concurrency, leaseUnits }.
import { ClusterStore, RateLimiter } from '@slidegate/core';
import { decideRound } from './decision-round.mjs';

const job = JSON.parse(process.argv[2]);
const store = new ClusterStore({ path: job.path });
const limiter = new RateLimiter({
  limit: job.limit,
  windowSeconds: job.windowSeconds,
  store,
  lease: { maxUnits: job.leaseUnits },
  // A fallback decision admits nothing, so every admitted unit was decided by the shared server.
  failureMode: 'closed',
  // Generous: 6 processes share 2 cores in CI, and this test is about what is admitted, not latency.
  timeoutMs: 1000,
});
let stopped = false;
process.on('message', (m) => {
  if (m === 'stop') stopped = true;
});
while (!stopped) {
  const round = await decideRound(limiter, job.concurrency);
  process.send({ round });
  // Let the socket and the other processes breathe: this is a load, not a spin. Fallback rounds answer at once.
  await new Promise((resolve) => setTimeout(resolve, round.fallback > 0 ? 5 : 0));
}
await limiter.close();
await store.close();
process.disconnect();
