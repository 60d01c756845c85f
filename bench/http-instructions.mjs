// What one request costs the server in instructions, counted by valgrind's callgrind: unlike req/s or CPU
// time, the count moves far less with other load on the machine (two processes of one server differ by up to
// 3k instructions on the main thread in quiet runs, up to 10k seen when callgrind runs overlapped), so small
// per-request costs and before/after changes show through. Each server is the one in
// bench/http-headers-cost.mjs (same variants), run under callgrind; autocannon (10 connections) sends
// --warmup requests, the counters are zeroed, then --requests more are counted. User-space instructions of
// every server thread (JIT compilers and GC helpers included), no kernel time. Each line also gives the
// server's time per process.nextTick call (bench/lib/next-tick-probe.mjs): a server on V8's slow path for
// nextTick (several times the others) counts more instructions whatever the variant. Run after `npm run build`:
//
//   node bench/http-instructions.mjs [--frameworks=express,koa,fastify] [--variants=bare,noop,static,slidegate,peer]
//        [--requests=4000] [--warmup=30000] [--before=DIR] [--keep=DIR] [--node-flags="..."]
//
// --keep=DIR keeps each server's callgrind dumps in DIR/<framework>-<variant>/, for `callgrind_annotate`
// (Node's C++ and V8's builtins by name; JIT-compiled JavaScript shows as addresses), and with it Node's
// perf map when the server ran with --perf-basic-prof, which names those addresses:
// `node bench/callgrind-js.mjs DIR/koa-bare DIR/koa-slidegate` lists what one server adds over the other.
//
// About a minute per server (callgrind runs Node some 50x slower).
import { execFileSync, fork } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { parseArgs } from './lib/args.mjs';
import { askNextTick } from './lib/next-tick-probe.mjs';

const SERVER = fileURLToPath(new URL('./http-headers-cost.mjs', import.meta.url));
const args = parseArgs(process.argv.slice(2));
const frameworks = (args.frameworks ?? 'express,koa,fastify').split(',');
const variants = (args.variants ?? 'bare,noop,static,slidegate,peer').split(',');
const requests = Number(args.requests ?? 4000);
// Fewer warm-up requests leave V8 compiling the hot code while counting: 3,000 gave Fastify 207k a request, 30,000 gave 134k.
const warmup = Number(args.warmup ?? 30000);
// Node's own flags for the server, e.g. --perf-basic-prof (with --keep, names JIT code for bench/callgrind-js.mjs).
const nodeFlags = (args.nodeFlags ?? '').split(' ').filter(Boolean);

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('bench: valgrind is missing; install it with `apt-get install valgrind`');
  process.exit(1);
}

/**
 * The instructions in the dump written by `callgrind_control -d` (one file per thread with
 * --separate-threads): all threads, and the main (JavaScript) thread alone. The other threads are V8's
 * compiler and GC helpers, so their share moves with what is being (re)compiled during the count.
 */
function dumpedInstructions(dir) {
  const dumps = readdirSync(dir).filter((name) => /\.\d+(-\d+)?$/.test(name));
  if (dumps.length === 0) throw new Error(`bench: callgrind wrote no dump in ${dir}`);
  let total = 0;
  let main;
  for (const dump of dumps) {
    const match = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, dump), 'utf8'));
    if (match === null) throw new Error(`bench: no instruction total in ${dump}`);
    total += Number(match[1]);
    if (/-0*1$/.test(dump)) main = Number(match[1]);
  }
  return { total, main: main ?? total };
}

async function count(framework, variant) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-callgrind-'));
  const child = fork(SERVER, ['--serve', framework, variant, args.before ?? ''], {
    execPath: 'valgrind',
    // JIT code rewrites itself: --smc-check makes callgrind see it.
    execArgv: ['--tool=callgrind', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${join(dir, 'callgrind.out')}`, process.execPath, ...nodeFlags],
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  try {
    const port = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`bench: ${framework} ${variant} server exited (${code}) under valgrind`)));
    });
    const url = `http://127.0.0.1:${port}/`;
    await autocannon({ url, connections: 10, amount: warmup });
    execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
    const result = await autocannon({ url, connections: 10, amount: requests });
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`bench: ${framework} ${variant}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    const nextTickNs = await askNextTick(child);
    const { total, main } = dumpedInstructions(dir);
    if (args.keep !== undefined) {
      const kept = join(args.keep, `${framework}-${variant}`);
      cpSync(dir, kept, { recursive: true });
      // valgrind runs node in the process it was started as, so the map is under the child's pid.
      const perfMap = `/tmp/perf-${child.pid}.map`;
      if (existsSync(perfMap)) {
        cpSync(perfMap, join(kept, 'perf.map'));
        rmSync(perfMap);
      }
    }
    return { perRequest: total / result.requests.total, mainPerRequest: main / result.requests.total, nextTickNs };
  } finally {
    child.removeAllListeners('exit');
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ` 1.120x bare (+7,999)`, or nothing before the bare variant is counted. */
const over = (value, base) => (base === undefined ? '' : ` ${(value / base).toFixed(3)}x bare (+${Math.round(value - base).toLocaleString('en-US')})`);

console.log(`server instructions per request (callgrind), ${requests} requests after ${warmup}; Node ${process.version}`);
for (const framework of frameworks) {
  let bare;
  let bareMain;
  for (const variant of variants) {
    const { perRequest, mainPerRequest, nextTickNs } = await count(framework, variant);
    if (variant === 'bare') [bare, bareMain] = [perRequest, mainPerRequest];
    const vsBare = `${over(perRequest, bare)}; main thread ${Math.round(mainPerRequest).toLocaleString('en-US')}${over(mainPerRequest, bareMain)}`;
    // Under callgrind a call takes some 50x its usual time; the slow path is still several times the fast one.
    console.log(`${framework.padEnd(8)} ${variant.padEnd(10)} ${Math.round(perRequest).toLocaleString('en-US').padStart(9)}${vsBare};  nextTick ${nextTickNs} ns a call`);
  }
}
