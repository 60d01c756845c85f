// Suite `http`: req/s through each framework with no limiter, slidegate, and
// the framework's usual limiter, memory store and Redis, for three traffic shapes (one hot client, one client
// flooding at about 10x its limit, 10,000 clients round robin), with Redis commands per request from a
// redis-server of the suite's own; autocannon in this process, the server in its own.
import { execFileSync, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { numberSetting } from '../lib/args.mjs';
import { CORES, pinToCores } from '../lib/pin.mjs';
import { median, medianRun, pairedRatio, ratio } from '../lib/stats.mjs';
import { askNextTick, onSlowPath } from '../lib/next-tick-probe.mjs';
import { askCpu, cpuFigures } from '../lib/cpu-probe.mjs';
import { barChart } from '../lib/svg.mjs';
import { NOT_AVAILABLE } from '../lib/available.mjs';
import { commandsProcessed, connect, uniquePrefix } from '../lib/redis.mjs';
import { startThrowawayRedis } from '../lib/throwaway-redis.mjs';

const SERVER = fileURLToPath(new URL('./http-server.mjs', import.meta.url));
const FRAMEWORKS = ['express', 'koa', 'fastify', 'hono', 'nestjs', 'nestjs-fastify'];
/** The least share of bare req/s slidegate must keep; the adapters added later are held to their peer only. */
const NO_LIMITER_FLOOR = { express: 0.95, koa: 0.95, fastify: 0.95 };
const PEERS = { express: 'express-rate-limit', koa: 'koa-ratelimit', fastify: '@fastify/rate-limit', hono: 'hono-rate-limiter', nestjs: '@nestjs/throttler', 'nestjs-fastify': '@nestjs/throttler' };
const SHAPES = ['hot', 'flood', 'many'];
/** The flood shape's window; its limit is a tenth of what the framework served bare in the round's warm-up. */
const FLOOD_WINDOW_SECONDS = 10;
const FLOOD_FACTOR = 10;
const MANY_CLIENTS = 10_000;
const REDIS_VARIANTS = ['slidegate-redis', 'slidegate-redis-nolease', 'peer-redis'];

export const title = 'HTTP overhead: frameworks with no limiter, slidegate, and their usual limiter';

/**
 * `execPath` runs the servers under another Node (--http-node=PATH), to compare Node versions; `redisUrl` is the
 * suite's own redis-server, where every Redis variant keeps its counts.
 */
function startServer(framework, variant, prefix, { execPath, shape, floodLimit, redisUrl }) {
  return new Promise((resolve, reject) => {
    const env = redisUrl === undefined ? process.env : { ...process.env, BENCH_REDIS_URL: redisUrl };
    const child = fork(SERVER, [framework, variant, prefix, shape, String(floodLimit)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execPath, env });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench: ${framework} ${variant} server did not start within 15 s`));
    }, 15_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve({ child, ...message });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench: ${framework} ${variant} server exited (code ${code})`));
    });
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** The 'many' shape's requests: the x-client header cycles through MANY_CLIENTS keys, one request after another. */
let nextClient = 0;
const manyClients = [{ method: 'GET', path: '/', setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'x-client': `k${nextClient++ % MANY_CLIENTS}` } }) }];

async function load(port, { connections, duration, shape }) {
  const started = process.hrtime.bigint();
  const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration, pipelining: 1, ...(shape === 'many' ? { requests: manyClients } : {}) });
  return {
    wallMicros: Number(process.hrtime.bigint() - started) / 1000,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    requests: result.requests.total,
  };
}

function labelOf(framework, variant) {
  if (variant === 'none') return 'no limiter';
  if (variant === 'headers-only') return 'draft-8 headers only, fixed';
  if (variant === 'slidegate-noheaders') return 'slidegate (memory), headers: false';
  if (variant === 'slidegate-redis-nolease') return 'slidegate (RedisStore, lease: false)';
  if (variant.startsWith('peer')) return `${PEERS[framework]}${variant.endsWith('redis') ? ' (Redis)' : ' (memory)'}`;
  return `slidegate${variant.endsWith('redis') ? ' (RedisStore, defaults)' : ' (memory)'}`;
}

/**
 * One variant's server for a round, started, pinned and warmed up: { row, server, tally, warmRps } or
 * { row, server, failed }.
 */
