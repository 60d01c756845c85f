// A node:cluster worker of the cluster suite: decides one hot client for a while through slidegate's
// ClusterStore (its defaults: leases and the denial cache) or rate-limiter-flexible's RateLimiterCluster, and reports its counts and,
// when asked, the time of every admitted decision (ms).
import { ClusterStore, RateLimiter } from '@slidegate/core';
import { RateLimiterCluster } from 'rate-limiter-flexible';
import { concurrentOps } from '../lib/measure.mjs';

const job = JSON.parse(process.argv[2]);
const admitted = [];
let allowed = 0;
let denied = 0;
let fallback = 0;
let decide;
let close = async () => {};
if (job.subject === 'slidegate') {
  const store = new ClusterStore({ prefix: `bench-${job.run}:` });
  // A patient timeout: this measures the store, so no decision may fall back on a busy machine.
  const limiter = new RateLimiter({ limit: job.limit, windowSeconds: job.windowSeconds, store, timeoutMs: 2000 });
  decide = () =>
    limiter.check('hot').then((d) => {
      if (d.source === 'fallback') fallback++;
      else if (d.allowed) {
        allowed++;
        // The decision's own effective time: the window the limiter guarantees is counted in it.
        if (job.times) admitted.push(Math.round(d.timestamp * 1000));
      } else denied++;
    });
  close = async () => {
    await limiter.close();
    await store.close();
  };
} else {
  const limiter = new RateLimiterCluster({ keyPrefix: `bench-${job.run}`, points: job.limit, duration: job.windowSeconds, timeoutMs: 2000 });
  decide = () =>
    limiter.consume('hot').then(
      () => {
        allowed++;
        // RateLimiterCluster reports no decision time: the worker's clock when it answered.
        if (job.times) admitted.push(Date.now());
      },
      (res) => {
        if (res instanceof Error) fallback++;
        else denied++;
      },
    );
}
// Every worker starts its clock when the primary says go, so the 4 run side by side.
process.once('message', async () => {
  const { ops, ops_per_s } = await concurrentOps(decide, { concurrency: job.concurrency, durationMs: job.durationMs });
  await close();
  process.send({ ops, ops_per_s, admitted, allowed, denied, fallback }, () => process.exit(0));
});
process.send({ ready: true });
