// slidegate's part of one request, timed in a loop with Node's own response code and no network: each
// iteration makes a `ServerResponse`, sets a content type, runs a variant, sets a content length and
// builds the response head (`writeHead`), as a server does for every request. Variants:
//   bare      nothing more
//   static    the two draft-8 headers at fixed values (what sending them costs)
//   nohdr     HttpLimiter.decide() with headers: false (deciding alone)
//   draft8    HttpLimiter.decide() and its draft-8 headers, set as the Express and Koa adapters set them
//   before    draft8 with @slidegate/core from --before=DIR (DIR/node_modules/@slidegate/core, as in
//             bench/tools/http-headers-cost.mjs), to compare two builds in one run
// Limit 1e9 per 60 s and one client, as in the http suite. Far less noisy than req/s on a shared machine
// (about ±30 ns between runs here), but it leaves out the framework, the socket and the CPU caches a
// whole server churns through, so a server pays more per request than this. Run after `npm run build`:
//
//   node bench/tools/header-path.mjs [--before=DIR] [--rounds=9] [--iterations=200000]

import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { parseArgs } from '../lib/args.mjs';
import { importSlidegate } from '../lib/slidegate-build.mjs';
import { FIXED_DRAFT8_HEADERS } from '../lib/fixed-headers.mjs';

const args = parseArgs(process.argv.slice(2));
const rounds = Number(args.rounds ?? 9);
const iterations = Number(args.iterations ?? 200_000);
const LIMIT = 1_000_000_000;
const [[, POLICY], [, LIMIT_ITEM]] = FIXED_DRAFT8_HEADERS;

const request = { ip: '127.0.0.1' };
const access = { ip: (r) => r.ip, forwardedForIgnored: () => false };

/** What the Express and Koa adapters do with an outcome's headers. */
function setHeaders(outcome, res, keyOf) {
  for (const header of outcome.headers) {
    const name = keyOf(header);
    if (header.append && res.getHeader(name) !== undefined) res.appendHeader(name, header.value);
    else res.setHeader(name, header.value);
  }
}

function limiterVariant(lib, options) {
  const http = new lib.HttpLimiter({ limit: LIMIT, windowSeconds: 60, ...options }, access, 'bench');
  // A build from before header lines carried their lower-case key looked it up with headerKey().
  const keyOf = lib.headerKey === undefined ? (header) => header.key : (header) => lib.headerKey(header.name);
  return (res) => setHeaders(http.decide(request), res, keyOf);
}

const ours = await importSlidegate('core');
const variants = {
  bare: () => {},
  static: (res) => {
    res.setHeader('ratelimit-policy', POLICY);
    res.setHeader('ratelimit', LIMIT_ITEM);
  },
  nohdr: limiterVariant(ours, { headers: false }),
  draft8: limiterVariant(ours, {}),
};
if (args.before !== undefined) variants.before = limiterVariant(await importSlidegate('core', args.before), {});

const req = new IncomingMessage(new Socket());
req.method = 'GET';
req.httpVersionMajor = 1;
req.httpVersionMinor = 1;
let bytes = 0;

function nanosecondsPerRequest(variant) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const res = new ServerResponse(req);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    variant(res);
    res.setHeader('Content-Length', '11');
    res.writeHead(200);
    bytes += res._header.length;
  }
  return Number(process.hrtime.bigint() - started) / iterations;
}

const times = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
// Interleaved rounds, so a slower moment of the machine falls on every variant alike.
for (let round = 0; round < rounds; round++) for (const [name, variant] of Object.entries(variants)) times[name].push(nanosecondsPerRequest(variant));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const bare = median(times.bare);
console.log(`ns per request, median of ${rounds} rounds of ${iterations.toLocaleString('en-US')} (heads of ${Math.round(bytes / (rounds * iterations * Object.keys(variants).length))} bytes on average); Node ${process.version}`);
for (const [name, values] of Object.entries(times)) {
  const ns = median(values);
  console.log(`${name.padEnd(8)} ${ns.toFixed(0).padStart(6)} ns  (+${(ns - bare).toFixed(0)} over bare; rounds ${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)})`);
}
