// `npm run bench [-- --quick] [-- --only=core,redis] [-- --out=DIR]`: runs the suites against the built packages,
// prints a table per suite, writes bench/results/<suite>.json, summary.json, the charts and bench/REPORT.md.
// A quick run (or any run with --out) writes to a scratch folder instead (default .tmp/bench-quick/, ignored by
// git: results/ and REPORT.md there), so the committed figures are only ever replaced by a full run.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from './lib/args.mjs';
import { machineInfo } from './lib/machine.mjs';
import { renderText } from './lib/table.mjs';
import { writeReport } from './lib/report.mjs';

const SUITES = ['core', 'redis', 'cluster', 'accuracy', 'lease', 'http', 'faults', 'scale'];
const HERE = path.dirname(fileURLToPath(import.meta.url));

const args = parseArgs(process.argv.slice(2));
const quick = args.quick === true || process.env.BENCH_QUICK === '1';
// A partial run (--redis-per-client-only) is never written over the committed figures either.
const OUT = typeof args.out === 'string' ? path.resolve(args.out) : quick || args.redisPerClientOnly === true ? path.join(HERE, '..', '.tmp', 'bench-quick') : HERE;
const RESULTS = path.join(OUT, 'results');
const REPORT = path.join(OUT, 'REPORT.md');
const shown = (file) => path.relative(process.cwd(), file) || '.';
const only = typeof args.only === 'string' ? args.only.split(',').map((s) => s.trim()).filter(Boolean) : SUITES;
for (const name of only) {
  if (!SUITES.includes(name)) {
    console.error(`bench: --only names unknown suite '${name}'; suites are ${SUITES.join(', ')}`);
    process.exit(2);
  }
}

const machine = machineInfo();
const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
const command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
await mkdir(RESULTS, { recursive: true });
log(`slidegate bench${quick ? ' (quick)' : ''}: ${only.join(', ')}; Node ${machine.node}, ${machine.cpu}, ${machine.cores} cores`);

let failed = 0;
for (const suite of SUITES.filter((s) => only.includes(s))) {
  const mod = await import(`./suites/${suite}.mjs`);
  const suiteStart = Date.now();
  let result;
  try {
    result = await mod.run({ quick, args, log, machine });
  } catch (error) {
    failed++;
    console.error(`bench: suite ${suite} failed:`, error);
    result = { error: error?.stack ?? String(error), tables: [], headline: {} };
  }
  const record = {
    suite,
    title: mod.title ?? suite,
    date: new Date().toISOString(),
    quick,
    machine,
    seconds: Math.round((Date.now() - suiteStart) / 100) / 10,
    ...result,
  };
  for (const chart of record.charts ?? []) {
    await writeFile(path.join(RESULTS, `${chart.name}.svg`), `${chart.svg}\n`);
    delete chart.svg;
  }
  for (const table of record.tables ?? []) console.log(`\n${renderText(table)}`);
  console.log('');
  await writeFile(path.join(RESULTS, `${suite}.json`), `${JSON.stringify(record, null, 2)}\n`);
  log(`${suite}: done in ${record.seconds} s`);
}

const summary = await writeReport(RESULTS, REPORT, { date: new Date().toISOString(), quick, machine, command }, SUITES);
const missing = Object.entries(summary).filter(([, v]) => v === null).map(([k]) => k);
log(`wrote ${shown(path.join(RESULTS, 'summary.json'))} and ${shown(REPORT)}${missing.length ? `; not measured yet: ${missing.join(', ')}` : ''}`);
if (failed > 0) process.exitCode = 1;
