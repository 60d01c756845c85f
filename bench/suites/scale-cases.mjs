// Child-process entry point of the scale suite: RedisStore on a Redis Cluster of 3 masters beside one
// redis-server, both started for this measurement (so neither shares its CPU with other users of 6379).
import * as core from '@slidegate/core';
import { connect } from '../lib/redis.mjs';
import { startThrowawayRedis } from '../lib/throwaway-redis.mjs';
import { concurrentOps } from '../lib/measure.mjs';
import { latencySummaryUs } from '../lib/stats.mjs';

async function measure(client, { clients, concurrency, durationMs }) {
  const store = new core.RedisStore({ client, prefix: 'scale-bench:' });
  const limiter = new core.RateLimiter({ limit: 1_000_000_000, windowSeconds: 60, store });
  const keys = Array.from({ length: clients }, (_, i) => `client-${i}`);
  const sources = {};
  const decide = (i) =>
    limiter.check(keys[i % clients]).then((d) => {
      sources[d.source] = (sources[d.source] ?? 0) + 1;
    });
  try {
    await concurrentOps(decide, { concurrency, durationMs: Math.min(500, durationMs) });
    for (const k of Object.keys(sources)) delete sources[k];
    const { ops_per_s, ops, latencies } = await concurrentOps(decide, { concurrency, durationMs });
    return { ops_per_s, store_share: Math.round(((sources.store ?? 0) / ops) * 1000) / 1000, ...latencySummaryUs(latencies) };
  } finally {
    await limiter.close();
    await store.close();
  }
}

export async function clusterVersusSingle(params) {
  const { startCluster } = await import('@slidegate/test-utils');
  const single = await startThrowawayRedis();
  const singleClient = connect({ url: single.url, autoPipelining: true, safe: true });
  await singleClient.connect();
  let singleResult;
  try {
    singleResult = await measure(singleClient, params);
  } finally {
    singleClient.disconnect();
    await single.kill();
  }
  const cluster = await startCluster({ masters: 3 });
  try {
    // Safe options turn the offline queue off: wait until the client is ready, as an application would.
    const client = cluster.client({ ...core.SAFE_CLUSTER_OPTIONS, enableAutoPipelining: true });
    await new Promise((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
    const clusterResult = await measure(client, params);
    return { single: singleResult, cluster: clusterResult };
  } finally {
    await cluster.stop();
  }
}
