// What the HTTP cost is made of, per framework, all in one run with interleaved rounds (each server in its
// own process, autocannon here, 50 connections). Same servers and limits as the http suite
// (bench/suites/http-server.mjs): every request allowed, one hot key. Variants:
//   bare       no limiter
//   noop       a middleware/hook that does nothing: the framework's cost of one more step
//   static     the same step setting slidegate's two draft-8 headers at fixed values: the cost of sending them
//   nohdr      slidegate with headers: false
//   nohdr+static  nohdr, then the static step: whether slidegate's cost is its two parts added up
//   slidegate  slidegate with its defaults (draft-8 headers)
//   peer       the framework's usual limiter (express-rate-limit, koa-ratelimit memory, @fastify/rate-limit)
// Run after `npm run build`:
//
//   node bench/tools/http-headers-cost.mjs [--frameworks=express,koa,fastify] [--rounds=3] [--duration=5]
//        [--variants=bare,noop,static,nohdr,slidegate,peer] [--before=DIR] [--cpu-prof=DIR] [--pin]
//
// --before=DIR adds a `before` variant: slidegate loaded from DIR/node_modules/@slidegate/* (a copy of an
// earlier build's package.json + dist, DIR/node_modules otherwise symlinked to this repo's), to compare two
// builds in one run. --cpu-prof=DIR writes one .cpuprofile per server (node --cpu-prof) for the rounds;
// --server-flags="..." passes more Node flags to every server.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { answerNextTickProbe, askNextTick } from '../lib/next-tick-probe.mjs';
import { answerCpuProbe, askCpu } from '../lib/cpu-probe.mjs';
import { pinToCores } from '../lib/pin.mjs';
import { FIXED_DRAFT8_HEADERS, fixedHeadersStep } from '../lib/fixed-headers.mjs';
import { importSlidegate } from '../lib/slidegate-build.mjs';

const LIMIT = 1_000_000_000;
const WINDOW_SECONDS = 60;
const BODY = { ok: true };
const SELF = fileURLToPath(import.meta.url);

const args = Object.fromEntries(
  process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => {
    const at = a.indexOf('=');
    return at === -1 ? [a.slice(2), 'true'] : [a.slice(2, at), a.slice(at + 1)];
  }),
);

/**
 * The `noop` and `static` variants: a limiter-shaped step that decides nothing, without headers
 * (`noop`: the framework's cost of one more middleware or hook) or with slidegate's draft-8 headers
 * at fixed values of the same length (`static`: what sending those headers costs, bytes included). The
 * names are the lower-case literals slidegate sends, so `static` is the least any limiter pays for them.
 */
const limiterShapedStep = (framework, variant) => fixedHeadersStep(framework, variant === 'static' ? FIXED_DRAFT8_HEADERS : []);

async function serve(framework, variant, before) {
  const slidegate = variant === 'slidegate' || variant.startsWith('nohdr') || variant === 'before';
  const options = { limit: LIMIT, windowSeconds: WINDOW_SECONDS, ...(variant.startsWith('nohdr') ? { headers: false } : {}) };
  const step = variant === 'noop' ? 'noop' : variant === 'static' || variant === 'nohdr+static' ? 'static' : undefined;
  // The framework, then the limiter, as an application loads them: the order changes how often Node 20's
  // nextTick ends up on its slow path (bench/lib/next-tick-probe.mjs).
  await import(framework);
  const adapter = slidegate ? await importSlidegate(framework, variant === 'before' ? before : undefined) : undefined;
  if (framework === 'express') {
    const { default: express } = await import('express');
    const app = express();
    if (slidegate) app.use(adapter.rateLimit(options));
    if (step !== undefined) app.use(limiterShapedStep(framework, step));
    if (variant === 'peer') {
      const { rateLimit } = await import('express-rate-limit');
      app.use(rateLimit({ windowMs: WINDOW_SECONDS * 1000, limit: LIMIT, standardHeaders: 'draft-8', legacyHeaders: false }));
    }
    app.get('/', (req, res) => res.json(BODY));
    return new Promise((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server.address().port));
    });
  }
  if (framework === 'koa') {
    const { default: Koa } = await import('koa');
    const app = new Koa();
    if (slidegate) app.use(adapter.rateLimit(options));
    if (step !== undefined) app.use(limiterShapedStep(framework, step));
    if (variant === 'peer') {
      const { default: ratelimit } = await import('koa-ratelimit');
      app.use(ratelimit({ driver: 'memory', db: new Map(), duration: WINDOW_SECONDS * 1000, max: LIMIT, id: (ctx) => ctx.ip }));
    }
    app.use((ctx) => {
      ctx.body = BODY;
    });
    return new Promise((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server.address().port));
    });
  }
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  if (slidegate) await app.register(adapter.slidegate, options);
  if (step !== undefined) app.addHook('onRequest', limiterShapedStep(framework, step));
  if (variant === 'peer') await app.register((await import('@fastify/rate-limit')).default, { max: LIMIT, timeWindow: WINDOW_SECONDS * 1000 });
  app.get('/', async () => BODY);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

