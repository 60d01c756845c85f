// Suite `lease`: a hot client on RedisStore with and without local quota leases, Redis commands per
// decision, and how much of L instances holding leases leave unused (under-admission) or admit above it.
import { fileURLToPath } from 'node:url';
import { runInChild } from '../lib/child.mjs';
import { numberSetting } from '../lib/args.mjs';
import { ratio } from '../lib/stats.mjs';
import { barChart } from '../lib/svg.mjs';
import { detect, NOT_AVAILABLE } from '../lib/available.mjs';
import { HOW_TO_GET_REDIS, redisReachable } from '../lib/redis.mjs';

const CASES = fileURLToPath(new URL('./lease-cases.mjs', import.meta.url));
const ACCURACY = fileURLToPath(new URL('./accuracy-cases.mjs', import.meta.url));

export const title = 'Local quota leases: throughput, Redis commands per decision, under-admission';

export async function run({ quick, args, log }) {
  const settings = {
    durationMs: numberSetting(args, 'leaseDurationMs', { quick: 500, full: 3000 }, quick),
    concurrency: numberSetting(args, 'concurrency', { quick: 256, full: 256 }, quick),
    L: 100,
    W: 60,
    windows: numberSetting(args, 'leaseWindows', { quick: 3, full: 10 }, quick),
  };
  const available = await detect();
  const missing = [!available.RedisStore && 'RedisStore', !available.lease && "RateLimiter's lease option"].filter(Boolean);
  if (missing.length > 0) {
    return {
      settings,
      tables: [
        {
          title: 'Leases',
          columns: [{ key: 'what', label: 'measurement', align: 'left' }, { key: 'status', label: 'status', align: 'left' }],
          rows: [
            'hot client on RedisStore, with and without leases: decisions/s, p50/p99 (c1, c256)',
            'Redis commands per decision (INFO total_commands_processed on a throwaway redis-server)',
            'share of L allowed per window, 1/2/4 instances each offering 2L',
            'over-admission (units above L in any window), 1/2/4 instances',
          ].map((what) => ({ what, status: `${NOT_AVAILABLE} (${missing.join(', ')})` })),
        },
      ],
      headline: {},
      notes: ['The measurement plan is coded in bench/suites/lease.mjs and lease-cases.mjs; it runs as soon as the build exports RedisStore and RateLimiter accepts `lease`.'],
    };
  }
  if (!(await redisReachable())) return { settings, tables: [], headline: {}, notes: [`Skipped: ${HOW_TO_GET_REDIS}.`] };

  const speed = [];
  for (const lease of [false, true]) {
    for (const concurrency of [1, settings.concurrency]) {
      log(`lease: hot client lease=${lease} c${concurrency}`);
      speed.push(await runInChild(CASES, 'hotClient', { lease, concurrency, durationMs: settings.durationMs }));
    }
  }
  log('lease: hot client, sequential awaits, RedisStore defaults against MemoryStore');
  const sequential = await runInChild(CASES, 'hotSequential', { durationMs: settings.durationMs });
  const share = [];
  const variants = quick ? [[1, true], [4, false], [4, true]] : [1, 2, 4].flatMap((n) => [[n, false], [n, true]]);
  for (const [instances, lease] of variants) {
    log(`lease: under-admission, ${instances} instances, lease=${lease}`);
    // Each instance offers 2L per window: the steady trace at instances x 2L, taken in turn by the instances.
    const params = { L: settings.L, W: settings.W, windows: settings.windows, seed: 7, rateL: settings.L * instances };
    const r = await runInChild(ACCURACY, 'replaySlidegateRedis', { scenario: 'steady-2x', params, instances, lease });
    share.push({ instances, lease, ...r });
  }
  const find = (lease, c) => speed.find((r) => r.lease === lease && r.concurrency === c);
  const withLease = find(true, settings.concurrency);
  const without = find(false, settings.concurrency);
  const four = share.find((r) => r.instances === 4 && r.lease);
  return {
    settings,
    raw: { speed, sequential, share },
    tables: [
      {
        title: 'Targets',
        columns: [{ key: 'target', label: 'target', align: 'left' }, { key: 'measured', label: 'measured', align: 'left' }, { key: 'met', label: 'met' }],
        rows: [
          { target: 'hot client with leases >= 10x without', measured: `${ratio(withLease.ops_per_s, without.ops_per_s)}x`, met: ratio(withLease.ops_per_s, without.ops_per_s) >= 10 },
          { target: '<= 0.05 Redis commands per decision below half the limit', measured: String(withLease.commands_per_decision), met: withLease.commands_per_decision <= 0.05 },
          {
            target: 'a decision from a lease >= 0.5x a MemoryStore decision (one hot client, sequential awaits, same process)',
            measured:
              `${sequential.lease_vs_memory}x (${sequential.lease_ops_per_s} against ${sequential.memory_ops_per_s} decisions/s; ${sequential.commands_per_decision} Redis commands a decision); ` +
              `the spending alone ${sequential.spend_vs_memory}x, each acquisition adding ${sequential.acquisition_us} us` +
              (sequential.store_timeouts > 0 ? `; store timeouts during the run: ${sequential.store_timeouts}` : ''),
            met: sequential.lease_vs_memory >= 0.5,
          },
          { target: 'over-admission exactly 0 (4 instances)', measured: String(four.over_admitted), met: four.over_admitted === 0 },
          { target: '>= 95% of L allowed per window while demand exceeds it (4 instances)', measured: String(four.used_share_when_over), met: four.used_share_when_over >= 0.95 },
        ],
      },
      {
        title: 'Hot client on RedisStore (throwaway redis-server of its own)',
        columns: [
          { key: 'lease', label: 'leases' },
          { key: 'concurrency', label: 'concurrency' },
          { key: 'ops_per_s', label: 'decisions/s' },
          { key: 'p50_us', label: 'p50 us', digits: 1 },
          { key: 'p99_us', label: 'p99 us', digits: 1 },
          { key: 'commands_per_decision', label: 'Redis commands/decision', digits: 4 },
          { key: 'lease_share', label: 'decided from a lease', digits: 3 },
          { key: 'fallback_share', label: 'decided by the fallback', digits: 3 },
        ],
        rows: speed,
      },
      {
        title: 'One hot client, sequential awaits, in one process: where a lease decision\'s time goes',
        columns: [
          { key: 'subject', label: 'subject', align: 'left' },
          { key: 'ops_per_s', label: 'decisions/s (best run)' },
          { key: 'vs_memory', label: 'x MemoryStore', digits: 2 },
          { key: 'cpu_ns', label: 'CPU ns a decision' },
          { key: 'store_calls', label: 'store calls a decision', digits: 5 },
        ],
        rows: [
          { subject: 'MemoryStore', ops_per_s: sequential.memory_ops_per_s, vs_memory: 1, cpu_ns: sequential.memory_cpu_ns, store_calls: 0 },
          { subject: 'RedisStore, defaults (leases of up to 1000 units)', ops_per_s: sequential.lease_ops_per_s, vs_memory: sequential.lease_vs_memory, cpu_ns: sequential.lease_cpu_ns, store_calls: sequential.store_calls_per_decision },
          { subject: 'RedisStore, leases of up to 1e7 units (the spending alone)', ops_per_s: sequential.spend_ops_per_s, vs_memory: sequential.spend_vs_memory, cpu_ns: sequential.spend_cpu_ns, store_calls: sequential.spend_store_calls_per_decision },
        ],
      },
      {
        title: `Instances each offering 2L (L = ${settings.L}, W = ${settings.W} s, ${settings.windows} windows, steady Poisson traffic)`,
        columns: [
          { key: 'instances', label: 'instances' },
          { key: 'lease', label: 'leases' },
          { key: 'used_share_when_over', label: 'share of L allowed per window', digits: 3 },
          { key: 'over_admitted', label: 'units above L in any window' },
          { key: 'max_window_over_L', label: 'most in any window / L', digits: 2 },
        ],
        rows: share,
      },
    ],
    charts: [
      {
        name: 'lease-hot-ops',
        title: 'Hot client: decisions/s with and without leases',
        svg: barChart({ title: 'Hot client on RedisStore: decisions/s', bars: speed.map((r) => ({ label: `leases ${r.lease ? 'on' : 'off'}, c${r.concurrency}`, value: r.ops_per_s, group: String(r.lease) })) }),
      },
    ],
    headline: {
      lease_hot_ops: withLease.ops_per_s,
      // Sequential awaits, as memory_hot_ops (core suite) is measured; the MemoryStore figure beside it is the same process's.
      lease_hot_ops_c1: sequential.lease_ops_per_s,
      lease_memory_hot_ops_c1: sequential.memory_ops_per_s,
      lease_vs_memory_hot_c1: sequential.lease_vs_memory,
      lease_spend_vs_memory_hot_c1: sequential.spend_vs_memory,
      lease_acquisition_us_c1: sequential.acquisition_us,
      nolease_hot_ops: without.ops_per_s,
      lease_commands_per_decision: withLease.commands_per_decision,
      nolease_commands_per_decision: without.commands_per_decision,
      lease_used_share_4_instances: four.used_share_when_over,
      over_admitted_4_instances: four.over_admitted,
    },
    notes: [
      'Sequential awaits (target row, lease_hot_ops_c1): one decision awaited after another on one hot client, RedisStore with its defaults (leases on) and a MemoryStore limiter in one child process, alternating, two runs each, the best of each; as the core suite measures memory_hot_ops.',
      'Where that time goes (same child, same rounds): the spending alone is RedisStore with leases of up to 1e7 units, which last their whole 300 ms life, so next to no decision waits for Redis; an acquisition\'s cost is the defaults\' time a decision beyond it, divided by the script calls (EVALSHA and EVAL in INFO commandstats) a decision, and includes the wait for Redis. CPU ns a decision: process.cpuUsage() over all rounds (every thread of the process), which leaves out time spent waiting.',
      'Commands per decision: growth of total_commands_processed in INFO stats on a redis-server started for this row alone, read after in-flight work has landed, minus the reading itself, divided by decisions.',
      'Instances: separate RateLimiter objects, each with its own ioredis connection, in one process, taking the trace\'s requests in turn with the trace\'s timestamps (decisions are sequential; the multi-process concurrent version is the scale suite\'s).',
    ],
  };
}
