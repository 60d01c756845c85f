// One host with no Redis, as test/cluster-store.test.ts runs it: this process is a node:cluster
// primary that serves ClusterStore (on the BUILT @slidegate/core) and forks worker copies of itself;
// each worker decides requests of one hot client through `new ClusterStore()` (leases, the denial
// cache), on the real clock, and reports every decision it makes as it makes it. Input: one JSON argument
// (`job`); output: IPC messages to the test ({ allowed: [t...], firstAllowedAt, fallback, denied }
// per worker round, then { done }).
import cluster from 'node:cluster';
import { ClusterStore, RateLimiter } from '@slidegate/core';
import { decideRound } from './decision-round.mjs';

const job = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function primary() {
  const report = (m) => process.send?.(m);
  let server;
  // 'late': the workers start before the store is served, and decide in fallback until it is.
  if (job.scenario !== 'late') server = await ClusterStore.servePrimary();
  const workers = [];
  const exited = [];
  const admitted = [];
  // Which server a round's decisions came from: 'old' before close(), 'gap' until served again, 'new' after.
  let phase = 'old';
  const rounds = [];
  // The scenario's clock starts once every worker decides (forking 4 Node processes takes seconds on a busy machine).
  const allDeciding = async () => {
    while (rounds.filter((n) => n > 0).length < job.workers) await sleep(10);
  };
  for (let i = 0; i < job.workers; i++) {
    const worker = cluster.fork();
    worker.on('message', (m) => {
      if (m && m.round) {
        admitted[i] = (admitted[i] ?? 0) + m.round.allowed.length;
        rounds[i] = (rounds[i] ?? 0) + 1;
        report({ worker: i, phase, ...m.round });
      }
    });
    exited.push(new Promise((resolve) => worker.on('exit', resolve)));
    workers.push(worker);
  }
  await allDeciding();
  if (job.scenario === 'late') {
    await sleep(300);
    server = await ClusterStore.servePrimary();
    report({ servedAt: Date.now() });
  }
  if (job.scenario === 'kill') {
    await sleep(job.killAfterMs);
    // Mid-flight: a worker that has admitted some of its own. Not a fixed one: under contention one
    // worker may be denied for the whole run while the others' leases take the freed capacity.
    let victim = -1;
    while (victim < 0) {
      if (workers.every((w) => w.isDead())) throw new Error('every worker ended before one had admitted 5 requests');
      victim = workers.findIndex((w, i) => !w.isDead() && (admitted[i] ?? 0) >= 5);
      if (victim < 0) await sleep(10);
    }
    workers[victim].process.kill('SIGKILL');
    report({ killedAt: Date.now(), killedWorker: victim });
  }
  if (job.scenario === 'restart') {
    await sleep(500);
    phase = 'gap';
    await server.close();
    report({ stoppedAt: Date.now() });
    await sleep(400);
    server = await ClusterStore.servePrimary();
    phase = 'new';
    report({ servedAt: Date.now() });
  }
  await Promise.all(exited);
  await server.close();
  // Exit only once the last message is written: process.exit() right after send() can drop it.
  process.send?.({ done: true }, () => process.exit(0));
}

async function worker() {
  const lane = (store, limit, name) => ({
    name,
    store,
    limiter: new RateLimiter({
      limit,
      windowSeconds: job.windowSeconds,
      store,
      lease: job.lease ? { maxUnits: job.leaseUnits } : false,
      // A fallback decision admits nothing, so every admitted unit was decided by the shared store.
      failureMode: 'closed',
      // Generous: 5 processes share 2 cores in CI, and this test is about what is admitted, not latency.
      timeoutMs: 1000,
    }),
  });
  const lanes = [lane(new ClusterStore(), job.limit, undefined)];
  // 'two-stores': a second limiter on its own ClusterStore (another prefix, another limit) in the same worker.
  if (job.scenario === 'two-stores') lanes.push(lane(new ClusterStore({ prefix: 'second:' }), job.secondLimit, 'second'));
  // Time runs from the end of the first round, so a slow start does not eat the scenario.
  let until = Infinity;
  while (Date.now() < until) {
    await Promise.all(
      lanes.map(async ({ name, limiter }) => {
        const round = { lane: name, ...(await decideRound(limiter, job.concurrency)) };
        process.send({ round });
        // A round all in fallback answered at once: pause, so the IPC channel carries load, not a flood of reports.
        if (round.fallback === job.concurrency) await new Promise((resolve) => setTimeout(resolve, 5));
      }),
    );
    if (until === Infinity) until = Date.now() + job.durationMs;
    // Let the IPC channel and the other workers breathe: this is a load, not a spin.
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const { limiter, store } of lanes) {
    await limiter.close();
    await store.close();
  }
  process.disconnect();
}

if (cluster.isPrimary) await primary();
else await worker();
