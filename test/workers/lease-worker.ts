/**
 * One instance for test/lease-distributed.test.ts: a RateLimiter with leases on a shared RedisStore,
 * driven by the parent over IPC. Commands: 'checks' (a burst at one timestamp), 'update'
 * (updateLimit), 'run' (a timed random load on a virtual clock shared by all workers), 'close'.
 * Every decision goes back as a compact record so the parent can check the SPEC's invariant.
 */
import { Redis } from 'ioredis';
import { RateLimiter, RedisStore, SAFE_REDIS_OPTIONS } from '@slidegate/core';

export interface WorkerConfig {
  url: string;
  prefix: string;
  limit: number;
  windowSeconds: number;
  idleMs: number;
}

/** [clientId, effective timestamp, cost, allowed (1/0), source ('s' store, 'l' lease, 'f' fallback), ms when decided, requested timestamp] */
export type DecisionRecord = [string, number, number, number, string, number, number];

export interface RunPlan {
  /** Date.now() at which virtual second `base` begins, the same for every worker. */
  startMs: number;
  stepMs: number;
  seconds: number;
  base: number;
  hot: string[];
  coldClients: number;
  seed: number;
  /** updateLimit calls this worker makes once the virtual clock reaches base + atSecond. */
  updates: Array<{ atSecond: number; clientId: string; limit: number; windowSeconds: number }>;
  /** Upper bound on decisions, so the run ends even on a fast machine. */
  maxDecisions: number;
}

export interface UpdateRecord {
  clientId: string;
  limit: number;
  startMs: number;
  endMs: number;
}

export type Command =
  | { id: number; cmd: 'checks'; clientId: string; timestamp: number; count: number; sequential?: boolean }
  | { id: number; cmd: 'update'; clientId: string; limit: number; windowSeconds: number }
  | { id: number; cmd: 'run'; plan: RunPlan }
  | { id: number; cmd: 'close' };

/** A command as the parent writes it (the channel adds the id). */
export type CommandBody = { [K in Command['cmd']]: Omit<Extract<Command, { cmd: K }>, 'id'> }[Command['cmd']];

const config = JSON.parse(process.env.LEASE_WORKER_CONFIG ?? '{}') as WorkerConfig;
// The settings slidegate asks of a client; with no offline queue, the worker reports ready once connected.
const client = new Redis(config.url, { ...SAFE_REDIS_OPTIONS, enableAutoPipelining: true });
client.on('error', () => undefined); // failures surface as failed (closed-mode) decisions
const store = new RedisStore({ client, prefix: config.prefix });
// failureMode 'closed': should Redis stall, a fallback decision denies and can never over-admit.
const limiter = new RateLimiter({
  limit: config.limit,
  windowSeconds: config.windowSeconds,
  store,
  lease: { idleMs: config.idleMs },
  failureMode: 'closed',
  timeoutMs: 2000,
});

const SOURCES = { store: 's', lease: 'l', fallback: 'f' } as const;

async function check(clientId: string, timestamp: number, cost: number, records: DecisionRecord[]): Promise<void> {
  const d = await limiter.check(clientId, { timestamp, cost });
  records.push([clientId, d.timestamp, cost, d.allowed ? 1 : 0, SOURCES[d.source], Date.now(), timestamp]);
}

/** A small seeded generator (mulberry32), so a failing run can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function run(plan: RunPlan): Promise<{ records: DecisionRecord[]; updates: UpdateRecord[] }> {
  const rand = random(plan.seed);
  const records: DecisionRecord[] = [];
  const updates: UpdateRecord[] = [];
  const pending = plan.updates.map((u) => ({ ...u, done: false }));
  while (Date.now() < plan.startMs) await sleep(Math.min(5, plan.startMs - Date.now()));
  const endMs = plan.startMs + plan.seconds * plan.stepMs;
  while (Date.now() < endMs && records.length < plan.maxDecisions) {
    // Virtual time to the ms: a virtual second lasts stepMs of real time.
    const vMs = plan.base * 1000 + Math.floor(((Date.now() - plan.startMs) * 1000) / plan.stepMs);
    const v = vMs / 1000;
    for (const u of pending) {
      if (u.done || v < plan.base + u.atSecond) continue;
      u.done = true;
      const startMs = Date.now();
      await limiter.updateLimit(u.clientId, u.limit, u.windowSeconds);
      updates.push({ clientId: u.clientId, limit: u.limit, startMs, endMs: Date.now() });
    }
    const batch: Array<Promise<void>> = [];
    for (const clientId of plan.hot) {
      const burst = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < burst; i++) {
        // Some requests arrive late (timestamps up to 4 s behind, to the ms), some cost 2.
        const timestamp = rand() < 0.15 ? (vMs - 1 - Math.floor(rand() * 4000)) / 1000 : v;
        batch.push(check(clientId, timestamp, rand() < 0.1 ? 2 : 1, records));
      }
    }
    if (rand() < 0.3) batch.push(check(`cold-${Math.floor(rand() * plan.coldClients)}`, v, 1, records));
    await Promise.all(batch);
    await sleep(1); // let timers (the lease sweep) run, as a server's event loop would
  }
  return { records, updates };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'checks': {
      const records: DecisionRecord[] = [];
      if (command.sequential === true) {
        for (let i = 0; i < command.count; i++) await check(command.clientId, command.timestamp, 1, records);
      } else {
        await Promise.all(Array.from({ length: command.count }, () => check(command.clientId, command.timestamp, 1, records)));
      }
      return { records };
    }
    case 'update': {
      const startMs = Date.now();
      await limiter.updateLimit(command.clientId, command.limit, command.windowSeconds);
      return { startMs, endMs: Date.now() };
    }
    case 'run':
      return run(command.plan);
    case 'close':
      await limiter.close();
      await store.close();
      client.disconnect();
      return {};
  }
}

process.on('message', (command: Command) => {
  handle(command).then(
    (result) => process.send?.({ id: command.id, ok: true, result }),
    (error: unknown) => process.send?.({ id: command.id, ok: false, error: String(error instanceof Error ? error.stack : error) }),
  );
});
// The parent's disconnect (or death) ends this worker: no orphan keeps running.
process.on('disconnect', () => process.exit(0));
client.once('ready', () => process.send?.({ ready: true }));
