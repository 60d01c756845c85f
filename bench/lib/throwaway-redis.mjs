// A redis-server of our own on a free port, for measurements that must not share a server (commands per
// decision) or that kill it (faults). Killed by its pid, never by name.
import { spawn } from 'node:child_process';
import net from 'node:net';
import Redis from 'ioredis';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPing(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`bench: redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

/** Starts `redis-server` (no persistence) on `port` (default: a free one); resolves when it answers PING. */
export async function startThrowawayRedis({ port } = {}) {
  const p = port ?? (await freePort());
  const spawnedAt = performance.now();
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new Error(`bench: cannot start redis-server (${error.message}); install Redis (apt-get install redis-server)`)));
  });
  await waitForPing(p, 5000);
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    pid: child.pid,
    /** performance.now() when the process was spawned (before it accepted connections). */
    spawnedAt,
    /** SIGKILL and wait for the exit. */
    kill: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
