// Names the JIT-compiled JavaScript in dumps kept by `bench/http-instructions.mjs --keep=DIR
// --node-flags=--perf-basic-prof`, and lists what one server's request costs over another's, function by
// function (self instructions per request, main thread). callgrind_annotate shows V8's compiled code only as
// addresses; Node's perf map (written under --perf-basic-prof) says which function each address range holds.
//
//   node bench/callgrind-js.mjs DIR/koa-bare DIR/koa-slidegate [--requests=4000] [--top=40]
//   node bench/callgrind-js.mjs DIR/koa-slidegate          # one server, its costliest functions
//
// A name starts with V8's tier: `*` optimized (TurboFan or Maglev), `~` interpreted or baseline (Sparkplug),
// `^` baseline in some versions. Code without an entry in the map stays `JIT code (unnamed)`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from './lib/args.mjs';

const args = parseArgs(process.argv.slice(2));
const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const requests = Number(args.requests ?? 4000);
const top = Number(args.top ?? 40);
if (dirs.length < 1 || dirs.length > 2) {
  console.error('usage: node bench/callgrind-js.mjs DIR [DIR2] [--requests=4000] [--top=40]');
  process.exit(2);
}

/** The perf map's ranges, sorted by start; later entries win (V8 reuses addresses after code is freed). */
function readPerfMap(dir) {
  const file = join(dir, 'perf.map');
  if (!existsSync(file)) return [];
  const ranges = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (match !== null) ranges.push({ start: parseInt(match[1], 16), end: parseInt(match[1], 16) + parseInt(match[2], 16), name: match[3], order: ranges.length });
  }
  return ranges.sort((a, b) => a.start - b.start || a.order - b.order);
}

function nameAt(ranges, address) {
  let lo = 0;
  let hi = ranges.length - 1;
  let found;
  // The last range starting at or before the address, then back over overlapping ones for the newest.
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid].start <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  let best;
  for (let i = found ?? -1; i >= 0 && i >= (found ?? 0) - 64; i--) {
    const range = ranges[i];
    if (address < range.end && (best === undefined || range.order > best.order)) best = range;
  }
  return best?.name;
}

/** Self instructions per request of each function on the main thread (the dump ending in -01). */
function costs(dir) {
  const dump = readdirSync(dir).find((name) => /^callgrind\.out\.\d+-0*1$/.test(name));
  if (dump === undefined) throw new Error(`callgrind-js: no main-thread dump (callgrind.out.N-01) in ${dir}`);
  const ranges = readPerfMap(dir);
  const text = execFileSync('callgrind_annotate', ['--threshold=100', join(dir, dump)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const byName = new Map();
  let unnamed = 0;
  for (const line of text.split('\n')) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (match === null || line.includes('(100.0%)')) continue;
    let name = match[2];
    const jit = /^\?\?\?:0x([0-9a-f]+)('\d+)? \[\?\?\?\]$/.exec(name);
    if (jit !== null) {
      name = nameAt(ranges, parseInt(jit[1], 16)) ?? 'JIT code (unnamed)';
      if (name === 'JIT code (unnamed)') unnamed++;
    } else {
      name = name.replace(/^\?\?\?:/, '').replace(/\(v8::internal::.*$/, '(...)').replace(/ \[\/usr\/bin\/node\]$/, '');
    }
    byName.set(name, (byName.get(name) ?? 0) + Number(match[1].replaceAll(',', '')) / requests);
  }
  return { byName, named: ranges.length > 0, unnamed };
}

const [a, b] = dirs.map(costs);
for (const [i, c] of [a, b].entries()) {
  if (c !== undefined && !c.named) console.log(`note: ${dirs[i]} has no perf.map (run the server with --node-flags=--perf-basic-prof); JIT code stays unnamed`);
}
const total = (c) => [...c.byName.values()].reduce((sum, v) => sum + v, 0);
const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(8);
if (b === undefined) {
  console.log(`${dirs[0]}: ${fmt(total(a))} instructions a request (main thread, self)`);
  for (const [name, v] of [...a.byName].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${fmt(v)}  ${name}`);
} else {
  console.log(`main thread, self instructions a request: ${dirs[0]} ${fmt(total(a)).trim()}, ${dirs[1]} ${fmt(total(b)).trim()}`);
  console.log(`${'first'.padStart(8)} ${'second'.padStart(8)} ${'change'.padStart(8)}  function`);
  const names = new Set([...a.byName.keys(), ...b.byName.keys()]);
  const rows = [...names].map((name) => [name, a.byName.get(name) ?? 0, b.byName.get(name) ?? 0]).sort((x, y) => Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]));
  for (const [name, x, y] of rows.slice(0, top)) console.log(`${fmt(x)} ${fmt(y)} ${(y - x >= 0 ? '+' : '') + Math.round(y - x).toLocaleString('en-US').padStart(7)}  ${name}`);
}
