// Redis's own work per decision, for RedisStore against a raw EVALSHA and the peers' Redis stores
// (RateLimiterRedis, rate-limit-redis), for one hot client, for clients Redis has never seen, and for
// many clients round robin (each key found again with a window's worth of counts). Each row runs a
// redis-server of its own (killed by pid) and reports per decision:
// - instructions: CPU instructions Redis executed, counted by valgrind's callgrind (the default,
//   `--measure=instructions`): unlike seconds, the count does not move with what else the machine is
//   doing, so two versions of a script compare on a busy machine. Counted over the measured decisions
//   only (instrumentation is switched on after the warm-up or prefill), an idle phase subtracted.
// - usec: with `--measure=usec` (no valgrind), the growth of INFO commandstats usec of the script
//   calls (EVALSHA, EVAL; not the calls inside scripts, which their script's usec already holds) and
//   of INFO cpu (user + sys: parsing, networking and all), per decision.
// - calls: script calls (a batch's EVALSHA is one) per decision.
// - bytes in / out: growth of INFO stats total_net_input_bytes / total_net_output_bytes, per decision.
// - bytes/client: MEMORY USAGE (SAMPLES 0) summed over the row's keys after the run, per client.
// Rows run with leases and the denial cache off (every decision asks Redis), 50 decisions in flight
// (the http suite's connections).
// Run after `npm run build`: node bench/tools/redis-instructions.mjs [--decisions=3000] [--measure=usec] [--keep=DIR] [row ...]
// (--keep=DIR keeps the callgrind dumps of the last row in DIR, for callgrind_annotate.)
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { RedisStore as RateLimitRedisStore } from 'rate-limit-redis';
import { RateLimiter, RedisStore } from '@slidegate/core';
import { freePort } from '../lib/throwaway-redis.mjs';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const CONCURRENCY = Number(arg('concurrency', 50));
const decisions = Number(arg('decisions', 3000));
const measureKind = arg('measure', 'instructions');
const T0_MS = 1_700_000_000_000;
/** The 'many' rows: this many clients round robin, a round every 2 s, so each finds about 30 one-second buckets of its 60 s window. */
const MANY = 1000;
const MANY_ROUND_MS = 2000;
const MANY_PREFILL_ROUNDS = 31;

/**
 * Rows: the subject, the client of decision i, its time (ms; slidegate only: the peers keep Redis's
 * clock), and the decisions made before measuring (`prefill`, default: the warm-up of three).
 */
const ROWS = {
  'raw-evalsha': { label: "raw EVALSHA ('return 1')", subject: 'raw', client: (i) => `k${i % 1000}` },
  'rlflex-hot': { label: 'RateLimiterRedis, 1 hot client', subject: 'rlflex', client: () => 'hot' },
  'rlflex-new': { label: 'RateLimiterRedis, a new client each', subject: 'rlflex', client: (i) => `c${i}` },
  'rlflex-many': { label: `RateLimiterRedis, ${MANY} clients round robin`, subject: 'rlflex', client: (i) => `c${i % MANY}`, prefill: MANY },
  'erl-hot': { label: 'rate-limit-redis, 1 hot client', subject: 'erl', client: () => 'hot' },
  'erl-new': { label: 'rate-limit-redis, a new client each', subject: 'erl', client: (i) => `c${i}` },
  'erl-many': { label: `rate-limit-redis, ${MANY} clients round robin`, subject: 'erl', client: (i) => `c${i % MANY}`, prefill: MANY },
  'hot-unbatched': { label: 'RedisStore, 1 hot client, maxBatch 1', subject: 'slidegate', maxBatch: 1, client: () => 'hot' },
  hot: { label: 'RedisStore, 1 hot client', subject: 'slidegate', client: () => 'hot' },
  'new-unbatched': { label: 'RedisStore, a new client each, maxBatch 1', subject: 'slidegate', maxBatch: 1, client: (i) => `c${i}` },
  new: { label: 'RedisStore, a new client each', subject: 'slidegate', client: (i) => `c${i}` },
  many: {
    label: `RedisStore, ${MANY} clients round robin (30 buckets each)`,
    subject: 'slidegate',
    client: (i) => `c${i % MANY}`,
    at: (i) => T0_MS + Math.floor(i / MANY) * MANY_ROUND_MS,
    prefill: MANY * MANY_PREFILL_ROUNDS,
  },
  'many-config': {
    label: `RedisStore, ${MANY} clients round robin, each with its own limit`,
    subject: 'slidegate',
    client: (i) => `c${i % MANY}`,
    at: (i) => T0_MS + Math.floor(i / MANY) * MANY_ROUND_MS,
    prefill: MANY * MANY_PREFILL_ROUNDS,
    ownLimits: true,
  },
};

