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
 * Beside them, where the lease figure's time goes: RedisStore with leases of up to 1e7 units, which last
 * their whole 300 ms life, so next to no decision waits for an acquisition (the spending alone); the script
 * calls (acquisitions) a decision; and the time each one adds to the loop, waiting for Redis included.
 */
export async function hotSequential({ durationMs, rounds = 2 }) {
  const server = await startThrowawayRedis();
  const client = connect({ url: server.url, autoPipelining: true, safe: true });
  await client.connect();
  const admin = new Redis(server.url);
  const store = new core.RedisStore({ client, prefix: 'lease-bench-seq:' });
  const subjects = {
    lease: new core.RateLimiter({ limit: 1_000_000_000, windowSeconds: 60, store }),
    memory: new core.RateLimiter({ limit: 1_000_000_000, windowSeconds: 60 }),
    spend: new core.RateLimiter({ limit: 1_000_000_000, windowSeconds: 60, store, lease: { maxUnits: 10_000_000 } }),
  };
  // A store call that outlasts the limiter's timeout (a loaded machine) sends decisions to the fallback for a
  // while, which the figures would then include: counted, so a run it hit says so.
  let storeTimeouts = 0;
  const onWarning = (warning) => {
    if (warning.code === 'ERR_SLIDEGATE_STORE_TIMEOUT') storeTimeouts++;
  };
  process.on('warning', onWarning);
  try {
    // One client key each, so the two RedisStore subjects never share a window.
    const decide = Object.fromEntries(Object.entries(subjects).map(([name, limiter]) => [name, () => limiter.check(`hot-${name}`)]));
    for (const name of Object.keys(subjects)) await sequentialOps(decide[name], { durationMs: Math.min(300, durationMs) });
    const runs = { lease: [], memory: [], spend: [] };
    const totals = { lease: { ops: 0, cpuUs: 0, calls: 0, commands: 0 }, memory: { ops: 0, cpuUs: 0 }, spend: { ops: 0, cpuUs: 0, calls: 0, commands: 0 } };
    for (let round = 0; round < rounds; round++) {
      for (const name of ['lease', 'memory', 'spend']) {
        const onRedis = name !== 'memory';
        const before = onRedis ? await redisCounts(admin) : undefined;
        const cpu = process.cpuUsage();
        const r = await sequentialOps(decide[name], { durationMs });
        const used = process.cpuUsage(cpu);
        runs[name].push(r.ops_per_s);
        const t = totals[name];
        t.ops += r.ops;
        t.cpuUs += used.user + used.system;
        if (onRedis) {
          const after = await redisCounts(admin);
          // The first INFO is ours, not the limiter's.
          t.commands += after.commands - before.commands - 1;
          t.calls += after.scriptCalls - before.scriptCalls;
        }
      }
    }
    const best = (runs) => Math.max(...runs);
    const round2 = (x) => Math.round(x * 100) / 100;
    const perDecision = (t, x) => Math.round((x / t.ops) * 100000) / 100000;
    const cpuNs = (t) => Math.round((t.cpuUs * 1000) / t.ops);
    const leaseCalls = totals.lease.calls / totals.lease.ops;
    // What one acquisition adds to a sequential loop: the lease figure's time a decision beyond the spending
    // alone, per acquisition. Both best runs; the spending's own few acquisitions are left in (they only lower it).
    const extraNs = 1e9 / best(runs.lease) - 1e9 / best(runs.spend);
    return {
      lease_ops_per_s: best(runs.lease),
      memory_ops_per_s: best(runs.memory),
      spend_ops_per_s: best(runs.spend),
      lease_runs: runs.lease,
      memory_runs: runs.memory,
      spend_runs: runs.spend,
      lease_vs_memory: round2(best(runs.lease) / best(runs.memory)),
      spend_vs_memory: round2(best(runs.spend) / best(runs.memory)),
      commands_per_decision: perDecision(totals.lease, totals.lease.commands),
      store_calls_per_decision: perDecision(totals.lease, totals.lease.calls),
      spend_store_calls_per_decision: perDecision(totals.spend, totals.spend.calls),
      acquisition_us: leaseCalls > 0 ? Math.round(extraNs / leaseCalls / 1000) : null,
      lease_cpu_ns: cpuNs(totals.lease),
      memory_cpu_ns: cpuNs(totals.memory),
      spend_cpu_ns: cpuNs(totals.spend),
      store_timeouts: storeTimeouts,
    };
  } finally {
    process.off('warning', onWarning);
    for (const limiter of Object.values(subjects)) await limiter.close();
    await store.close();
    client.disconnect();
    admin.disconnect();
    await server.kill();
  }
}

/** Commands Redis executed (scripts' own calls included) and script calls (EVALSHA, EVAL), from one INFO. */
async function redisCounts(admin) {
  const info = await admin.info('all');
  const scriptCalls = (name) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return { commands: Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN), scriptCalls: scriptCalls('evalsha') + scriptCalls('eval') };
}
