// Child-process entry points of the core suite (run through bench/lib/child.mjs, one process per case).
import { SUBJECTS } from './core-subjects.mjs';
import { batchedOps, latencySamples, sequentialOps } from '../lib/measure.mjs';
import { latencySummaryUs } from '../lib/stats.mjs';

/** Client ids as flat strings (JSON.parse makes them flat), so no limiter pays to flatten a cons-string. */
function makeKeys(count) {
  const keys = new Array(count);
  for (let i = 0; i < count; i++) keys[i] = `client-${i}`;
  return JSON.parse(JSON.stringify(keys));
}

/**
 * Throughput and latency of one subject in one scenario:
 * - 'hot': one client far below its limit (every request allowed: the path that records)
 * - 'hot-denied': one client over its limit (after the first `limit` requests, every request denied)
 * - 'distinct': requests cycle through `clients` distinct ids, one limiter holding them all
 */
export async function speed({ subject, scenario, clients, durationMs, latencySamples: samples, batch }) {
  const limit = scenario === 'hot-denied' ? 100 : 1_000_000_000;
  const s = SUBJECTS[subject](limit);
  const keys = scenario === 'distinct' ? makeKeys(clients) : ['hot-client'];
  const n = keys.length;
  const decide = n === 1 ? () => s.decide(keys[0]) : (i) => s.decide(keys[i % n]);
  // Warm up: let the JIT settle and, for 'distinct', touch every client once so the timed part measures a
  // steady population rather than its growth.
  await sequentialOps(decide, { durationMs: Math.min(300, durationMs) });
  if (n > 1) for (let i = 0; i < n; i++) await decide(i);
  const sequential = await sequentialOps(decide, { durationMs });
  const batched = await batchedOps(decide, { durationMs, batch });
  const latency = latencySummaryUs(await latencySamples(decide, { samples }));
  await s.close();
  return { subject, scenario, clients: n, sequential_ops: sequential.ops_per_s, batched_ops: batched.ops_per_s, batch, ...latency };
}

const heap = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};

/**
 * Bytes per tracked client: heap delta over `clients` clients with one request each, after forced GCs.
 * The id strings are built (and measured) before the limiter, so the delta excludes them; their own
 * cost is reported beside it.
 */
export async function memory({ subject, clients }) {
  if (typeof globalThis.gc !== 'function') throw new Error('bench: memory cases need node --expose-gc');
  const m0 = heap();
  const keys = makeKeys(clients);
  const m1 = heap();
  const s = SUBJECTS[subject](1_000_000_000);
  const m2 = heap();
  for (let i = 0; i < clients; i++) await s.decide(keys[i]);
  const m3 = heap();
  const perClient = (a, b, field) => Math.round(((b[field] - a[field]) / clients) * 10) / 10;
  const result = {
    subject,
    clients,
    bytes_per_client: perClient(m2, m3, 'heapUsed'),
    id_bytes_per_client: perClient(m0, m1, 'heapUsed'),
    external_per_client: perClient(m2, m3, 'external'),
    array_buffers_per_client: perClient(m2, m3, 'arrayBuffers'),
    heap_delta_mb: Math.round(((m3.heapUsed - m2.heapUsed) / 2 ** 20) * 10) / 10,
  };
  result.bytes_per_client_with_id = Math.round((result.bytes_per_client + result.id_bytes_per_client) * 10) / 10;
  // Keep the ids and the subject alive until after the last measurement.
  if (keys.length !== clients || s.holds === undefined) throw new Error('unreachable');
  await s.close();
  return result;
}