async function connect(port) {
  for (let attempt = 0; attempt < 300; attempt++) {
    const candidate = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, autoResendUnfulfilledCommands: false, enableAutoPipelining: true });
    candidate.on('error', () => {});
    try {
      await candidate.connect();
      await candidate.ping();
      return candidate;
    } catch {
      candidate.disconnect();
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error('redis-server did not start (is valgrind installed? apt-get install -y valgrind)');
}

/**
 * Script calls (EVALSHA, EVAL) of INFO commandstats and their usec: every subject here decides in a script, and a
 * script's usec holds the calls it made (which commandstats also counts under their own names).
 */
async function topLevel(admin) {
  const info = await admin.info('commandstats');
  let usec = 0;
  let calls = 0;
  for (const [, count, value] of info.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+),usec=(\d+)/gm)) {
    usec += Number(value);
    calls += Number(count);
  }
  return { usec, calls };
}

async function snapshot(admin) {
  const stats = await admin.info('stats');
  const cpu = await admin.info('cpu');
  const field = (text, name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)[1]);
  const { usec, calls } = await topLevel(admin);
  return {
    usec,
    calls,
    cpuUs: (field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys')) * 1e6,
    bytesIn: field(stats, 'total_net_input_bytes'),
    bytesOut: field(stats, 'total_net_output_bytes'),
  };
}

async function bytesPerClient(admin, clients) {
  let cursor = '0';
  let bytes = 0;
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) bytes += Number((await admin.memory('USAGE', key, 'SAMPLES', 0)) ?? 0);
  } while (cursor !== '0');
  return Math.round(bytes / clients);
}

