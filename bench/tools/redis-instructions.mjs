// Redis's own work per decision, in CPU instructions counted by valgrind's callgrind: unlike seconds,
// the count does not move with what else the machine is doing, so two versions of a script can be
// compared on a busy machine. Each row runs a redis-server of its own under callgrind (killed by
// pid), makes `--decisions` checks at concurrency 256, and reports (instructions of the run - those
// of an idle run) / decisions: command parsing, the script, its redis.call()s and the replies.
// Run after `npm run build`: node bench/tools/redis-instructions.mjs [--decisions=3000] [row ...]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { RateLimiter, RedisStore } from '@slidegate/core';
import { freePort } from '../lib/throwaway-redis.mjs';

const CONCURRENCY = 256;
const T0 = 1_700_000_000;
const decisions = Number(process.argv.find((a) => a.startsWith('--decisions='))?.split('=')[1] ?? 3000);

/** Rows: what one decision is, and how the checks are spread over clients and seconds. */
const ROWS = {
  'raw-evalsha': { label: "raw EVALSHA ('return 1')" },
  rlflex: { label: 'RateLimiterRedis consume(), 1 hot client' },
  'hot-unbatched': { label: 'RedisStore, 1 hot client, maxBatch 1', maxBatch: 1, client: () => 'hot' },
  hot: { label: 'RedisStore, 1 hot client (batched)', maxBatch: 128, client: () => 'hot' },
  'distinct-unbatched': { label: 'RedisStore, 100,000 clients, maxBatch 1', maxBatch: 1, client: (i) => `c${i % 100_000}` },
  distinct: { label: 'RedisStore, 100,000 clients (batched)', maxBatch: 128, client: (i) => `c${i % 100_000}` },
  spread: { label: 'RedisStore, 1,000 clients over 3 s (batched)', maxBatch: 128, client: (i) => `c${i % 1000}`, second: (i) => Math.floor(i / 1000) },
};

async function underCallgrind(run) {
  const port = await freePort();
  const dir = mkdtempSync('/dev/shm/slidegate-callgrind-');
  const out = `${dir}/callgrind.out`;
  const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, 'redis-server', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    let client;
    for (let attempt = 0; attempt < 300 && client === undefined; attempt++) {
      const candidate = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      candidate.on('error', () => {});
      try {
        await candidate.connect();
        await candidate.ping();
        client = candidate;
      } catch {
        candidate.disconnect();
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (client === undefined) throw new Error('redis-server under valgrind did not start (is valgrind installed? apt-get install -y valgrind)');
    await run(client);
    await client.call('SHUTDOWN', 'NOSAVE').catch(() => {});
    client.disconnect();
    await exited;
    return Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(out, 'utf8'))[1]);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(name) {
  const row = ROWS[name];
  return underCallgrind(async (client) => {
    let decide;
    let close = async () => {};
    if (name === 'raw-evalsha') {
      const sha = await client.script('LOAD', 'return 1');
      decide = (i) => client.evalsha(sha, 1, `k${i % 1000}`);
    } else if (name === 'rlflex') {
      const limiter = new RateLimiterRedis({ storeClient: client, keyPrefix: 'rl', points: 1e9, duration: 60 });
      decide = () => limiter.consume('hot');
    } else {
      const store = new RedisStore({ client, prefix: 'bench:', maxBatch: row.maxBatch });
      // Patient and closed: under valgrind Redis is slow, and no decision may come from the fallback.
      const limiter = new RateLimiter({ limit: 1e9, windowSeconds: 60, store, timeoutMs: 60_000, failureMode: 'closed' });
      decide = (i) =>
        limiter.check(row.client(i), { timestamp: T0 + (row.second?.(i) ?? 0) }).then((d) => {
          if (d.source !== 'store') throw new Error(`a decision came from ${d.source}`);
        });
      close = async () => {
        await limiter.close();
        await store.close();
      };
    }
    // Scripts loaded (the first call of each is NOSCRIPT, then EVAL) before counting starts to matter.
    await decide(0);
    await Promise.all([decide(1), decide(2)]);
    let next = 3;
    const loop = async () => {
      while (next < decisions) await decide(next++);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    await close();
  });
}

const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const idle = await underCallgrind(async () => {});
console.log(`Redis instructions per decision (callgrind; ${decisions} decisions at concurrency ${CONCURRENCY}; idle run subtracted)`);
for (const name of names.length > 0 ? names : Object.keys(ROWS)) {
  if (!ROWS[name]) throw new Error(`unknown row ${name}; rows: ${Object.keys(ROWS).join(', ')}`);
  const total = await measure(name);
  console.log(`${ROWS[name].label.padEnd(48)} ${Math.round((total - idle) / decisions).toLocaleString('en-US').padStart(8)}`);
}
