// Suite `accuracy`: the same request trace through slidegate's algorithms and the peers'
// limiters, each with limit L per window W: how far over L each goes, and how much of L it uses under load.
import { fileURLToPath } from 'node:url';
import { runInChild } from '../lib/child.mjs';
import { numberSetting } from '../lib/args.mjs';
import { barChart } from '../lib/svg.mjs';
import { detect, NOT_AVAILABLE } from '../lib/available.mjs';
import { HOW_TO_GET_REDIS, redisReachable } from '../lib/redis.mjs';
import { SCENARIOS } from '../lib/trace.mjs';

const CASES = fileURLToPath(new URL('./accuracy-cases.mjs', import.meta.url));
const MEMORY_SUBJECTS = [
  "slidegate 'sliding-window'",
  "slidegate 'sliding-window', bucketMs 1",
  "slidegate 'sliding-log'",
  "slidegate 'sliding-counter'",
  'express-rate-limit MemoryStore',
  'rate-limiter-flexible RateLimiterMemory',
  '@fastify/rate-limit LocalStore',
  'hono-rate-limiter MemoryStore',
  '@nestjs/throttler ThrottlerStorageService',
];

export const title = 'Accuracy: the same trace through every limiter';

export async function run({ quick, args, log }) {
  const params = {
    L: numberSetting(args, 'accuracyLimit', { quick: 100, full: 100 }, quick),
    W: numberSetting(args, 'accuracyWindow', { quick: 60, full: 60 }, quick),
    windows: numberSetting(args, 'accuracyWindows', { quick: 2, full: 10 }, quick),
    clients: numberSetting(args, 'accuracyClients', { quick: 100, full: 1000 }, quick),
    seed: numberSetting(args, 'seed', { quick: 42, full: 42 }, quick),
  };
  const realtimeClients = numberSetting(args, 'accuracyRealtimeClients', { quick: 5, full: 20 }, quick);
  const redisClients = numberSetting(args, 'accuracyRedisClients', { quick: 100, full: 250 }, quick);
  const settings = { ...params, realtimeClients, redisClients };
  const available = await detect();
  const redisUp = await redisReachable();
  const rows = [];
  // Each trace at the suite's L and W; the ms-boundary trace (2L within 6 ms across a boundary) at
  // W = 1 s and W = 10 s, where counting in whole seconds shows most.
  const runs = Object.keys(SCENARIOS).flatMap((trace) =>
    trace === 'ms-boundary'
      ? [1, 10].map((W) => ({ trace, name: `ms-boundary-${W}s`, params: { ...params, W, windows: Math.max(params.windows, quick ? 3 : 10) } }))
      : [{ trace, name: trace, params }],
  );
  for (const run of runs) {
    // `scenario` names the row group; the trace and its parameters come from the run.
    const scenario = run.name;
    const traceParams = run.params;
    log(`accuracy: ${scenario}, in-process limiters`);
    for (const subject of MEMORY_SUBJECTS) {
      // One process per limiter: the Date shim and each limiter's garbage stay apart.
      const row = await runInChild(CASES, 'replayMemory', { subject, scenario: run.trace, params: traceParams }, { execArgv: ['--max-old-space-size=4096'] });
      rows.push({ ...row, scenario });
    }
    // Hooks for the shared store: activated when RedisStore (and leases) exist in the build.
    // Quick mode keeps the two ends: one instance without leases, four with.
    const redisVariants = quick ? [[1, false], [4, true]] : [[1, false], [4, false], [1, true], [4, true]];
    for (const [instances, lease] of redisVariants) {
      const subject = `slidegate RedisStore 'sliding-window'${lease ? ' + leases' : ''}${instances > 1 ? `, ${instances} instances` : ''}`;
      if (!available.RedisStore || (lease && !available.lease)) {
        rows.push({ subject, scenario, time: 'trace timestamps', max_window_over_L: NOT_AVAILABLE });
      } else if (!redisUp) {
        rows.push({ subject, scenario, max_window_over_L: HOW_TO_GET_REDIS });
      } else {
        log(`accuracy: ${scenario} ${subject}`);
        const clientLimit = scenario === 'many-clients' && redisClients < params.clients ? redisClients : undefined;
        const r = await runInChild(CASES, 'replaySlidegateRedis', { scenario: run.trace, params: traceParams, instances, lease, clientLimit }, { timeoutMs: 600_000 });
        rows.push({ ...r, scenario, note: [r.note, clientLimit ? `clients c0..c${clientLimit - 1} of the same trace` : ''].filter(Boolean).join('; ') });
      }
    }
    if (redisUp) {
      log(`accuracy: ${scenario} Redis peers in real time (${params.windows} s)`);
      const clientLimit = scenario === 'many-clients' ? realtimeClients : undefined;
      const realtime = await runInChild(CASES, 'replayRealtime', { scenario: run.trace, params: traceParams, clientLimit });
      rows.push(...realtime.map((r) => ({ ...r, scenario, note: clientLimit ? `clients c0..c${clientLimit - 1} of the same trace` : '' })));
    } else {
      rows.push({ subject: 'Redis peers (real time)', scenario, max_window_over_L: HOW_TO_GET_REDIS });
    }
  }

  const tables = runs.map(({ name: scenario, params: p }) => ({
    title: `${scenario} (L = ${p.L}, W = ${p.W} s, ${p.windows} windows${scenario === 'many-clients' ? `, ${p.clients} clients` : ''})`,
    columns: [
      { key: 'subject', label: 'limiter', align: 'left' },
      { key: 'max_window_over_L', label: 'most admitted in any window (s - W, s] / L', digits: 2 },
      { key: 'max_realtime_over_L', label: 'most admitted in any W s of real time / L', digits: 2 },
      { key: 'used_share_when_over', label: 'share of L used while demand > L', digits: 3 },
      { key: 'used_share_realtime', label: 'same, in real time (ms)', digits: 3 },
      { key: 'admitted', label: 'admitted' },
      { key: 'offered', label: 'offered' },
      { key: 'time', label: 'time source', align: 'left' },
      { key: 'note', label: 'note', align: 'left' },
    ],
    rows: rows.filter((r) => r.scenario === scenario),
  }));
  const num = (v) => (typeof v === 'number' ? v : null);
  const burstRows = rows.filter((r) => r.scenario === 'boundary-bursts');
  const headline = {};
  for (const r of rows) {
    const key = r.subject.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
    if (num(r.max_window_over_L) !== null) headline[`accuracy_${r.scenario.replace(/-/g, '_')}_${key}_max_over_L`] = r.max_window_over_L;
    if (num(r.max_realtime_over_L) !== null) headline[`accuracy_${r.scenario.replace(/-/g, '_')}_${key}_max_realtime_over_L`] = r.max_realtime_over_L;
  }
  return {
    settings,
    raw: { rows },
    tables,
    charts: [
      {
        name: 'accuracy-boundary-bursts',
        title: 'Boundary bursts: most admitted in any window, as a multiple of L',
        svg: barChart({
          title: 'Boundary bursts: most admitted in any window of W (x L)',
          unit: 'x',
          bars: burstRows.map((r) => ({ label: r.subject.replace('rate-limiter-flexible ', 'rlflex '), value: num(r.max_window_over_L), group: r.subject.split(' ')[0], note: typeof r.max_window_over_L === 'string' ? r.max_window_over_L : undefined })),
          marker: { value: 1, label: 'L' },
        }),
      },
    ],
    headline,
    notes: [
      'Trace (bench/lib/trace.mjs, seeded mulberry32): boundary-bursts = one client, L requests in the last W/12 before every multiple of W and L in the first W/12 after it (after one request at 0 that opens the peers\' fixed windows); steady-2x = one client offering 2L per W as Poisson arrivals; many-clients = each client at 0.5x, 1x, 1.5x or 3x L/W from a random start, plus one burst of L within 2 s at a random time.',
      'In-process limiters get the trace\'s timestamps: slidegate through check({ timestamp }) (and a store clock set to the same time); the peers read the wall clock, so a small Date shim (bench/lib/fake-date.mjs, Date.now() and new Date()) is set to each request\'s time before it is sent. No timers are faked: none of these peers decides with a timer (rate-limiter-flexible and express-rate-limit only free memory with them).',
      'Redis peers (RateLimiterRedis, rate-limit-redis) let Redis\'s clock expire their windows, so they replay in real time, compressed: one window of W trace-seconds lasts 1 real second (their window is 1 s). The time each request was actually sent, mapped back to trace time, is what the metrics use. For many-clients only the first clients of the same trace replay (each client\'s traffic comes from its own seeded stream, so it is the same traffic).',
      `slidegate on RedisStore replays the trace with its own timestamps (no waiting), each client's requests in order, up to 64 clients at once; for many-clients only clients c0..c${redisClients - 1} when the trace has more (the round trips would otherwise dominate the run). Instances: separate RateLimiter objects, each on its own connection, taking requests in turn.`,
      '"Most admitted in any window (s - W, s]" counts whole-second windows (timestamps floored to seconds, every integer s), the axis of limiters that count in seconds. "Real time" counts any interval of W seconds at millisecond precision, the SPEC\'s guarantee: a limiter that works in whole seconds can admit up to 2L there, when L arrive at the very end of second k and L at the start of second k + W (ms-boundary: 2L within 6 ms). slidegate\'s exact rows read at most 1.00 in real time; its default buckets (ceil(W / 60)) under-admit by at most one bucket against bucketMs 1, which the share columns show.',
      'ms-boundary (bench/lib/trace.mjs): one client, L requests in the last 3 ms before every multiple of W and L in the first 3 ms after it, at W = 1 s and W = 10 s.',
      '"Share of L used while demand > L": over every client and every whole-second window where more than L requests were offered, the mean of min(admitted, L) / L. An exact window can be below 1 here (requests admitted just before the window can hold it full), so compare limiters on the same trace rather than against 1.',
    ],
  };
}
