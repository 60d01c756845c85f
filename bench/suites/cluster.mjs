// Suite `cluster`: one host, several processes, no Redis. 4 node:cluster workers decide one hot client
// through slidegate's ClusterStore (leases on) and through rate-limiter-flexible's RateLimiterCluster,
// in the same run: decisions/s, and the most admitted in any real-time window against the limit.
import { fileURLToPath } from 'node:url';
import { runInChild } from '../lib/child.mjs';
import { numberSetting } from '../lib/args.mjs';
import { ratio } from '../lib/stats.mjs';

const CASES = fileURLToPath(new URL('./cluster-cases.mjs', import.meta.url));

export const title = 'One host, 4 processes, no Redis: ClusterStore vs RateLimiterCluster';

export async function run({ quick, args, log }) {
  const settings = {
    workers: numberSetting(args, 'clusterWorkers', { quick: 4, full: 4 }, quick),
    durationMs: numberSetting(args, 'clusterDurationMs', { quick: 1000, full: 3000 }, quick),
    concurrency: numberSetting(args, 'clusterConcurrency', { quick: 64, full: 64 }, quick),
    limit: numberSetting(args, 'clusterLimit', { quick: 2000, full: 2000 }, quick),
  };
  const rows = [];
  for (const [load, limit, times] of [
    ['every request admitted (limit 1e9/s)', 1_000_000_000, false],
    [`limit reached (${settings.limit}/s)`, settings.limit, true],
  ]) {
    for (const [subject, label] of [
      ['slidegate', 'slidegate ClusterStore (leases)'],
      ['rlflex', 'rate-limiter-flexible RateLimiterCluster'],
    ]) {
      log(`cluster: ${label}, ${load}`);
      try {
        rows.push({ label, load, ...(await runInChild(CASES, 'hot', { subject, workers: settings.workers, concurrency: settings.concurrency, durationMs: settings.durationMs, limit, windowSeconds: 1, times })) });
      } catch (error) {
        rows.push({ label, load, subject, ops_per_s: `failed: ${String(error.message).split('\n')[0]}` });
      }
    }
  }
  const figure = (subject, load) => rows.find((r) => r.subject === subject && r.load.startsWith(load))?.ops_per_s;
  const num = (v) => (typeof v === 'number' ? v : null);
  for (const r of rows) r.vs_rlflex = ratio(num(r.ops_per_s), num(figure('rlflex', r.load.slice(0, 5))));
  const limited = rows.find((r) => r.subject === 'slidegate' && typeof r.over_admission === 'number');
  const hotRatio = ratio(num(figure('slidegate', 'every')), num(figure('rlflex', 'every')));
  return {
    settings,
    raw: { rows },
    tables: [
      {
        title: 'Targets',
        columns: [
          { key: 'target', label: 'target', align: 'left' },
          { key: 'measured', label: 'measured', align: 'left' },
          { key: 'met', label: 'met' },
        ],
        rows: [
          { target: 'ClusterStore hot client >= 1.0x RateLimiterCluster decisions/s', measured: hotRatio === null ? '-' : `${hotRatio}x`, met: hotRatio === null ? null : hotRatio >= 1 },
          { target: 'ClusterStore over-admission 0 (most in any 1 s window <= L)', measured: limited ? `${limited.heaviest_window} of ${limited.limit}` : '-', met: limited ? limited.over_admission === 0 : null },
        ],
      },
      {
        title: `${settings.workers} workers x ${settings.concurrency} in flight on one hot client, ${settings.durationMs} ms, window 1 s`,
        columns: [
          { key: 'label', label: 'subject', align: 'left' },
          { key: 'load', label: 'load', align: 'left' },
          { key: 'ops_per_s', label: 'decisions/s' },
          { key: 'vs_rlflex', label: 'x RateLimiterCluster', digits: 2 },
          { key: 'admitted', label: 'admitted' },
          { key: 'heaviest_window', label: 'most in any 1 s' },
          { key: 'over_admission', label: 'over L' },
          { key: 'fallback', label: 'errors/fallback' },
        ],
        rows,
      },
    ],
    headline: { cluster_store_ops: num(figure('slidegate', 'every')), rlflex_cluster_ops: num(figure('rlflex', 'every')), cluster_store_over_admission: limited?.over_admission ?? null },
    notes: [
      'Each row is one node:cluster primary (a child process) with its own workers; slidegate workers use new ClusterStore() with its defaults (a shared store: leases and the denial cache on), rate-limiter-flexible workers RateLimiterCluster with RateLimiterClusterMaster in the primary.',
      "'most in any 1 s': the most decisions admitted across all workers within any 1 s window, for slidegate at each decision's effective time (the time its window is counted in, as the limiter's time model defines it), for RateLimiterCluster at the worker's Date.now() when it answered (it reports no decision time; a fixed window, it may admit up to 2L across a window boundary).",
    ],
  };
}