async function startWarmed(framework, shape, variant, settings, prefix, floodLimit) {
  const row = { framework, shape, variant, label: labelOf(framework, variant) };
  let server;
  try {
    server = await startServer(framework, variant, prefix, { execPath: settings.node, shape, floodLimit, redisUrl: settings.redis?.url });
    // The servers on core 0, autocannon (this process) on core 1.
    if (settings.pinned) pinToCores(server.child.pid, '0');
    if (server.error) return { row, server, failed: `failed: ${server.error}` };
    const warm = await load(server.port, { connections: settings.connections, duration: settings.warmup, shape });
    return { row, server, tally: emptyTally(), warmRps: warm.requests / (warm.wallMicros / 1e6) };
  } catch (error) {
    return { row, server, failed: `failed: ${error.message}` };
  }
}

/** What a variant's slices of one round add up to. */
function emptyTally() {
  return { requests: 0, wallMicros: 0, serverMicros: 0, ownMicros: 0, p50s: [], p99s: [], non2xx: 0, errors: 0, redisCommands: 0 };
}

/** One slice: `seconds` of load on one server, added to its tally (server CPU null once a probe went unanswered). */
async function measureSlice(server, tally, settings, seconds, shape) {
  const admin = settings.redis?.admin;
  const redisBefore = admin === undefined ? 0 : await commandsProcessed(admin);
  const serverBefore = await askCpu(server.child);
  const ownBefore = process.cpuUsage();
  const slice = await load(server.port, { connections: settings.connections, duration: seconds, shape });
  const own = process.cpuUsage(ownBefore);
  const serverAfter = await askCpu(server.child);
  // Minus the first INFO itself; idle servers' background calls (lease returns, heartbeats) land here too.
  if (admin !== undefined) tally.redisCommands += (await commandsProcessed(admin)) - redisBefore - 1;
  tally.requests += slice.requests;
  tally.wallMicros += slice.wallMicros;
  tally.ownMicros += own.user + own.system;
  tally.serverMicros = serverBefore === null || serverAfter === null || tally.serverMicros === null ? null : tally.serverMicros + serverAfter.cpuMicros - serverBefore.cpuMicros;
  tally.p50s.push(slice.p50_ms);
  tally.p99s.push(slice.p99_ms);
  tally.non2xx += slice.non2xx;
  tally.errors += slice.errors;
}

/**
 * One round of one framework: a server per variant, all started and warmed up first, then loaded in turn,
 * `slices` times `duration / slices` seconds each, every slice starting at another variant. Each variant gets
 * its `duration` seconds of load as before, but spread over the round, between the others': this machine's
 * speed drifts by up to 2x within a minute (2026-12-06), and a drift then falls on every variant alike
 * instead of on whichever ran during it. Idle servers wait on core 0 beside the loaded one, taking next to no CPU.
 */
async function measureRound(framework, shape, variants, round, settings, log, prefix) {
  const started = [];
  // 'none' starts first: in the flood shape its warm-up sets the limit, a tenth of what the framework serves bare.
  let floodLimit = 100;
  for (const variant of variants) {
    const entry = await startWarmed(framework, shape, variant, settings, prefix, floodLimit);
    if (variant === 'none' && entry.warmRps > 0) floodLimit = Math.max(1, Math.round((entry.warmRps * FLOOD_WINDOW_SECONDS) / FLOOD_FACTOR));
    started.push(entry);
  }
  const seconds = settings.duration / settings.slices;
  try {
    for (let slice = 0; slice < settings.slices; slice++) {
      log(
        `http: ${framework} ${shape}, ${started.filter((entry) => entry.failed === undefined).length} servers, ${settings.slices > 1 ? `slice ${slice + 1}/${settings.slices} of ` : ''}${seconds} s each` +
          `${settings.rounds > 1 ? ` (round ${round}/${settings.rounds})` : ''}`,
      );
      const order = started.map((_, i) => started[(i + slice + round) % started.length]);
      for (const entry of order) {
        if (entry.failed !== undefined) continue;
        try {
          await measureSlice(entry.server, entry.tally, settings, seconds, shape);
        } catch (error) {
          entry.failed = `failed: ${error.message}`;
        }
      }
    }
    const rows = [];
    for (const { row, server, tally, failed } of started) {
      if (failed !== undefined) {
        rows.push({ ...row, rps: failed });
        continue;
      }
      rows.push({
        ...row,
        rps: Math.round(tally.requests / (tally.wallMicros / 1e6)),
        p50_ms: median(tally.p50s),
        p99_ms: Math.max(...tally.p99s),
        non2xx: tally.non2xx,
        errors: tally.errors,
        ...cpuFigures(tally),
        redis_commands_per_request: settings.redis === undefined ? null : Math.round((tally.redisCommands / tally.requests) * 10000) / 10000,
        ...(shape === 'flood' ? { flood_limit: floodLimit, flood_window_seconds: FLOOD_WINDOW_SECONDS } : {}),
        next_tick_ns: await askNextTick(server.child),
      });
    }
    return rows;
  } finally {
    for (const entry of started) if (entry.server?.child) await stopServer(entry.server.child);
  }
}

