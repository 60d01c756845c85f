/**
 * What a user's log shows through a Redis outage: a child process on RedisStore.fromUrl with every
 * default decides a request every 20 ms while a throwaway redis-server is stopped for 10 s and
 * started again. Its stderr must hold at most one line per error code, naming host:port, and one
 * recovery line: no ioredis "Unhandled error event" per reconnect attempt.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { startRedis, type RedisServer } from '@slidegate/test-utils';

const WORKER = path.join(__dirname, 'workers', 'outage-logger.mjs');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Counts {
  store: number;
  fallback: number;
  lastSource: string;
}

describe('fault: a Redis outage logs one line per error code and one on recovery (real redis-server, real process)', function () {
  this.timeout(60_000);
  let server: RedisServer;
  after(async () => server?.stop());

  it('a 10 s outage: no ioredis flood, each code once with host:port, one recovery line, decisions back on the store', async () => {
    server = await startRedis({ password: 'hunter2-secret' });
    const child = fork(WORKER, [JSON.stringify({ url: server.url, prefix: `outage-log:${process.pid}:` })], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.resume();
    const next = () => new Promise<unknown>((resolve) => child.once('message', resolve));
    try {
      await next(); // ready: decided on the store
      await server.kill('SIGTERM');
      await sleep(10_000);
      await server.restart();
      let counts: Counts | undefined;
      // Back on the store: decided there, or from a lease (granted by the store after the restart:
      // a lease is spent at most 300 ms after its grant, and the outage lasted 10 s). With refills,
      // a client this steady is decided from leases but for one request a bucket.
      for (let i = 0; i < 50 && (counts === undefined || counts.lastSource === 'fallback'); i++) {
        await sleep(100);
        child.send('counts');
        counts = (await next()) as Counts;
      }
      expect(counts?.lastSource, 'decisions are back on the store').to.be.oneOf(['store', 'lease']);
      // The recovery is reported once the store has answered for 2 s in a row.
      for (let i = 0; i < 50 && !stderr.includes('SLIDEGATE_STORE_RECOVERED'); i++) await sleep(100);
      child.send('stop');
      counts = (await next()) as Counts;
      expect(counts.fallback, 'the outage was decided in fallback').to.be.greaterThan(100);
    } finally {
      if (child.exitCode === null) child.kill();
    }
    const lines = stderr.split('\n').filter((line) => line.trim() !== '' && !line.includes('--trace-warnings'));
    expect(lines.filter((line) => /ioredis|Unhandled/i.test(line)), 'ioredis reports nothing on its own').to.deep.equal([]);
    const codes = lines.map((line) => /\[([A-Z_]+)\] SlidegateWarning/.exec(line)?.[1]);
    expect(codes.every((code) => code !== undefined), `only slidegate warnings:\n${stderr}`).to.equal(true);
    expect(new Set(codes).size, `one line per code:\n${stderr}`).to.equal(codes.length);
    expect(codes, stderr).to.include('ERR_SLIDEGATE_STORE_CONNECTION');
    expect(codes.filter((code) => code === 'SLIDEGATE_STORE_RECOVERED'), 'one recovery line').to.have.length(1);
    const failure = lines.find((line) => line.includes('[ERR_SLIDEGATE_STORE_CONNECTION]')) ?? '';
    expect(failure, 'names the endpoint').to.include(`127.0.0.1:${server.port}`);
    expect(stderr, 'never the password').not.to.include('hunter2-secret');
  });
});
