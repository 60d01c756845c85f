// Suite `scale` (issue 8 item 4): cost per decision as clients grow (1, 10^3, 10^5, 10^6) and as instances grow
// (1, 2, 4 processes on one Redis; a Redis Cluster of 3 masters).
import { fileURLToPath } from 'node:url';
import { runInChild } from '../lib/child.mjs';
import { numberSetting } from '../lib/args.mjs';
import { lineChart } from '../lib/svg.mjs';
import { detect, NOT_AVAILABLE } from '../lib/available.mjs';
import { redisReachable } from '../lib/redis.mjs';

const CORE = fileURLToPath(new URL('./core-cases.mjs', import.meta.url));
const REDIS = fileURLToPath(new URL('./redis-cases.mjs', import.meta.url));

export const title = 'Scale: cost per decision as clients and instances grow';

export async function run({ quick, args, log }) {
  const settings = {
    durationMs: numberSetting(args, 'scaleDurationMs', { quick: 300, full: 2000 }, quick),
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
    clientsRows.push({ store: 'RedisStore', clients: n, ops_per_s: r.ops_per_s, ns_per_decision: Math.round(1e9 / r.ops_per_s), p99_us: r.p99_us });
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
    instanceRows.push({ setup: `${processes} process(es) on one Redis`, processes, ops_per_s: total, per_process: Math.round(total / processes), p99_us: Math.max(...parts.map((p) => p.p99_us)) });
  }
  instanceRows.push({ setup: 'Redis Cluster, 3 masters', processes: 1, ops_per_s: `${NOT_AVAILABLE} (needs RedisStore and the test-utils Cluster helper wired into this suite)` });

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
    ],
  };
}