export async function run({ quick, args, log }) {
  const settings = {
    connections: numberSetting(args, 'connections', { quick: 50, full: 50 }, quick),
    duration: numberSetting(args, 'httpDuration', { quick: 3, full: 10 }, quick),
    warmup: numberSetting(args, 'httpWarmup', { quick: 0.5, full: 2 }, quick),
    rounds: numberSetting(args, 'httpRounds', { quick: 1, full: 5 }, quick),
    // Each variant's `duration` seconds of a round, in this many slices interleaved with the other variants'.
    slices: Math.max(1, Math.round(numberSetting(args, 'httpSlices', { quick: 3, full: 5 }, quick))),
    pinned: args.httpPin !== false && args.httpPin !== 'false' && pinToCores(process.pid, '1'),
    node: typeof args.httpNode === 'string' ? args.httpNode : process.execPath,
  };
  settings.server_node_version = execFileSync(settings.node, ['--version']).toString().trim();
  // Redis variants are left out of --quick to keep it under two minutes; --http-redis forces them. They run on a
  // redis-server of the suite's own, so that its command count is the servers' alone.
  let redisNote = '';
  if (args.httpRedis ?? !quick) {
    try {
      const server = await startThrowawayRedis();
      const admin = connect({ url: server.url });
      await admin.connect();
      settings.redis = { url: server.url, admin, kill: server.kill };
    } catch (error) {
      redisNote = ` Redis variants skipped: ${error.message}.`;
    }
  }
  const withRedis = settings.redis !== undefined;
  // Shapes beyond the hot client run in full runs (or with --http-shapes=hot,flood,many).
  const shapes = (typeof args.httpShapes === 'string' ? args.httpShapes.split(',') : quick ? ['hot'] : SHAPES).filter((shape) => SHAPES.includes(shape));
  // The two parts of slidegate's cost, each alone: a step that sends the two default headers and decides
  // nothing (the floor), and slidegate deciding with `headers: false`. Full runs only, as Redis is.
  const withFloor = args.httpFloor ?? !quick;
  const floorRowsNote = withFloor ? '' : ' (full runs and --http-floor only; not in this run)';
  const redisVariants = withRedis ? REDIS_VARIANTS : [];
  const variantsOf = (shape) =>
    shape === 'hot'
      ? ['none', ...(withFloor ? ['headers-only', 'slidegate-noheaders'] : []), 'slidegate', 'peer', ...redisVariants]
      : ['none', 'slidegate', ...redisVariants];
  const frameworks = typeof args.frameworks === 'string' ? FRAMEWORKS.filter((f) => args.frameworks.split(',').includes(f)) : FRAMEWORKS;
  const prefix = uniquePrefix('http');
  const runs = new Map();
  try {
    for (let round = 1; round <= settings.rounds; round++) {
      for (const framework of frameworks) {
        for (const shape of shapes) {
          for (const row of await measureRound(framework, shape, variantsOf(shape), round, settings, log, prefix)) {
            const key = `${framework}|${shape}|${row.variant}`;
            if (!runs.has(key)) runs.set(key, []);
            runs.get(key).push(row);
          }
        }
      }
    }
  } finally {
    // Back on every core for the suites that follow; the suite's redis-server goes with its keys.
    if (settings.pinned) pinToCores(process.pid, `0-${CORES - 1}`);
    if (withRedis) {
      settings.redis.admin.disconnect();
      await settings.redis.kill();
    }
  }
  const redisUrl = settings.redis?.url;
  delete settings.redis;
  const num = (v) => (typeof v === 'number' ? v : null);
  const tickTimes = [...runs.values()].flat().map((r) => r.next_tick_ns).filter((ns) => typeof ns === 'number');
  const fastestTick = tickTimes.length === 0 ? null : Math.min(...tickTimes);
  const rows = [...runs.values()].map((r) => {
    const fast = r.filter((run) => typeof run.next_tick_ns === 'number' && !onSlowPath(run.next_tick_ns, fastestTick));
    const slow = r.filter((run) => onSlowPath(run.next_tick_ns, fastestTick)).length;
    // req/s of the rounds whose server had the fast nextTick: what the limiter costs, V8's lottery aside.
    const rpsFast = fast.length === 0 ? null : num(medianRun(fast, 'rps').rps);
    const cpuRounds = r.map((run) => num(run.server_cpu_us));
    return {
      ...medianRun(r, 'rps'),
      slow_tick_rounds: `${slow}/${r.length}`,
      rps_fast_tick: rpsFast,
      rps_rounds: r.map((run) => num(run.rps)),
      server_cpu_us_rounds: cpuRounds,
      server_cpu_us_median: median(cpuRounds),
      redis_commands_per_request: median(r.map((run) => num(run.redis_commands_per_request))),
    };
  });
  const headline = {};
  for (const framework of FRAMEWORKS) {
    for (const shape of SHAPES) {
      const noneRow = rows.find((r) => r.framework === framework && r.shape === shape && r.variant === 'none');
      const none = num(noneRow?.rps);
      const noneFast = num(noneRow?.rps_fast_tick);
      // The hot client's figures keep their names from before there were shapes.
      const name = (variant, figure) => `http_${framework}${shape === 'hot' ? '' : `_${shape}`}_${variant.replaceAll('-', '_')}_${figure}`;
      for (const r of rows.filter((x) => x.framework === framework && x.shape === shape)) {
        r.vs_none = r.variant === 'none' ? null : ratio(num(r.rps), none);
        r.vs_none_fast_tick = r.variant === 'none' ? null : ratio(r.rps_fast_tick, noneFast);
        r.vs_none_paired = r.variant === 'none' ? null : pairedRatio(r.rps_rounds, noneRow?.rps_rounds ?? []);
        // Inverted, so it reads like the req/s ratio: the throughput the server's CPU cost alone would give.
        r.cpu_vs_none_paired = r.variant === 'none' ? null : pairedRatio(noneRow?.server_cpu_us_rounds ?? [], r.server_cpu_us_rounds);
        headline[name(r.variant, 'rps')] = num(r.rps);
        if (REDIS_VARIANTS.includes(r.variant)) headline[name(r.variant, 'commands_per_request')] = r.redis_commands_per_request;
      }
      if (!withRedis || !shapes.includes(shape)) for (const v of REDIS_VARIANTS) headline[name(v, 'rps')] ??= null;
    }
  }
  const floodCommands = rows.filter((r) => r.shape === 'flood' && r.variant === 'slidegate-redis').map((r) => r.redis_commands_per_request).filter((v) => typeof v === 'number');
  // The worst framework's figure: the defaults' cost to Redis of one client flooding over its limit.
  headline.http_flood_redis_commands_per_request = floodCommands.length === 0 ? null : Math.max(...floodCommands);
  const leaseTargets = leaseTargetRows(rows, frameworks, settings.rounds, headline.http_flood_redis_commands_per_request);
  /**
   * Met when the per-round req/s ratios and, where measured, the per-round CPU-time ratios both say so. On a
   * loaded machine autocannon can be the bottleneck of the fastest run (bare Fastify, 95% busy at 13:05 UTC on
   * 2026-12-06), whose req/s then understates the server: slidegate came out 0.96x bare by req/s and 0.90x by
   * CPU time in the same rounds.
   */
  const metPerRound = (floor, reqNone, reqPeer, cpuNone, cpuPeer) =>
    (floor === undefined || (reqNone !== null && reqNone >= floor && (cpuNone === null || cpuNone >= floor))) && reqPeer !== null && reqPeer >= 1 && (cpuPeer === null || cpuPeer >= 1);
  const targets = FRAMEWORKS.map((framework) => {
    const floor = NO_LIMITER_FLOOR[framework];
    const get = (variant) => rows.find((r) => r.framework === framework && r.shape === 'hot' && r.variant === variant);
    const ours = num(get('slidegate')?.rps);
    const none = num(get('none')?.rps);
    const peer = num(get('peer')?.rps);
    const slowRounds = ['none', 'slidegate', 'peer'].map((variant) => get(variant)?.slow_tick_rounds ?? '-');
    const fastTick = slowRounds.every((rounds) => rounds.startsWith('0/'))
      ? ''
      : `; rounds on the nextTick slow path (none/slidegate/peer): ${slowRounds.join(', ')}; in the other rounds: ` +
        `${get('slidegate')?.vs_none_fast_tick ?? '-'}x no limiter, ${ratio(get('slidegate')?.rps_fast_tick, get('peer')?.rps_fast_tick) ?? '-'}x peer`;
    // Judged on per-round ratios: each round's slidegate run against the same round's other run, seconds apart.
    const pairedNone = get('slidegate')?.vs_none_paired ?? null;
    const pairedPeer = pairedRatio(get('slidegate')?.rps_rounds ?? [], get('peer')?.rps_rounds ?? []);
    const paired = settings.rounds > 1 ? `; per-round ratios (median of ${settings.rounds}): ${pairedNone ?? '-'}x no limiter, ${pairedPeer ?? '-'}x peer` : '';
    const cpuNone = pairedRatio(get('none')?.server_cpu_us_rounds ?? [], get('slidegate')?.server_cpu_us_rounds ?? []);
    const cpuPeer = pairedRatio(get('peer')?.server_cpu_us_rounds ?? [], get('slidegate')?.server_cpu_us_rounds ?? []);
    const cpu = cpuNone === null ? '' : `; by server CPU a request (inverted, per round): ${cpuNone}x no limiter, ${cpuPeer ?? '-'}x peer`;
    // slidegate's two parts, each alone (full runs): its headers with no decision, its decision with no headers.
    const part = (variant, what) => {
      const row = get(variant);
      if (row === undefined) return '';
      const byRps = (settings.rounds > 1 ? row.vs_none_paired : row.vs_none) ?? '-';
      return `; ${what}: ${byRps}x no limiter (CPU ${row.cpu_vs_none_paired ?? '-'}x)`;
    };
    const parts = part('headers-only', 'the two draft-8 headers alone, fixed, no decision') + part('slidegate-noheaders', 'slidegate deciding with headers: false');
    return {
      target: `${framework}: slidegate ${floor === undefined ? '' : `>= ${floor}x no limiter, and `}not below ${PEERS[framework]}`,
      measured: ours === null ? NOT_AVAILABLE : `medians: ${ratio(ours, none)}x no limiter, ${ratio(ours, peer)}x peer${paired}${cpu}${parts}${fastTick}`,
      met: ours === null ? null : settings.rounds > 1 ? metPerRound(floor, pairedNone, pairedPeer, cpuNone, cpuPeer) : (floor === undefined || ratio(ours, none) >= floor) && ours >= peer,
    };
  });
  return {
    settings: { ...settings, redis_variants: Boolean(withRedis), shapes },
    raw: { rows },
    tables: [
      { title: 'Targets', columns: [{ key: 'target', label: 'target', align: 'left' }, { key: 'measured', label: 'measured', align: 'left' }, { key: 'met', label: 'met' }], rows: targets },
      {
        title: 'Targets, RedisStore with its defaults: RedisStore with its defaults (leases, denial cache)',
        columns: [{ key: 'target', label: 'target', align: 'left' }, { key: 'measured', label: 'measured', align: 'left' }, { key: 'met', label: 'met' }],
        rows: leaseTargets,
      },
      {
        title: `req/s with autocannon (${settings.connections} connections, ${settings.duration} s after ${settings.warmup} s warm-up; GET / returning JSON)`,
        columns: [
          { key: 'framework', label: 'framework', align: 'left' },
          { key: 'shape', label: 'traffic', align: 'left' },
          { key: 'label', label: 'limiter', align: 'left' },
          { key: 'rps', label: 'req/s' },
          { key: 'vs_none', label: 'x no limiter', digits: 2 },
          ...(settings.rounds > 1
            ? [
                { key: 'vs_none_paired', label: 'x no limiter (per-round ratios)', digits: 2 },
                { key: 'rps_min', label: 'min of rounds' },
                { key: 'rps_max', label: 'max of rounds' },
              ]
            : []),
          { key: 'server_cpu_us_median', label: 'server CPU µs a request', digits: 1 },
          { key: 'redis_commands_per_request', label: 'Redis commands a request', digits: 4 },
          { key: 'cpu_vs_none_paired', label: 'x no limiter by CPU (per round)', digits: 2 },
          { key: 'server_busy_pct', label: 'server busy %' },
          { key: 'loadgen_busy_pct', label: 'autocannon busy %' },
          { key: 'slow_tick_rounds', label: 'rounds on nextTick slow path' },
          { key: 'rps_fast_tick', label: 'req/s in the other rounds' },
          { key: 'vs_none_fast_tick', label: 'x no limiter (other rounds)', digits: 2 },
          { key: 'p50_ms', label: 'p50 ms' },
          { key: 'p99_ms', label: 'p99 ms' },
          { key: 'non2xx', label: 'non-2xx' },
          { key: 'errors', label: 'errors' },
        ],
        rows,
      },
    ],
    charts: [
      {
        name: 'http-rps',
        title: 'HTTP req/s by framework and limiter',
        svg: barChart({
          title: `HTTP req/s (autocannon, ${settings.connections} connections)`,
          bars: rows.map((r) => ({ label: `${r.framework} ${r.shape}: ${r.label}`, value: num(r.rps), group: `${r.framework} ${r.shape}`, note: typeof r.rps === 'string' ? r.rps : undefined })),
        }),
      },
    ],
    headline,
    notes: [
      `req/s: requests over wall time of each server's ${settings.duration} s of load in a round, the median of ${settings.rounds} round(s) (min/max of the rounds shown when more than one). ` +
        `Each round starts one server per limiter and warms each up, then loads them in turn${settings.slices > 1 ? `, ${settings.slices} slices of ${settings.duration / settings.slices} s each, every slice starting at another limiter` : ''}; ` +
        'p50 is the median of the slices\' p50s and p99 the highest slice p99.',
      'x no limiter (per-round ratios): the median over rounds of each round\'s req/s over the same round\'s no-limiter req/s. ' +
        'This machine\'s speed drifts by up to 2x from one minute to the next (on 2026-12-06 a Koa server\'s CPU time a request was twice the one measured 13 s before, and bare Koa\'s ranged from 28 to 63 µs over the rounds of one run), ' +
        'which a ratio of medians picks up and a per-round ratio of interleaved slices mostly cancels. ' +
        'With more than one round the targets are judged on per-round ratios (against the peer too), with the ratios of medians beside them.',
      `Servers run on Node ${settings.server_node_version}${settings.node === process.execPath ? '' : ` (${settings.node}, --http-node)`}. ` +
        `Each server runs in its own Node process (bench/suites/http-server.mjs); autocannon runs in the bench process${settings.pinned ? ', the servers pinned to core 0 and autocannon to core 1 (taskset; --no-http-pin turns it off)' : ''}. On a 2-core machine the load generator and the server each have one core, so absolute req/s are low and ratios are what to read.`,
      `nextTick slow path: after its measured run each server times process.nextTick (bench/lib/next-tick-probe.mjs; fastest server this run: ${fastestTick ?? '-'} ns a call). ` +
        'A server at more than 3x the fastest is on V8\'s slow path for nextTick, which a Node 20 process gets or not at random (more often once Fastify plugins are registered) and keeps for its life; ' +
        'a Fastify request makes several nextTick calls, so such a round loses 10-25% of its req/s whatever the limiter. "req/s in the other rounds" is the median of the rounds without it (lower median when even; - when none).',
      'Server CPU µs a request: the server process\'s user and system time over the measured run (process.cpuUsage, asked over IPC before and after) ' +
        'divided by the requests autocannon completed, median over rounds; "x no limiter by CPU" is the no-limiter server\'s figure over this one\'s, per round, ' +
        'so it reads like the req/s ratio. Busy %: CPU time over wall time of the run, for the server and for this process (autocannon); ' +
        'the one near 100% is the bottleneck, and where that is autocannon, req/s understates what a limiter costs and the CPU ratio is the one to read. ' +
        'Busy % of the median run.',
      'Traffic "hot": every limiter allows 1e9 requests per 60 s and keys on the client IP (all requests come from 127.0.0.1: one hot key), so no request is limited: the figures are the cost of deciding and setting headers. ' +
        `"flood": the same one client, limited to a tenth of what the framework served bare in the round's warm-up per ${FLOOD_WINDOW_SECONDS} s (flood_limit in the raw rows), so about nine requests in ten are refused with 429. ` +
        `"many": 1e9 per 60 s for each of ${MANY_CLIENTS.toLocaleString('en-US')} clients, keyed on an x-client header that autocannon cycles through them, one request after another. Shapes other than "hot" run in full runs (--http-shapes=hot,flood,many chooses).`,
      `Redis variants (RedisStore with its defaults, leases and denial cache on; RedisStore with lease: false; rate-limit-redis / koa-ratelimit redis driver / @fastify/rate-limit redis / hono-rate-limiter RedisStore / @nestjs/throttler with @nest-lab/throttler-storage-redis) run in the full bench${quick ? ' and were skipped in this quick run' : ''}, ` +
        `on a redis-server the suite starts for itself${redisUrl === undefined ? '' : ` (${redisUrl})`}. Redis commands a request: growth of INFO total_commands_processed over each slice (commands run inside Lua scripts included), minus the INFO call, over the requests of the slice, median of rounds; ` +
        `every server of the round stays up while another is loaded, so idle servers' background calls (lease returns, heartbeats) count too: the memory rows show how much that is.${redisNote}`,
      `"draft-8 headers only, fixed": a middleware (Fastify: an onRequest hook) that sets slidegate's two draft-8 headers at fixed values under the lower-case names slidegate sends, and decides nothing: ` +
        `what sending the default headers costs any limiter, the floor under slidegate's figure${floorRowsNote}.`,
      '"slidegate (memory), headers: false": the same limiter deciding every request and sending no header, its other part; ' +
        `the two parts add up to about slidegate's figure${floorRowsNote}.`,
    ],
  };
}

