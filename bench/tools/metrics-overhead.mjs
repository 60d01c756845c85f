// `node bench/tools/metrics-overhead.mjs [--rounds=31] [--decisions=50000] [--concurrency=1,64]`, after `npm run build`:
// decisions/s of RateLimiter.check() on the embedded MemoryStore with metrics off and on, measured in one
// run, interleaved round by round in a rotating order (so drift, JIT warm-up and other load hit every variant
// alike). A variant's ratio is the median over rounds of (its rate / the off rate of the same round): paired, so
// a busy moment on the machine slows both sides of a ratio. Rates are per second of this process's CPU time (process.cpuUsage), which other processes competing
// for the cores disturb far less than wall time; wall-clock rates are reported beside them.
// Writes bench/results/metrics-overhead.json.
import { writeFile, mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { RateLimiter } = require('../../packages/core/dist/index.js');
const { Registry } = require('prom-client');

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const ROUNDS = Number(args.rounds ?? 61);
const DECISIONS = Number(args.decisions ?? 40_000);
/** Share of decisions denied: the limit per client is set so that about this share goes over it. */
const DENIED = String(args.denied ?? '0.02,0.25').split(',').map(Number);
const CONCURRENCY = String(args.concurrency ?? '1,64').split(',').map(Number);
const CLIENTS = 1000;
const ids = Array.from({ length: CLIENTS }, (_, i) => `client-${i}`);

const VARIANTS = {
  'metrics off': () => ({}),
  'metrics on (defaults)': (registry) => ({ metrics: { registry, name: 'bench' } }),
  'metrics on, no latency timing': (registry) => ({ metrics: { registry, name: 'bench', latencySamplesPerSecond: 0 } }),
};

/** Decisions per second for one limiter: `concurrency` checks in flight, over 1,000 clients, about 1 in 4 denied. */
async function measure(limiter, concurrency, timestamp) {
  const start = performance.now();
  const cpu = process.cpuUsage();
  let i = 0;
  if (concurrency === 1) {
    for (; i < DECISIONS; i++) await limiter.check(ids[i % CLIENTS], { timestamp });
  } else {
    const batch = new Array(concurrency);
    while (i < DECISIONS) {
      for (let j = 0; j < concurrency; j++, i++) batch[j] = limiter.check(ids[i % CLIENTS], { timestamp });
      await Promise.all(batch);
    }
  }
  const used = process.cpuUsage(cpu);
  return { wall: DECISIONS / ((performance.now() - start) / 1000), cpu: DECISIONS / ((used.user + used.system) / 1e6) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
const names = Object.keys(VARIANTS);
for (const denied of DENIED)
  for (const concurrency of CONCURRENCY) {
    const samples = Object.fromEntries(names.map((k) => [k, { wall: [], cpu: [] }]));
    // One limiter per variant for the whole run, as in a service: the metrics' one-second timer sets the
    // latency sampling from real traffic. Each round moves 2 windows on, so every round starts fresh windows.
    const limit = Math.round((DECISIONS / CLIENTS) * (1 - denied));
    const registries = Object.fromEntries(names.map((k) => [k, new Registry()]));
    const limiters = Object.fromEntries(names.map((k) => [k, new RateLimiter({ limit, windowSeconds: 60, ...VARIANTS[k](registries[k]) })]));
    let timestamp = 1_700_000_000;
    const warmUntil = performance.now() + 1500; // JIT warm-up and at least one metrics tick
    // Until ROUNDS measured rounds exist: a fast build can finish ROUNDS rounds inside the warm-up alone.
    for (let round = 0; ; round++) {
      const warm = performance.now() < warmUntil;
      timestamp += 120;
      for (let v = 0; v < names.length; v++) {
        const name = names[(v + round) % names.length];
        const rate = await measure(limiters[name], concurrency, timestamp);
        if (!warm) {
          samples[name].wall.push(rate.wall);
          samples[name].cpu.push(rate.cpu);
        }
      }
      if (!warm && samples['metrics off'].cpu.length >= ROUNDS) break;
      // Let timers run between rounds, as a server's event loop does between requests.
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const name of names) {
      if (limiters[name].metrics !== undefined) await registries[name].metrics(); // a scrape, as Prometheus would
      await limiters[name].close();
    }
    const base = samples['metrics off'];
    const pairedRatio = (xs, key) => median(xs[key].map((x, i) => x / base[key][i]));
    for (const [name, xs] of Object.entries(samples)) {
      results.push({
        denied,
        concurrency,
        variant: name,
        decisionsPerCpuSecond: Math.round(median(xs.cpu)),
        ratioToOff: Math.round(pairedRatio(xs, 'cpu') * 1000) / 1000,
        decisionsPerWallSecond: Math.round(median(xs.wall)),
        wallRatioToOff: Math.round(pairedRatio(xs, 'wall') * 1000) / 1000,
      });
    }
  }

console.log(`RateLimiter.check() on MemoryStore, ${DECISIONS} decisions per round, median of ${ROUNDS} rounds, Node ${process.version}`);
console.log('denied | concurrency | variant                                  | decisions/CPU-s | ratio to off | decisions/wall-s | wall ratio');
for (const r of results) {
  console.log(
    `${(r.denied * 100).toFixed(0).padStart(5)}% | ${String(r.concurrency).padStart(11)} | ${r.variant.padEnd(40)} | ${String(r.decisionsPerCpuSecond).padStart(15)} | ${r.ratioToOff.toFixed(3).padStart(12)} | ${String(r.decisionsPerWallSecond).padStart(16)} | ${r.wallRatioToOff.toFixed(3)}`,
  );
}
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results', 'metrics-overhead.json');
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds: ROUNDS, decisions: DECISIONS, results }, null, 2)}\n`);
