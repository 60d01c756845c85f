// Child-process entry of the cluster suite: this process is the node:cluster primary (serving
// slidegate's ClusterStore and rate-limiter-flexible's RateLimiterClusterMaster) and forks the workers.
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { ClusterStore } from '@slidegate/core';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';

const WORKER = fileURLToPath(new URL('./cluster-worker.mjs', import.meta.url));

/** The most admitted in any window (t - W, t] of real time, over every worker's admitted times (ms). */
function heaviestWindow(times, windowMs) {
  const sorted = [...times].sort((a, b) => a - b);
  let heaviest = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[start] <= sorted[end] - windowMs) start++;
    heaviest = Math.max(heaviest, end - start + 1);
  }
  return heaviest;
}

export async function hot(params) {
  const server = await ClusterStore.servePrimary();
  // rate-limiter-flexible's primary side: one per process, answers its workers' consume() over IPC.
  new RateLimiterClusterMaster();
  cluster.setupPrimary({ exec: WORKER, args: [JSON.stringify({ ...params, run: `${process.pid}-${Date.now()}` })], silent: false });
  const workers = Array.from({ length: params.workers }, () => cluster.fork());
  // Both libraries talk to their workers over the same IPC channel: wait for this suite's own messages.
  const next = (w, field) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m && typeof m === 'object' && field in m) {
          w.off('message', on);
          resolve(m);
        }
      };
      w.on('message', on);
    });
  await Promise.all(workers.map((w) => next(w, 'ready')));
  const results = workers.map((w) => next(w, 'ops_per_s'));
  for (const w of workers) w.send('go');
  const reports = await Promise.all(results);
  await server.close();
  const ops_per_s = reports.reduce((n, r) => n + r.ops_per_s, 0);
  const times = params.times ? reports.flatMap((r) => r.admitted) : [];
  const heaviest = params.times ? heaviestWindow(times, params.windowSeconds * 1000) : null;
  return {
    ...params,
    ops_per_s,
    admitted: reports.reduce((n, r) => n + r.allowed, 0),
    denied: reports.reduce((n, r) => n + r.denied, 0),
    fallback: reports.reduce((n, r) => n + r.fallback, 0),
    heaviest_window: heaviest,
    over_admission: heaviest === null ? null : Math.max(0, heaviest - params.limit),
  };
}