/** The targets of RedisStore with its defaults against the memory store and the peer's Redis store, per framework. */
function leaseTargetRows(rows, frameworks, rounds, floodCommands) {
  const get = (framework, shape, variant) => rows.find((r) => r.framework === framework && r.shape === shape && r.variant === variant);
  // Per-round ratios with more than one round (each round's runs seconds apart), else the ratio of the two runs.
  const versus = (a, b) => (a === undefined || b === undefined ? null : rounds > 1 ? pairedRatio(a.rps_rounds, b.rps_rounds) : ratio(a.rps, b.rps));
  const out = [];
  for (const framework of frameworks) {
    const redis = get(framework, 'hot', 'slidegate-redis');
    const vsMemory = versus(redis, get(framework, 'hot', 'slidegate'));
    const vsPeer = versus(redis, get(framework, 'hot', 'peer-redis'));
    out.push({
      target: `${framework}, one hot client: RedisStore >= 0.9x slidegate on the memory store and >= 1.3x ${PEERS[framework]} on Redis`,
      measured: vsMemory === null ? NOT_AVAILABLE : `${vsMemory}x memory store, ${vsPeer ?? '-'}x peer (Redis); ${redis.redis_commands_per_request ?? '-'} Redis commands a request`,
      met: vsMemory === null || vsPeer === null ? null : vsMemory >= 0.9 && vsPeer >= 1.3,
    });
    const many = get(framework, 'many', 'slidegate-redis');
    const manyPeer = get(framework, 'many', 'peer-redis');
    const manyVsPeer = versus(many, manyPeer);
    out.push({
      target: `${framework}, ${MANY_CLIENTS.toLocaleString('en-US')} clients: RedisStore >= 1.2x ${PEERS[framework]} on Redis`,
      measured: manyVsPeer === null ? NOT_AVAILABLE : `${manyVsPeer}x peer; Redis commands a request ${many.redis_commands_per_request ?? '-'} (peer ${manyPeer.redis_commands_per_request ?? '-'})`,
      met: manyVsPeer === null ? null : manyVsPeer >= 1.2,
    });
  }
  const floodRows = rows.filter((r) => r.shape === 'flood' && r.variant === 'slidegate-redis');
  out.push({
    target: 'one client flooding at about 10x its limit: RedisStore (defaults) <= 0.01 Redis commands a request (worst framework)',
    measured: floodCommands === null ? NOT_AVAILABLE : `${floodCommands} (${floodRows.map((r) => `${r.framework} ${r.redis_commands_per_request}`).join(', ')})`,
    met: floodCommands === null ? null : floodCommands <= 0.01,
  });
  return out;
}
