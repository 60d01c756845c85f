// What one request costs the server in instructions, counted by valgrind's callgrind: unlike req/s or CPU
// time, the count does not move with other load on the machine (repeat runs of one variant agree within
// 0.3%), so small per-request costs and before/after changes show through. Each server is the one in
// bench/http-headers-cost.mjs (same variants), run under callgrind; autocannon (10 connections) sends
// --warmup requests, the counters are zeroed, then --requests more are counted. User-space instructions of
// every server thread (JIT compilers and GC helpers included), no kernel time. Run after `npm run build`:
//
//   node bench/http-instructions.mjs [--frameworks=express,koa,fastify] [--variants=bare,noop,static,slidegate,peer]
//        [--requests=2000] [--warmup=3000] [--before=DIR]
//
// About a minute per server (callgrind runs Node some 50x slower).
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { parseArgs } from './lib/args.mjs';

const SERVER = fileURLToPath(new URL('./http-headers-cost.mjs', import.meta.url));
const args = parseArgs(process.argv.slice(2));
const frameworks = (args.frameworks ?? 'express,koa,fastify').split(',');
const variants = (args.variants ?? 'bare,noop,static,slidegate,peer').split(',');
const requests = Number(args.requests ?? 2000);
const warmup = Number(args.warmup ?? 3000);

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('bench: valgrind is missing; install it with `apt-get install valgrind`');
  process.exit(1);
}

/** The total of the dump written by `callgrind_control -d`: the instructions since the counters were zeroed. */
function dumpedInstructions(dir) {
  const dump = readdirSync(dir).find((name) => /\.\d+$/.test(name));
  if (dump === undefined) throw new Error(`bench: callgrind wrote no dump in ${dir}`);
  const match = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, dump), 'utf8'));
  if (match === null) throw new Error(`bench: no instruction total in ${dump}`);
  return Number(match[1]);
}

async function count(framework, variant) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-callgrind-'));
  const child = fork(SERVER, ['--serve', framework, variant, args.before ?? ''], {
    execPath: 'valgrind',
    // JIT code rewrites itself: --smc-check makes callgrind see it.
    execArgv: ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${join(dir, 'callgrind.out')}`, process.execPath],
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
    return dumpedInstructions(dir) / result.requests.total;
  } finally {
    child.removeAllListeners('exit');
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`server instructions per request (callgrind), ${requests} requests after ${warmup}; Node ${process.version}`);
for (const framework of frameworks) {
  let bare;
  for (const variant of variants) {
    const perRequest = await count(framework, variant);
    if (variant === 'bare') bare = perRequest;
    const vsBare = bare === undefined ? '' : `  ${(perRequest / bare).toFixed(3)}x bare (+${Math.round(perRequest - bare).toLocaleString('en-US')})`;
    console.log(`${framework.padEnd(8)} ${variant.padEnd(10)} ${Math.round(perRequest).toLocaleString('en-US').padStart(9)}${vsBare}`);
  }
}
