// The Hono part of one request, timed in a loop with no network: each iteration makes a Node request and
// response (IncomingMessage and ServerResponse on an unconnected socket) and runs @hono/node-server's
// listener over a Hono app (routing, middleware, c.json, building the head, `end`). Variants:
//   bare       no limiter
//   noop       a middleware that only calls next()
//   static     a middleware that sets slidegate's two draft-8 headers at fixed values with c.header()
//   static-node   the same two headers set on the Node response (c.env.outgoing), as @slidegate/hono does and
//              the http suite's 'headers-only' server sets them
//   nohdr      @slidegate/hono with headers: false
//   slidegate  @slidegate/hono with its defaults (draft-8 headers)
//   peer       hono-rate-limiter with its defaults (draft-6 headers), keyed on the socket's address
// Limit 1e9 per 60 s and one client, as in the http suite. Rounds are interleaved and each variant's time is
// given relative to bare from the same round, so a busy machine moves every variant alike; still, on a loaded
// machine prefer instruction counts (callgrind, below). Run after `npm run build`:
//
//   node bench/tools/hono-path.mjs [--rounds=9] [--iterations=50000] [--variants=bare,slidegate,peer]
//        [--only=VARIANT --iterations=N [--warmup=10000]]   (one variant alone)
//
// Instructions a request, whatever the machine's load: one variant under callgrind with two counts, subtracted
// (start-up and warm-up cancel out), e.g.
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/a.out node bench/tools/hono-path.mjs --only=slidegate --iterations=10000
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/b.out node bench/tools/hono-path.mjs --only=slidegate --iterations=30000
// and (summary of b - summary of a) / 20000 (`grep summary: /tmp/?.out`).

import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { parseArgs } from '../lib/args.mjs';
import { FIXED_DRAFT8_HEADERS, fixedHeadersStep } from '../lib/fixed-headers.mjs';

const args = parseArgs(process.argv.slice(2));
const rounds = Number(args.rounds ?? 9);
const iterations = Number(args.iterations ?? 50_000);
const LIMIT = 1_000_000_000;
const WINDOW_SECONDS = 60;
const BODY = { ok: true };

const { Hono } = await import('hono');
const { getRequestListener } = await import('@hono/node-server');
const { rateLimit } = await import('@slidegate/hono');
const { rateLimiter } = await import('hono-rate-limiter');

const MIDDLEWARE = {
  bare: undefined,
  noop: () => (c, next) => next(),
  static: () => (c, next) => {
    for (const [name, value] of FIXED_DRAFT8_HEADERS) c.header(name, value);
    return next();
  },
  'static-node': () => fixedHeadersStep('hono'),
  nohdr: () => rateLimit({ limit: LIMIT, windowSeconds: WINDOW_SECONDS, headers: false }),
  slidegate: () => rateLimit({ limit: LIMIT, windowSeconds: WINDOW_SECONDS }),
  peer: () => rateLimiter({ windowMs: WINDOW_SECONDS * 1000, limit: LIMIT, keyGenerator: (c) => c.env.incoming.socket.remoteAddress }),
};

function listenerOf(name) {
  const app = new Hono();
  if (!(name in MIDDLEWARE)) throw new Error(`unknown variant ${name}; one of ${Object.keys(MIDDLEWARE).join(', ')}`);
  const middleware = MIDDLEWARE[name];
  if (middleware !== undefined) app.use(middleware());
  app.get('/', (c) => c.json(BODY));
  return getRequestListener(app.fetch);
}

const socket = new Socket();
Object.defineProperty(socket, 'remoteAddress', { value: '127.0.0.1' });
let bytes = 0;

function exchange() {
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/';
  req.headers = { host: '127.0.0.1:3000', 'user-agent': 'bench', accept: '*/*' };
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.complete = true;
  const res = new ServerResponse(req);
  return { req, res };
}

async function nanosecondsPerRequest(listener, n = iterations) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const { req, res } = exchange();
    await listener(req, res);
    if (!res.writableEnded) throw new Error('no response');
    bytes += res._header.length;
  }
  return Number(process.hrtime.bigint() - started) / n;
}

if (args.only !== undefined) {
  const listener = listenerOf(args.only);
  await nanosecondsPerRequest(listener, Number(args.warmup ?? 10_000));
  const ns = await nanosecondsPerRequest(listener);
  console.log(`${args.only}: ${ns.toFixed(0)} ns a request over ${iterations} (head ${Math.round(bytes / iterations)} bytes)`);
} else {
  const names = (args.variants ?? 'bare,noop,static,nohdr,slidegate,peer').split(',');
  const listeners = Object.fromEntries(names.map((name) => [name, listenerOf(name)]));
  // Warm up every variant before timing any.
  for (const name of names) await nanosecondsPerRequest(listeners[name], 20_000);
  const times = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) for (const name of names) times[name].push(await nanosecondsPerRequest(listeners[name]));
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const base = names.includes('bare') ? 'bare' : names[0];
  console.log(`ns a request, median of ${rounds} interleaved rounds of ${iterations.toLocaleString('en-US')}; Node ${process.version}`);
  for (const name of names) {
    const ratios = times[name].map((t, i) => t / times[base][i]);
    console.log(`${name.padEnd(10)} ${median(times[name]).toFixed(0).padStart(6)} ns  x${median(ratios).toFixed(3)} of ${base} (same-round ratio, median)  req/s-equivalent vs peer: ${names.includes('peer') ? (median(times.peer) / median(times[name])).toFixed(3) : '-'}`);
  }
}