function start(framework, variant) {
  const execArgv = args['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`, `--cpu-prof-name=${framework}-${variant}-${Date.now()}.cpuprofile`];
  const serverFlags = (args['server-flags'] ?? '').split(' ').filter(Boolean);
  const child = fork(SELF, ['--serve', framework, variant, args.before ?? ''], { execArgv: [...execArgv, ...serverFlags] });
  return new Promise((resolve, reject) => {
    child.once('message', (port) => {
      pin(child.pid, 0);
      resolve({ child, port });
    });
    child.once('exit', (code) => reject(new Error(`${framework} ${variant} server exited (${code})`)));
  });
}

/** With --pin, the server on core 0 and autocannon (this process) on core 1 (bench/lib/pin.mjs). */
function pin(pid, core) {
  if (args.pin !== undefined) pinToCores(pid, String(core));
}

function stop(child) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    // A clean exit, so --cpu-prof writes its profile.
    child.send('stop');
  });
}

/** req/s, and the server's CPU µs per request (less disturbed than req/s by other load on the machine). */
async function measure(framework, variant, duration) {
  const { default: autocannon } = await import('autocannon');
  const { child, port } = await start(framework, variant);
  try {
    const url = `http://127.0.0.1:${port}/`;
    await autocannon({ url, connections: 50, duration: 1 });
    const cpuBefore = await askCpu(child);
    const clientBefore = process.cpuUsage();
    const result = await autocannon({ url, connections: 50, duration });
    const client = process.cpuUsage(clientBefore);
    const cpuAfter = await askCpu(child);
    if (cpuBefore === null || cpuAfter === null) throw new Error(`${framework} ${variant}: the server did not report its CPU time`);
    const user = cpuAfter.userMicros - cpuBefore.userMicros;
    const cpu = cpuAfter.cpuMicros - cpuBefore.cpuMicros;
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${framework} ${variant}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    const nextTickNs = await askNextTick(child);
    return {
      nextTickNs,
      rps: result.requests.average,
      cpuUs: cpu / result.requests.total,
      userUs: user / result.requests.total,
      // Both near 100%: each side has a core and neither waits. The load generator near 100% and the server
      // below: autocannon is what limits req/s, and response bytes (headers) cost it parse time.
      serverBusy: cpu / (duration * 1e6),
      clientBusy: (client.user + client.system) / (duration * 1e6),
      bytes: result.throughput.total / result.requests.total,
    };
  } finally {
    await stop(child);
  }
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (args.serve !== undefined) {
  const [framework, variant, before] = process.argv.slice(process.argv.indexOf('--serve') + 1);
  process.on('message', (message) => {
    if (message === 'stop') process.exit(0);
  });
  answerNextTickProbe();
  answerCpuProbe();
  process.send(await serve(framework, variant, before || undefined));
} else {
  const frameworks = (args.frameworks ?? 'express,koa,fastify').split(',');
  const variants = (args.variants ?? `bare,noop,static,nohdr,slidegate,peer${args.before ? ',before' : ''}`).split(',');
  const rounds = Number(args.rounds ?? 3);
  pin(process.pid, 1);
  const duration = Number(args.duration ?? 5);
  const runs = {};
  for (let round = 0; round < rounds; round++) {
    for (const framework of frameworks) {
      // Each round starts at a different variant, so no variant always runs first or last.
      const order = variants.map((_, i) => variants[(i + round) % variants.length]);
      for (const variant of order) {
        const run = await measure(framework, variant, duration);
        ((runs[framework] ??= {})[variant] ??= []).push(run);
        console.error(
          `round ${round + 1}/${rounds} ${framework} ${variant}: ${Math.round(run.rps)} req/s, ${run.cpuUs.toFixed(2)} µs CPU/req, ` +
            `server ${Math.round(run.serverBusy * 100)}% busy, autocannon ${Math.round(run.clientBusy * 100)}%, ${Math.round(run.bytes)} B/response, nextTick ${run.nextTickNs} ns`,
        );
      }
    }
  }
  console.log(
    `\nmedian of ${rounds} rounds of ${duration} s (autocannon, 50 connections); x bare and x peer are medians of the per-round ratios;` +
      `\nCPU µs/req is the server process's CPU time per request (+µs: above bare)`,
  );
  for (const framework of frameworks) {
    const { bare, peer } = runs[framework];
    for (const variant of variants) {
      const own = runs[framework][variant];
      const rpsRatios = bare === undefined ? [] : own.map((r, i) => r.rps / bare[i].rps);
      const vsPeer = peer === undefined ? '' : `  ${median(own.map((r, i) => r.rps / peer[i].rps)).toFixed(2)}x peer`;
      const cpu = median(own.map((r) => r.cpuUs));
      const user = median(own.map((r) => r.userUs));
      const extra = bare === undefined ? '' : ` (+${(cpu - median(bare.map((r) => r.cpuUs))).toFixed(2)})`;
      const extraUser = bare === undefined ? '' : ` (+${(user - median(bare.map((r) => r.userUs))).toFixed(2)})`;
      console.log(
        `${framework.padEnd(8)} ${variant.padEnd(10)} ${String(Math.round(median(own.map((r) => r.rps)))).padStart(7)} req/s  ` +
          `${rpsRatios.length ? median(rpsRatios).toFixed(3) : '-'}x bare [${rpsRatios.map((r) => r.toFixed(2)).join(' ')}]${vsPeer}  ` +
          `${cpu.toFixed(2)} CPU µs/req${extra}, user ${user.toFixed(2)}${extraUser}`,
      );
    }
  }
}
