// Suite `scale`: cost per decision as clients grow (1, 10^3, 10^5, 10^6) and as instances grow
// (1, 2, 4 processes on one Redis; a Redis Cluster of 3 masters).
import { fileURLToPath } from 'node:url';
import { runInChild } from '../lib/child.mjs';
import { numberSetting } from '../lib/args.mjs';
import { lineChart } from '../lib/svg.mjs';
import { detect, NOT_AVAILABLE } from '../lib/available.mjs';
import { redisReachable } from '../lib/redis.mjs';

const CORE = fileURLToPath(new URL('./core-cases.mjs', import.meta.url));
const REDIS = fileURLToPath(new URL('./redis-cases.mjs', import.meta.url));
const SCALE = fileURLToPath(new URL('./scale-cases.mjs', import.meta.url));

export const title = 'Scale: cost per decision as clients and instances grow';

export async function run({ quick, args, log }) {
  const settings = {
    durationMs: numberSetting(args, 'scaleDurationMs', { quick: 200, full: 2000 }, quick),
    maxClients: numberSetting(args, 'scaleMaxClients', { quick: 100_000, full: 1_000_000 }, quick),
    maxRedisClients: numberSetting(args, 'scaleMaxRedisClients', { quick: 10_000, full: 100_000 }, quick),
    concurrency: numberSetting(args, 'scaleConcurrency', { quick: 64, full: 64 }, quick),
  };
  const available = await detect();
  const counts = [1, 1_000, 100_000, 1_000_000].filter((n) => n <= settings.maxClients);
  const clientsRows = [];
  for (const n of counts) {
    log(`scale: memory store, ${n} clients`);
    const r = await runInChild(CORE, 'speed', { subject: 'slidegate sliding-window', scenario: n === 1 ? 'hot' : 'distinct', clients: n, durationMs: settings.durationMs, latencySamples: 10_000, batch: 100 }, { execArgv: ['--max-old-space-size=4096'] });
    clientsRows.push({ store: 'MemoryStore', clients: n, ops_per_s: r.sequential_ops, ns_per_decision: Math.round(1e9 / r.sequential_ops), p99_us: r.p99_us });
  }
  const redisUp = await redisReachable();
  for (const n of counts.filter((c) => c <= settings.maxRedisClients)) {
    if (!available.RedisStore || !redisUp) {
      clientsRows.push({ store: 'RedisStore', clients: n, ops_per_s: available.RedisStore ? 'Redis not reachable' : NOT_AVAILABLE });
      continue;
    }
    log(`scale: RedisStore, ${n} clients, c${settings.concurrency}`);
    const r = await runInChild(REDIS, 'speed', { subject: 'slidegate', algorithm: 'sliding-window', clients: n, concurrency: settings.concurrency, autoPipelining: true, durationMs: settings.durationMs });
    clientsRows.push({ store: 'RedisStore', clients: n, ops_per_s: r.ops_per_s, ns_per_decision: Math.round(1e9 / r.ops_per_s), p99_us: r.p99_us, store_share: r.store_share });
  }

  const instanceRows = [];
  for (const processes of [1, 2, 4]) {
    if (!available.RedisStore || !redisUp) {
      instanceRows.push({ setup: `${processes} process(es) on one Redis`, processes, ops_per_s: available.RedisStore ? 'Redis not reachable' : NOT_AVAILABLE });
      continue;
    }
    log(`scale: ${processes} processes on one Redis`);
    const params = { subject: 'slidegate', algorithm: 'sliding-window', clients: 10_000, concurrency: settings.concurrency, autoPipelining: true, durationMs: settings.durationMs };
    const parts = await Promise.all(Array.from({ length: processes }, () => runInChild(REDIS, 'speed', params)));
    const total = parts.reduce((sum, p) => sum + p.ops_per_s, 0);
    instanceRows.push({ setup: `${processes} process(es) on one Redis`, processes, ops_per_s: total, per_process: Math.round(total / processes), p99_us: Math.max(...parts.map((p) => p.p99_us)), store_share: Math.min(...parts.map((p) => p.store_share ?? 0)) });
  }
  // A Cluster takes seconds to start, so quick mode leaves it out unless --scale-cluster asks for it.
  if (!available.RedisStore) {
    instanceRows.push({ setup: 'Redis Cluster, 3 masters', ops_per_s: NOT_AVAILABLE });
  } else if (quick && args.scaleCluster !== true) {
    instanceRows.push({ setup: 'Redis Cluster, 3 masters (and 1 redis-server beside it)', ops_per_s: 'full run only (--scale-cluster to force)' });
  } else {
    log('scale: RedisStore on a Redis Cluster of 3 masters, and on one redis-server');
    try {
      const r = await runInChild(SCALE, 'clusterVersusSingle', { clients: 10_000, concurrency: settings.concurrency, durationMs: settings.durationMs }, { timeoutMs: 180_000 });
      instanceRows.push({ setup: '1 process, one redis-server of its own', processes: 1, ...r.single, per_process: r.single.ops_per_s });
      instanceRows.push({ setup: '1 process, Redis Cluster of 3 masters (own servers)', processes: 1, ...r.cluster, per_process: r.cluster.ops_per_s });
    } catch (error) {
      instanceRows.push({ setup: 'Redis Cluster, 3 masters', ops_per_s: `failed: ${String(error.message).split('\n')[0]}` });
    }
  }

  const num = (v) => (typeof v === 'number' ? v : null);
  return {
    settings,
    raw: { clientsRows, instanceRows },
    tables: [
      {
        title: 'As clients grow (sequential awaits for MemoryStore; concurrency ' + settings.concurrency + ' for RedisStore)',
        columns: [
          { key: 'store', label: 'store', align: 'left' },
          { key: 'clients', label: 'distinct clients' },
          { key: 'ops_per_s', label: 'decisions/s' },
          { key: 'ns_per_decision', label: 'ns/decision' },
          { key: 'p99_us', label: 'p99 us', digits: 2 },
          { key: 'store_share', label: 'share decided by Redis', digits: 3 },
        ],
        rows: clientsRows,
      },
      {
        title: 'As instances grow (each process: RedisStore, 10,000 distinct clients, concurrency ' + settings.concurrency + ')',
        columns: [
          { key: 'setup', label: 'setup', align: 'left' },
          { key: 'ops_per_s', label: 'decisions/s, all processes' },
          { key: 'per_process', label: 'per process' },
          { key: 'p99_us', label: 'worst p99 us', digits: 0 },
          { key: 'store_share', label: 'share decided by Redis', digits: 3 },
        ],
        rows: instanceRows,
      },
    ],
    charts: [
      {
        name: 'scale-clients',
        title: 'Nanoseconds per decision as distinct clients grow',
        svg: lineChart({
          title: 'ns per decision as distinct clients grow',
          xLabel: 'distinct clients (log scale)',
          yLabel: 'ns / decision',
          logX: true,
          series: ['MemoryStore', 'RedisStore'].map((store) => ({ name: store, points: clientsRows.filter((r) => r.store === store && num(r.ns_per_decision) !== null).map((r) => [r.clients, r.ns_per_decision]) })),
        }),
      },
    ],
    headline: {
      scale_memory_ns_per_decision_1: num(clientsRows.find((r) => r.store === 'MemoryStore' && r.clients === 1)?.ns_per_decision),
      scale_memory_ns_per_decision_max_clients: num(clientsRows.filter((r) => r.store === 'MemoryStore').at(-1)?.ns_per_decision),
    },
    notes: [
      'MemoryStore rows: one process, sequential awaits, requests cycling through N distinct ids (N = 1 is the hot client).',
      'Instances: that many Node processes at once, each with its own connection and key prefix, on the one Redis at 127.0.0.1:6379; on a 2-core machine more processes than cores measure the CPU, not Redis.',
      'Cluster: RedisStore through an ioredis Cluster client on 3 masters started by @slidegate/test-utils startCluster, beside one redis-server started the same way, in the same child process, one after the other (on one machine a Cluster adds hops and processes, not cores: read it as the cost of the topology, not its capacity).',
    ],
  };
}