/** Runs `run(client, phase)` against a redis-server of its own; phase(name) marks the measured part's start and end. */
async function withServer(run) {
  const port = await freePort();
  const dir = mkdtempSync('/dev/shm/slidegate-redis-cost-');
  const redisArgs = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child =
    measureKind === 'instructions'
      ? spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${dir}/callgrind.out`, 'redis-server', ...redisArgs], { stdio: 'ignore' })
      : spawn('redis-server', redisArgs, { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const control = (...args) => promisify(execFile)('callgrind_control', [...args, String(child.pid)]);
  try {
    const client = await connect(port);
    const admin = await connect(port);
    let before;
    const figures = {};
    await run(client, {
      start: async () => {
        before = await snapshot(admin);
        if (measureKind === 'instructions') await control('--instr=on');
      },
      end: async (count) => {
        if (measureKind === 'instructions') {
          await control('--dump');
          await control('--instr=off');
          const dumps = readdirSync(dir).filter((f) => f.startsWith('callgrind.out'));
          const totals = dumps.map((f) => Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(`${dir}/${f}`, 'utf8'))?.[1] ?? 0));
          figures.instructions = Math.max(...totals);
          // --keep=DIR: the dump, for callgrind_annotate.
          const keep = arg('keep', undefined);
          if (keep) for (const f of dumps) copyFileSync(`${dir}/${f}`, `${keep}/${f}`);
        }
        const after = await snapshot(admin);
        figures.usec = (after.usec - before.usec) / count;
        figures.calls = (after.calls - before.calls) / count;
        figures.cpuUs = (after.cpuUs - before.cpuUs) / count;
        // The INFO replies of the snapshot are the admin's, counted in output: small beside thousands of decisions.
        figures.bytesIn = (after.bytesIn - before.bytesIn) / count;
        figures.bytesOut = (after.bytesOut - before.bytesOut) / count;
      },
      admin,
      figures,
    });
    await client.call('SHUTDOWN', 'NOSAVE').catch(() => {});
    client.disconnect();
    admin.disconnect();
    await exited;
    return figures;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function subjectOf(row, client) {
  if (row.subject === 'raw') {
    const sha = await client.script('LOAD', 'return 1');
    return { decide: (i) => client.evalsha(sha, 1, row.client(i)) };
  }
  if (row.subject === 'rlflex') {
    const limiter = new RateLimiterRedis({ storeClient: client, keyPrefix: 'rl', points: 1e9, duration: 60 });
    return { decide: (i) => limiter.consume(row.client(i)) };
  }
  if (row.subject === 'erl') {
    const store = new RateLimitRedisStore({ sendCommand: (command, ...args) => client.call(command, ...args), prefix: 'rl:' });
    store.init({ windowMs: 60_000 });
    return { decide: (i) => store.increment(row.client(i)) };
  }
  const store = new RedisStore({ client, prefix: 'slidegate:', maxBatch: row.maxBatch });
  // Every decision asks Redis (no leases, no denial cache); patient and closed: under valgrind Redis is slow,
  // and no decision may come from the fallback.
  const limiter = new RateLimiter({ limit: 1e9, windowSeconds: 60, store, lease: false, denialCache: false, timeoutMs: 60_000, failureMode: 'closed' });
  if (row.ownLimits) for (let i = 0; i < MANY; i++) await limiter.updateLimit(row.client(i), 1e9 - 1, 60);
  return {
    decide: (i) =>
      limiter.check(row.client(i), { timestamp: (row.at?.(i) ?? T0_MS) / 1000 }).then((d) => {
        if (d.source !== 'store') throw new Error(`a decision came from ${d.source}`);
      }),
    close: async () => {
      await limiter.close();
      await store.close();
    },
  };
}

async function inFlight(decide, from, to) {
  let next = from;
  const loop = async () => {
    while (next < to) await decide(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
}

async function measure(name) {
  const row = ROWS[name];
  return withServer(async (client, phase) => {
    const subject = await subjectOf(row, client);
    // Scripts loaded (the first call of each is NOSCRIPT, then EVAL) and the prefill made before counting.
    // A row of new clients numbers its measured clients after the prefill's, so each is new.
    const first = row.prefill ?? 3;
    await subject.decide(0);
    await inFlight(subject.decide, 1, first);
    await phase.start();
    await inFlight(subject.decide, first, first + decisions);
    await phase.end(decisions);
    await subject.close?.();
    const clients = new Set(Array.from({ length: first + decisions }, (_, i) => row.client(i))).size;
    phase.figures.bytesPerClient = await bytesPerClient(phase.admin, clients);
  });
}

const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const name of names) if (!ROWS[name]) throw new Error(`unknown row ${name}; rows: ${Object.keys(ROWS).join(', ')}`);
let idle = 0;
if (measureKind === 'instructions') {
  const idleRun = await withServer(async (_client, phase) => {
    await phase.start();
    await new Promise((r) => setTimeout(r, 1000));
    await phase.end(1);
  });
  idle = idleRun.instructions;
}
const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-');
console.log(`Redis per decision (${measureKind}; ${decisions} decisions at concurrency ${CONCURRENCY}${measureKind === 'instructions' ? `; an idle second, ${fmt(idle)} instructions, subtracted once` : ''})`);
console.log(
  `${'row'.padEnd(60)} ${(measureKind === 'instructions' ? 'instr' : 'usec').padStart(8)} ${(measureKind === 'instructions' ? '' : 'cpu us').padStart(8)} ${'calls'.padStart(6)} ${'bytes in'.padStart(9)} ${'out'.padStart(6)} ${'B/client'.padStart(9)}`,
);
for (const name of names.length > 0 ? names : Object.keys(ROWS)) {
  const f = await measure(name);
  const main = measureKind === 'instructions' ? fmt((f.instructions - idle) / decisions) : fmt(f.usec, 2);
  console.log(
    `${ROWS[name].label.padEnd(60)} ${main.padStart(8)} ${(measureKind === 'instructions' ? '' : fmt(f.cpuUs, 2)).padStart(8)} ${fmt(f.calls, 3).padStart(6)} ${fmt(f.bytesIn, 1).padStart(9)} ${fmt(f.bytesOut, 1).padStart(6)} ${fmt(f.bytesPerClient).padStart(9)}`,
  );
}
