// Suite `redis`: RedisStore check() beside a raw EVALSHA round trip and RateLimiterRedis, on the same
// Redis in the same run; bytes per client in Redis for each algorithm.
import { fileURLToPath } from 'node:url';
import { runInChild } from '../lib/child.mjs';
import { numberSetting } from '../lib/args.mjs';
import { ratio } from '../lib/stats.mjs';
import { barChart } from '../lib/svg.mjs';
import { detect, NOT_AVAILABLE } from '../lib/available.mjs';
import { HOW_TO_GET_REDIS, REDIS_URL, redisReachable } from '../lib/redis.mjs';

const CASES = fileURLToPath(new URL('./redis-cases.mjs', import.meta.url));
const ALGORITHMS = ['sliding-window', 'sliding-log', 'sliding-counter'];

export const title = 'Shared store: Redis round trips (RedisStore vs raw EVALSHA vs RateLimiterRedis)';

export async function run({ quick, args, log }) {
  const settings = {
    redis: REDIS_URL,
    durationMs: numberSetting(args, 'redisDurationMs', { quick: 300, full: 3000 }, quick),
    concurrency: numberSetting(args, 'concurrency', { quick: 256, full: 256 }, quick),
    distinctClients: numberSetting(args, 'redisClients', { quick: 10_000, full: 100_000 }, quick),
    memoryClients: numberSetting(args, 'redisMemoryClients', { quick: 1000, full: 10_000 }, quick),
    requestsPerClient: numberSetting(args, 'redisRequestsPerClient', { quick: 3, full: 3 }, quick),
    costDecisions: numberSetting(args, 'redisCostDecisions', { quick: 5000, full: 50_000 }, quick),
    // Rounds of the per-client row pairs (raw, then slidegate, for each client in turn); each ratio is the median of its rounds.
    clientRounds: numberSetting(args, 'redisClientRounds', { quick: 1, full: 1 }, quick),
    // --redis-per-client-only: only the per-client row pairs (the question of how each client's translation does).
    perClientOnly: args.redisPerClientOnly === true,
  };
  if (!(await redisReachable())) {
    return { settings, tables: [], headline: {}, notes: [`Skipped: ${HOW_TO_GET_REDIS}.`] };
  }
  const { RedisStore } = await detect();
  const c = settings.concurrency;
  const plan = [];
  // Quick mode measures on the auto-pipelined client only (the faster one for every subject here).
  for (const autoPipelining of settings.perClientOnly ? [] : quick ? [true] : [false, true]) {
    for (const concurrency of [1, c]) {
      plan.push({ subject: 'raw-evalsha', label: 'raw ioredis EVALSHA (return 1)', clients: 1, concurrency, autoPipelining });
      plan.push({ subject: 'rlflex', label: 'rate-limiter-flexible RateLimiterRedis', clients: 1, concurrency, autoPipelining });
      for (const algorithm of ALGORITHMS) {
        if (algorithm !== 'sliding-window' && concurrency !== c) continue;
        plan.push({ subject: 'slidegate', label: `slidegate RedisStore '${algorithm}'`, algorithm, clients: 1, concurrency, autoPipelining });
      }
      plan.push({ subject: 'slidegate', label: "slidegate RedisStore 'sliding-window'", algorithm: 'sliding-window', clients: settings.distinctClients, concurrency, autoPipelining });
      // A client hot for a minute already: its window holds a count in each of its 60 one-second buckets.
      plan.push({ subject: 'slidegate', label: "slidegate RedisStore 'sliding-window', full window (60 buckets)", algorithm: 'sliding-window', fullWindow: true, clients: 1, concurrency, autoPipelining });
      // The store's defaults (leases on): what an application gets, beside the one-script-call-a-decision rows.
      for (const clients of [1, settings.distinctClients]) {
        plan.push({ subject: 'slidegate', label: "slidegate RedisStore 'sliding-window', default options (leases)", algorithm: 'sliding-window', lease: true, clients, concurrency, autoPipelining });
      }
      if (concurrency === c) {
        // One script call per check (maxBatch 1): what batching the checks in flight adds.
        for (const clients of [1, settings.distinctClients]) {
          plan.push({ subject: 'slidegate', label: "slidegate RedisStore 'sliding-window', unbatched (maxBatch 1)", algorithm: 'sliding-window', maxBatch: 1, clients, concurrency, autoPipelining });
        }
      }
    }
  }
  const rows = [];
  for (const p of plan) {
    const row = { ...p, client: p.autoPipelining ? 'auto-pipelined' : 'plain', clients_label: p.clients === 1 ? '1 hot' : p.clients.toLocaleString('en-US') };
    if (p.subject === 'slidegate' && !RedisStore) {
      rows.push({ ...row, ops_per_s: NOT_AVAILABLE });
      continue;
    }
    log(`redis: ${p.label} ${row.clients_label} c${p.concurrency} ${row.client}`);
    try {
      rows.push({ ...row, ...(await runInChild(CASES, 'speed', { ...p, durationMs: settings.durationMs })) });
    } catch (error) {
      rows.push({ ...row, ops_per_s: `failed: ${String(error.message).split('\n')[0]}` });
    }
  }

  const num = (v) => (typeof v === 'number' ? v : null);
  const best = (pred) => {
    const values = rows.filter(pred).map((r) => num(r.ops_per_s)).filter((v) => v !== null);
    return values.length ? Math.max(...values) : null;
  };
  const rawBest = best((r) => r.subject === 'raw-evalsha' && r.concurrency === c);
  const rlflexBest = best((r) => r.subject === 'rlflex' && r.concurrency === c);
  const ours = (clients, maxBatch) =>
    best((r) => r.subject === 'slidegate' && r.algorithm === 'sliding-window' && r.clients === clients && r.concurrency === c && r.store_share === 1 && r.maxBatch === maxBatch && !r.lease && !r.fullWindow);
  const oursHot = ours(1, undefined);
  const oursDistinct = ours(settings.distinctClients, undefined);
  const oursHotUnbatched = ours(1, 1);
  const oursDistinctUnbatched = ours(settings.distinctClients, 1);
  const distinctLabel = settings.distinctClients.toLocaleString('en-US');
  for (const r of rows) {
    r.vs_raw = r.concurrency === c ? ratio(num(r.ops_per_s), rawBest) : null;
    r.vs_rlflex = r.concurrency === c ? ratio(num(r.ops_per_s), rlflexBest) : null;
  }

  // One row pair per supported client: slidegate (hot client, c256) beside that client's own raw EVALSHA.
  const CLIENT_KINDS = ['ioredis 5', 'ioredis 6', 'iovalkey', 'node-redis 5', 'node-redis 4'];
  const rounds = Object.fromEntries(CLIENT_KINDS.map((k) => [k, []]));
  for (let round = 0; round < settings.clientRounds; round++) {
    for (const clientKind of RedisStore ? CLIENT_KINDS : []) {
      const measured = {};
      for (const subject of ['raw-evalsha', 'slidegate']) {
        log(`redis: ${clientKind} ${subject} c${c}${settings.clientRounds > 1 ? ` (round ${round + 1})` : ''}`);
        try {
          measured[subject] = await runInChild(CASES, 'clientSpeed', { clientKind, subject, concurrency: c, durationMs: settings.durationMs });
        } catch (error) {
          measured[subject] = { ops_per_s: `failed: ${String(error.message).split('\n')[0]}` };
        }
      }
      rounds[clientKind].push(measured);
    }
  }
  const perClient = [];
  for (const clientKind of RedisStore ? CLIENT_KINDS : []) {
    // The round whose ratio is the median (the only one with a single round).
    const ratios = rounds[clientKind].map((m) => ({ m, r: ratio(num(m.slidegate.ops_per_s), num(m['raw-evalsha'].ops_per_s)) }));
    const ordered = ratios.filter((x) => typeof x.r === 'number').sort((a, b) => a.r - b.r);
    const { m: measured } = ordered[Math.floor(ordered.length / 2)] ?? ratios[0];
    perClient.push({
      client: clientKind,
      raw_ops_per_s: measured['raw-evalsha'].ops_per_s,
      slidegate_ops_per_s: measured.slidegate.ops_per_s,
      vs_own_raw: ratio(num(measured.slidegate.ops_per_s), num(measured['raw-evalsha'].ops_per_s)),
      ...(settings.clientRounds > 1 ? { round_ratios: ratios.map((x) => x.r) } : {}),
      store_share: measured.slidegate.store_share,
      p99_us: measured.slidegate.p99_us,
    });
  }
  if (settings.perClientOnly) {
    return {
      settings,
      raw: { perClient },
      tables: [perClientTable(perClient, c, settings.clientRounds)],
      headline: { redis_clients_vs_own_raw: Object.fromEntries(perClient.map((r) => [r.client, r.vs_own_raw])) },
      notes: ['Per-client rows only (--redis-per-client-only).'],
    };
  }

  const cost = [];
  const costPlan = [
    { subject: 'raw-evalsha', label: 'raw ioredis EVALSHA (return 1)' },
    { subject: 'rlflex', label: 'rate-limiter-flexible RateLimiterRedis' },
    ...ALGORITHMS.map((algorithm) => ({ subject: 'slidegate', algorithm, label: `slidegate RedisStore '${algorithm}'` })),
    { subject: 'slidegate', algorithm: 'sliding-window', maxBatch: 1, label: "slidegate RedisStore 'sliding-window', unbatched (maxBatch 1)" },
  ];
  for (const p of costPlan) {
    if (p.subject === 'slidegate' && !RedisStore) {
      cost.push({ ...p, redis_us_per_decision: NOT_AVAILABLE });
      continue;
    }
    log(`redis: Redis CPU per decision, ${p.label}`);
    try {
      cost.push({ ...p, ...(await runInChild(CASES, 'redisCost', { ...p, clients: 1, concurrency: 64, decisions: settings.costDecisions })) });
    } catch (error) {
      cost.push({ ...p, redis_us_per_decision: `failed: ${String(error.message).split('\n')[0]}` });
    }
  }

  const memory = [];
  for (const algorithm of ALGORITHMS) {
    if (!RedisStore) {
      memory.push({ subject: `slidegate RedisStore '${algorithm}'`, bytes_per_client: NOT_AVAILABLE });
      continue;
    }
    log(`redis: bytes per client '${algorithm}'`);
    const m = await runInChild(CASES, 'bytes', { subject: 'slidegate', algorithm, clients: settings.memoryClients, requests: settings.requestsPerClient });
    memory.push({ ...m, subject: `slidegate RedisStore '${algorithm}'` });
  }
  log('redis: bytes per client RateLimiterRedis');
  memory.push({ ...(await runInChild(CASES, 'bytes', { subject: 'rlflex', clients: settings.memoryClients, requests: settings.requestsPerClient })), subject: 'rate-limiter-flexible RateLimiterRedis (fixed window)' });
  const oursBytes = memory.find((m) => m.subject === "slidegate RedisStore 'sliding-window'")?.bytes_per_client;

  const tables = [
    {
      title: 'Targets',
      columns: [
        { key: 'target', label: 'target', align: 'left' },
        { key: 'measured', label: 'measured', align: 'left' },
        { key: 'met', label: 'met' },
      ],
      rows: [
        ...[
          [`hot client c${c}`, oursHot],
          [`${distinctLabel} clients c${c}`, oursDistinct],
        ].flatMap(([what, value]) => [
          { target: `${what} >= 0.7x the best raw EVALSHA`, measured: value ? `${ratio(value, rawBest)}x` : NOT_AVAILABLE, met: value ? ratio(value, rawBest) >= 0.7 : null },
          { target: `${what} >= 1.3x RateLimiterRedis`, measured: value ? `${ratio(value, rlflexBest)}x` : NOT_AVAILABLE, met: value ? ratio(value, rlflexBest) >= 1.3 : null },
        ]),
        ...perClient.map((r) => ({
          target: `${r.client}: hot client c${c} >= 0.7x its own raw EVALSHA`,
          measured: typeof r.vs_own_raw === 'number' ? `${r.vs_own_raw}x` : NOT_AVAILABLE,
          met: typeof r.vs_own_raw === 'number' && r.store_share === 1 ? r.vs_own_raw >= 0.7 : null,
        })),
        { target: "<= 200 bytes per client in Redis ('sliding-window', a few requests)", measured: typeof oursBytes === 'number' ? `${oursBytes} B` : NOT_AVAILABLE, met: typeof oursBytes === 'number' ? oursBytes <= 200 : null },
      ],
    },
    {
      title: `Decisions/s on one Redis (${REDIS_URL}); concurrency = calls in flight`,
      columns: [
        { key: 'label', label: 'subject', align: 'left' },
        { key: 'clients_label', label: 'clients', align: 'left' },
        { key: 'concurrency', label: 'concurrency' },
        { key: 'client', label: 'ioredis client', align: 'left' },
        { key: 'ops_per_s', label: 'decisions/s' },
        { key: 'vs_raw', label: 'x best raw EVALSHA', digits: 2 },
        { key: 'vs_rlflex', label: 'x best RateLimiterRedis', digits: 2 },
        { key: 'p50_us', label: 'p50 us', digits: 0 },
        { key: 'p99_us', label: 'p99 us', digits: 0 },
        { key: 'store_share', label: 'share decided by Redis', digits: 3 },
      ],
      rows,
    },
    perClientTable(perClient, c, settings.clientRounds),
    {
      title: `Redis's own cost per decision (hot client, concurrency 64, ${settings.costDecisions.toLocaleString('en-US')} decisions, on a redis-server of its own)`,
      columns: [
        { key: 'label', label: 'subject', align: 'left' },
        { key: 'redis_us_per_decision', label: 'Redis CPU us/decision', digits: 2 },
        { key: 'commands_per_decision', label: 'Redis commands/decision', digits: 2 },
        { key: 'store_share', label: 'share decided by Redis', digits: 3 },
      ],
      rows: cost,
    },
    {
      title: `Bytes per client in Redis (MEMORY USAGE SAMPLES 0 over ${settings.memoryClients.toLocaleString('en-US')} clients, ${settings.requestsPerClient} requests each, 1 s apart)`,
      columns: [
        { key: 'subject', label: 'subject', align: 'left' },
        { key: 'bytes_per_client', label: 'bytes/client' },
        { key: 'keys_per_client', label: 'keys/client', digits: 2 },
      ],
      rows: memory,
    },
  ];
  const cBars = rows.filter((r) => r.concurrency === c && r.clients === 1);
  return {
    settings,
    raw: { rows, perClient, cost, memory },
    tables,
    charts: [
      {
        name: 'redis-ops-c256',
        title: `Hot client at concurrency ${c}: decisions/s`,
        svg: barChart({
          title: `Redis, hot client, ${c} in flight: decisions/s`,
          bars: cBars.map((r) => ({ label: `${r.label.replace('rate-limiter-flexible ', '')} (${r.client})`, value: num(r.ops_per_s), group: r.subject, note: typeof r.ops_per_s === 'string' ? r.ops_per_s : undefined })),
        }),
      },
    ],
    headline: {
      redis_hot_ops_c256: oursHot,
      redis_distinct_ops_c256: oursDistinct,
      redis_hot_unbatched_ops_c256: oursHotUnbatched,
      redis_distinct_unbatched_ops_c256: oursDistinctUnbatched,
      raw_evalsha_ops_c256: rawBest,
      rlflex_redis_ops_c256: rlflexBest,
      redis_bytes_per_client: typeof oursBytes === 'number' ? oursBytes : null,
      redis_clients_vs_own_raw: Object.fromEntries(perClient.map((r) => [r.client, r.vs_own_raw])),
    },
    notes: [
      'Every row runs in its own process on its own ioredis connection and key prefix (slidegate-bench:...), deleted afterwards; the shared server is never flushed.',
      `Concurrency 1 = sequential awaits; concurrency ${c} = ${c} loops each awaiting one call after another. Latency is per call, queueing in the client included.`,
      "The raw EVALSHA row is the floor cost of one scripted round trip ('return 1' with one key): no limiter that makes one call per decision can beat it. RedisStore sends the checks in flight on one instance together, as one EVALSHA of a batch script (up to maxBatch, default 128) that decides them in order exactly as separate calls would; the 'unbatched (maxBatch 1)' rows make one call per check, as RateLimiterRedis does.",
      "Every RedisStore row but the 'default options (leases)' ones passes lease: false, so each decision is one script call (batched); the targets are read from those rows. The leases rows show what the defaults give an application: a hot client is then decided in process from leased quota.",
      "'share decided by Redis': slidegate decisions whose source is 'store' (or 'lease'); below 1 means some calls exceeded the store timeout and were decided by the fallback, so the row does not measure Redis alone.",
      `Headline figures take the best of the plain and auto-pipelined client for each subject, so each is compared at its best${quick ? ' (quick mode: auto-pipelined client only)' : ''}.`,
      "Redis CPU per decision: growth of the usec counters of INFO commandstats (time Redis spent executing commands, including the calls inside scripts) divided by decisions, on a redis-server started for the row. On one machine where Node and Redis share the cores, this is what caps decisions/s once Redis saturates.",
      'RateLimiterRedis is a fixed window (points 1e9, duration 60 s); slidegate rows use limit 1e9 per 60 s, so every request is allowed and recorded.',
    ],
  };
}

/** Each client's slidegate beside its own raw EVALSHA; with several rounds, the round of median ratio and every round's ratio. */
function perClientTable(perClient, concurrency, rounds) {
  return {
    title: `Every supported client: hot client, ${concurrency} in flight, slidegate beside the same client's raw EVALSHA (one row pair per client, each in its own process${rounds > 1 ? `; the round of median ratio of ${rounds}` : ''})`,
    columns: [
      { key: 'client', label: 'client', align: 'left' },
      { key: 'raw_ops_per_s', label: 'raw EVALSHA/s' },
      { key: 'slidegate_ops_per_s', label: 'slidegate decisions/s' },
      { key: 'vs_own_raw', label: 'x own raw EVALSHA', digits: 2 },
      { key: 'p99_us', label: 'slidegate p99 us', digits: 0 },
      { key: 'store_share', label: 'share decided by Redis', digits: 3 },
    ],
    rows: perClient.map((r) => ({ ...r, ...(r.round_ratios ? { client: `${r.client} (rounds ${r.round_ratios.join(', ')})` } : {}) })),
  };
}
