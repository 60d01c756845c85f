// Child-process entry points of the lease suite.
import Redis from 'ioredis';
import * as core from '@slidegate/core';
import { commandsProcessed, connect } from '../lib/redis.mjs';
import { startThrowawayRedis } from '../lib/throwaway-redis.mjs';
import { concurrentOps, sequentialOps } from '../lib/measure.mjs';
import { latencySummaryUs } from '../lib/stats.mjs';

/**
 * A hot client on RedisStore, with or without leases, on a Redis of its own (so INFO's command count is ours
 * alone): decisions/s, latency, and every command Redis executed per decision (calls inside Lua included).
 * The limit is far above the decisions made, so the client stays below half its limit throughout.
 */
export async function hotClient({ lease, concurrency, durationMs }) {
  const server = await startThrowawayRedis();
  const client = connect({ url: server.url, autoPipelining: true, safe: true });
  await client.connect();
  const admin = new Redis(server.url);
  try {
    const store = new core.RedisStore({ client, prefix: 'lease-bench:' });
    const limiter = new core.RateLimiter({ limit: 1_000_000_000, windowSeconds: 60, store, lease });
    const sources = {};
    let counting = false;
    const decide = () =>
      limiter.check('hot-client').then((d) => {
        if (counting) sources[d.source] = (sources[d.source] ?? 0) + 1;
      });
    await concurrentOps(decide, { concurrency, durationMs: Math.min(300, durationMs) });
    const before = await commandsProcessed(admin);
    counting = true;
    const { ops_per_s, ops, latencies } = await concurrentOps(decide, { concurrency, durationMs });
    // Let in-flight work (lease returns, refills) land before reading the count again.
    await new Promise((r) => setTimeout(r, 200));
    const after = await commandsProcessed(admin);
    counting = false;
    await limiter.close();
    await store.close();
    const share = (name) => Math.round(((sources[name] ?? 0) / ops) * 1000) / 1000;
    // The two INFO calls are ours, not the limiter's.
    const commands = after - before - 1;
    return { lease, concurrency, ops_per_s, ops, commands_per_decision: Math.round((commands / ops) * 10000) / 10000, lease_share: share('lease'), fallback_share: share('fallback'), sources, ...latencySummaryUs(latencies) };
  } finally {
    client.disconnect();
    admin.disconnect();
    await server.kill();
  }
}

/**
 * Sequential awaits on one hot client, as the core suite measures MemoryStore: RedisStore with its defaults
 * (every decision after the first few from a lease, one acquisition per lease of up to maxUnits) and a
 * MemoryStore limiter, in this one process, alternating, so both see the same machine. Redis of its own.
 */
export async function hotSequential({ durationMs, rounds = 2 }) {
  const server = await startThrowawayRedis();
  const client = connect({ url: server.url, autoPipelining: true, safe: true });
  await client.connect();
  const admin = new Redis(server.url);
  const store = new core.RedisStore({ client, prefix: 'lease-bench-seq:' });
  const leased = new core.RateLimiter({ limit: 1_000_000_000, windowSeconds: 60, store });
  const memory = new core.RateLimiter({ limit: 1_000_000_000, windowSeconds: 60 });
  try {
    const decideLease = () => leased.check('hot-client');
    const decideMemory = () => memory.check('hot-client');
    await sequentialOps(decideLease, { durationMs: Math.min(300, durationMs) });
    await sequentialOps(decideMemory, { durationMs: Math.min(300, durationMs) });
    const leaseRuns = [];
    const memoryRuns = [];
    let commands = 0;
    let leaseOps = 0;
    for (let round = 0; round < rounds; round++) {
      const before = await commandsProcessed(admin);
      const lease = await sequentialOps(decideLease, { durationMs });
      commands += (await commandsProcessed(admin)) - before - 1;
      leaseOps += lease.ops;
      leaseRuns.push(lease.ops_per_s);
      memoryRuns.push((await sequentialOps(decideMemory, { durationMs })).ops_per_s);
    }
    const best = (runs) => Math.max(...runs);
    return {
      lease_ops_per_s: best(leaseRuns),
      memory_ops_per_s: best(memoryRuns),
      lease_runs: leaseRuns,
      memory_runs: memoryRuns,
      lease_vs_memory: Math.round((best(leaseRuns) / best(memoryRuns)) * 100) / 100,
      commands_per_decision: Math.round((commands / leaseOps) * 100000) / 100000,
    };
  } finally {
    await leased.close();
    await memory.close();
    await store.close();
    client.disconnect();
    admin.disconnect();
    await server.kill();
  }
}
