// Suite `core`: in-process check() speed and memory per client, beside the peers' in-memory stores
// and the async-Map ceiling, all measured in this run.
import { fileURLToPath } from 'node:url';
import { runInChild } from '../lib/child.mjs';
import { numberSetting } from '../lib/args.mjs';
import { medianRun, ratio } from '../lib/stats.mjs';
import { barChart } from '../lib/svg.mjs';
import { SUBJECTS } from './core-subjects.mjs';

const CASES = fileURLToPath(new URL('./core-cases.mjs', import.meta.url));
const OURS = 'slidegate sliding-window';
const RLFLEX = 'rate-limiter-flexible RateLimiterMemory';
const CEILING = 'async Map get/set (ceiling)';
const SCENARIOS = [
  ['hot', '1 hot client, under its limit (every request allowed)'],
  ['hot-denied', '1 hot client, over its limit (limit 100 / 60 s: denied after the first 100)'],
  ['distinct', 'distinct clients (requests cycle through N ids)'],
];

export const title = 'In-process decisions (core, embedded store)';

export async function run({ quick, args, log }) {
  const settings = {
    durationMs: numberSetting(args, 'coreDurationMs', { quick: 200, full: 2000 }, quick),
    clients: numberSetting(args, 'coreClients', { quick: 100_000, full: 1_000_000 }, quick),
    memoryClients: numberSetting(args, 'memoryClients', { quick: 100_000, full: 1_000_000 }, quick),
    latencySamples: numberSetting(args, 'latencySamples', { quick: 20_000, full: 200_000 }, quick),
    batch: numberSetting(args, 'batch', { quick: 100, full: 100 }, quick),
    rounds: numberSetting(args, 'rounds', { quick: 1, full: 3 }, quick),
  };
  const subjects = Object.keys(SUBJECTS);
  // Quick mode leaves out the over-limit scenario (to stay under two minutes in CI).
  const scenarios = quick ? SCENARIOS.filter(([s]) => s !== 'hot-denied') : SCENARIOS;
  const runs = new Map();
  for (let round = 1; round <= settings.rounds; round++) {
    for (const [scenario] of scenarios) {
      for (const subject of subjects) {
        log(`core: ${scenario} ${subject}${settings.rounds > 1 ? ` (round ${round}/${settings.rounds})` : ''}`);
        const key = `${scenario}|${subject}`;
        if (!runs.has(key)) runs.set(key, []);
        runs.get(key).push(await runInChild(CASES, 'speed', { subject, scenario, ...settings }));
      }
    }
  }
  const speed = [...runs.values()].map((r) => medianRun(r, 'sequential_ops'));
  const memory = [];
  for (const subject of subjects) {
    log(`core: memory ${subject} x ${settings.memoryClients}`);
    memory.push(await runInChild(CASES, 'memory', { subject, clients: settings.memoryClients }, { execArgv: ['--max-old-space-size=4096'] }));
  }

  const find = (scenario, subject) => speed.find((r) => r.scenario === scenario && r.subject === subject);
  const tables = scenarios.map(([scenario, description]) => {
    const rlflex = find(scenario, RLFLEX);
    const ceiling = find(scenario, CEILING);
    return {
      title: `check() speed: ${description}${scenario === 'distinct' ? `, N = ${settings.clients.toLocaleString('en-US')}` : ''}`,
      columns: [
        { key: 'subject', label: 'subject', align: 'left' },
        { key: 'sequential_ops', label: 'decisions/s (sequential)' },
        { key: 'vs_rlflex', label: 'x RateLimiterMemory', digits: 2 },
        { key: 'vs_ceiling', label: 'x async Map', digits: 2 },
        ...(settings.rounds > 1 ? [{ key: 'sequential_ops_min', label: 'min of rounds' }, { key: 'sequential_ops_max', label: 'max of rounds' }] : []),
        { key: 'batched_ops', label: `decisions/s (batches of ${settings.batch})` },
        { key: 'p50_us', label: 'p50 us', digits: 2 },
        { key: 'p99_us', label: 'p99 us', digits: 2 },
        { key: 'p999_us', label: 'p99.9 us', digits: 2 },
      ],
      rows: subjects.map((subject) => {
        const r = find(scenario, subject);
        return { ...r, vs_rlflex: ratio(r.sequential_ops, rlflex.sequential_ops), vs_ceiling: ratio(r.sequential_ops, ceiling.sequential_ops) };
      }),
    };
  });
  tables.push({
    title: `Memory per tracked client (${settings.memoryClients.toLocaleString('en-US')} clients, one request each; heap delta after forced GC)`,
    columns: [
      { key: 'subject', label: 'subject', align: 'left' },
      { key: 'bytes_per_client', label: 'heap B/client (ids excluded)', digits: 1 },
      { key: 'bytes_per_client_with_id', label: 'heap B/client (with id string)', digits: 1 },
      { key: 'external_per_client', label: 'external B/client', digits: 1 },
      { key: 'array_buffers_per_client', label: 'arrayBuffers B/client', digits: 1 },
      { key: 'heap_delta_mb', label: 'heap delta MB', digits: 1 },
    ],
    rows: memory,
  });

  const hotOurs = find('hot', OURS);
  const hotRlflex = find('hot', RLFLEX);
  const memOurs = memory.find((m) => m.subject === OURS);
  const targets = [
    { target: "'sliding-window' hot decisions/s >= 1.0x RateLimiterMemory", measured: `${ratio(hotOurs.sequential_ops, hotRlflex.sequential_ops)}x`, met: ratio(hotOurs.sequential_ops, hotRlflex.sequential_ops) >= 1 },
    { target: "'sliding-window' hot p99 <= 20 us", measured: `${hotOurs.p99_us} us`, met: hotOurs.p99_us <= 20 },
    { target: "'sliding-window' <= 200 bytes per tracked client (ids excluded)", measured: `${memOurs.bytes_per_client} B`, met: memOurs.bytes_per_client <= 200 },
  ];
  tables.unshift({
    title: 'Targets',
    columns: [
      { key: 'target', label: 'target', align: 'left' },
      { key: 'measured', label: 'measured', align: 'left' },
      { key: 'met', label: 'met' },
    ],
    rows: targets,
  });

  const charts = [
    {
      name: 'core-hot-ops',
      title: 'Hot client: decisions/s (sequential awaits, one process each)',
      svg: barChart({
        title: 'Hot client, under its limit: decisions/s (sequential awaits)',
        bars: subjects.map((subject) => ({ label: subject, value: find('hot', subject).sequential_ops, group: subject.split(' ')[0] })),
      }),
    },
    {
      name: 'core-bytes-per-client',
      title: 'Heap bytes per tracked client',
      svg: barChart({
        title: 'Heap bytes per tracked client (ids excluded)',
        unit: ' B',
        bars: memory.map((m) => ({ label: m.subject, value: m.bytes_per_client, group: m.subject.split(' ')[0] })),
        marker: { value: 200, label: 'target 200 B' },
      }),
    },
  ];

  return {
    settings,
    raw: { speed, memory },
    tables,
    charts,
    headline: {
      memory_hot_ops: hotOurs.sequential_ops,
      rlflex_memory_hot_ops: hotRlflex.sequential_ops,
      async_map_hot_ops: find('hot', CEILING).sequential_ops,
      memory_hot_p50_us: hotOurs.p50_us,
      memory_hot_p99_us: hotOurs.p99_us,
      memory_distinct_ops: find('distinct', OURS).sequential_ops,
      memory_bytes_per_client: memOurs.bytes_per_client,
      memory_bytes_per_client_with_id: memOurs.bytes_per_client_with_id,
      rlflex_memory_bytes_per_client: memory.find((m) => m.subject === RLFLEX).bytes_per_client,
    },
    notes: [
      `Throughput rows: the median of ${settings.rounds} round(s); rounds are interleaved across subjects so background load tints all alike (min/max of the rounds shown when more than one).`,
      'Each row runs in its own Node process (node --expose-gc), so one subject\'s JIT state and garbage cannot tint another\'s.',
      'Headline throughput is "sequential": one awaited check() after another in a tight loop (the latency-bound rate of one request path). "Batches" start N checks at once and await them together (many requests in flight).',
      'Latency: each of a sample of sequential calls timed with process.hrtime.bigint() around the await (timer overhead included, about 0.05 us).',
      'Window 60 s for every subject; the peers are fixed windows, slidegate\'s exact sliding window records one count per second.',
      'Bytes per client: heapUsed after forced GC, before and after N clients made one request each, divided by N. The id strings are built before the limiter is made, so "ids excluded" is the limiter\'s own cost; "with id string" adds what each id string costs on its own (a limiter must hold its key).',
    ],
  };
}
