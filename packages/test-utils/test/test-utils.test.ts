import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import {
  fakeClock,
  freePort,
  livePids,
  sharedRedis,
  startCluster,
  startRedis,
  startSentinelGroup,
  type RedisCluster,
  type RedisServer,
  type SentinelGroup,
  type SharedRedis,
} from '../src/index';
import { ping } from '../src/ping';
import { sharedRedisAt } from '../src/shared-redis';

/**
 * True while a process with this pid runs. A zombie counts as dead: when the parent test process has exited, its
 * killed children are reparented to PID 1, which in some containers never reaps them.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may contain spaces, so read the state after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // No /proc (macOS): signal 0 succeeded, so it exists.
  }
}

/** Resolves true once `pid` has died, false if it still runs after `timeoutMs`. */
async function diesWithin(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** Runs the leaky fixture; resolves with the pid and dir of the server it started. */
function runLeakyProcess(mode: 'exit' | 'signal'): Promise<{ pid: number; dir: string; exit: Promise<void> }> {
  const fixture = join(__dirname, 'fixtures', 'leaky-process.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('leaky fixture printed nothing within 15 s'));
    }, 15_000);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const line = output.split('\n')[0];
      if (output.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        resolve({ ...(JSON.parse(line) as { pid: number; dir: string }), exit });
        if (mode === 'signal') child.kill('SIGTERM');
      }
    });
    child.once('exit', (code) => {
      if (!output.includes('\n')) {
        clearTimeout(timer);
        reject(new Error(`leaky fixture exited with ${String(code)} before printing`));
      }
    });
  });
}

describe('@slidegate/test-utils', () => {
  describe('fakeClock', () => {
    it('moves only when told to', () => {
      const clock = fakeClock(1_000);
      expect(clock.now()).to.equal(1_000);
      clock.advance(0.5);
      expect(clock.now()).to.equal(1_000.5);
      clock.set(42);
      const { now } = clock;
      expect(now()).to.equal(42);
    });

    it('rejects a time that is not a finite number, naming the value', () => {
      expect(() => fakeClock(Number.NaN)).to.throw(TypeError, /startSeconds.*NaN/);
      expect(() => fakeClock(0).advance(Infinity)).to.throw(TypeError, /seconds.*Infinity/);
    });
  });

  describe('freePort', () => {
    it('hands out distinct ports that can be bound on 127.0.0.1', async () => {
      const ports = await Promise.all(Array.from({ length: 10 }, () => freePort()));
      expect(new Set(ports).size).to.equal(10);
      const port = ports[0] ?? 0;
      await new Promise<void>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
      });
    });
  });

  describe('startRedis', () => {
    const servers: RedisServer[] = [];
    after(async () => {
      await Promise.all(servers.map((server) => server.stop()));
    });

    it('starts a server that answers, and stop() ends its process and removes its directory', async () => {
      const server = await startRedis();
      const client = server.client();
      expect(await client.ping()).to.equal('PONG');
      expect(server.url).to.equal(`redis://127.0.0.1:${server.port}`);
      expect(isAlive(server.pid)).to.equal(true);
      expect(livePids()).to.include(server.pid);
      const { pid, dir } = server;
      await server.stop();
      expect(isAlive(pid)).to.equal(false);
      expect(livePids()).to.not.include(pid);
      expect(existsSync(dir)).to.equal(false);
      expect(client.status).to.equal('end');
      await server.stop(); // A second stop is harmless.
    });

    it('keeps data across a SIGKILL and restart() with appendOnly', async function () {
      this.timeout(30_000);
      const server = await startRedis({ appendOnly: true });
      servers.push(server);
      const client = server.client({ maxRetriesPerRequest: 5 });
      client.on('error', () => undefined); // Connection refused while the server is down.
      await client.set('test-utils:durable', 'kept');
      const firstPid = server.pid;
      await server.kill('SIGKILL');
      expect(server.running).to.equal(false);
      expect(isAlive(firstPid)).to.equal(false);
      await server.restart();
      expect(server.pid).to.not.equal(firstPid);
      expect(await client.get('test-utils:durable')).to.equal('kept');
      await server.restart(); // A graceful restart keeps it too.
      expect(await client.get('test-utils:durable')).to.equal('kept');
    });

    it('freezes with SIGSTOP and resumes with SIGCONT', async () => {
      const server = await startRedis();
      servers.push(server);
      const client = server.client({ commandTimeout: 200, maxRetriesPerRequest: 0 });
      client.on('error', () => undefined);
      await client.set('test-utils:frozen', '1');
      await server.kill('SIGSTOP');
      let error: unknown;
      try {
        await client.get('test-utils:frozen');
      } catch (caught) {
        error = caught;
      }
      expect(String(error)).to.match(/timed out/i);
      await server.kill('SIGCONT');
      const fresh = server.client();
      expect(await fresh.get('test-utils:frozen')).to.equal('1');
    });

    it('sets requirepass and gives clients the password', async () => {
      const server = await startRedis({ password: 'p@ss word' });
      servers.push(server);
      expect(await server.client().ping()).to.equal('PONG');
      const anonymous = server.client({ password: undefined, maxRetriesPerRequest: 0 });
      anonymous.on('error', () => undefined);
      let error: unknown;
      try {
        await anonymous.get('x');
      } catch (caught) {
        error = caught;
      }
      expect(String(error)).to.match(/NOAUTH/);
    });

    it('fails fast with the server log when redis-server refuses its arguments', async () => {
      let error: unknown;
      const started = Date.now();
      try {
        servers.push(await startRedis({ args: ['--no-such-directive', 'yes'] }));
      } catch (caught) {
        error = caught;
      }
      expect(String(error)).to.match(/exited during start-up/);
      expect(String(error)).to.match(/no-such-directive/);
      expect(Date.now() - started).to.be.lessThan(5_000);
    });
  });

  describe('clean-up when the test process ends', () => {
    it('kills a forgotten server when the process exits normally', async function () {
      this.timeout(30_000);
      const leaked = await runLeakyProcess('exit');
      await leaked.exit;
      // SIGKILL was sent before the fixture exited; the kernel may take a moment to end the process.
      expect(await diesWithin(leaked.pid, 2_000)).to.equal(true);
      expect(existsSync(leaked.dir)).to.equal(false);
    });

    it('kills a forgotten server when the process gets SIGTERM', async function () {
      this.timeout(30_000);
      const leaked = await runLeakyProcess('signal');
      await leaked.exit;
      expect(await diesWithin(leaked.pid, 2_000)).to.equal(true);
      expect(existsSync(leaked.dir)).to.equal(false);
    });
  });

  describe('sharedRedis', () => {
    it('gives a Redis that answers PING, on 6379 or a throwaway one', async () => {
      const shared = await sharedRedis();
      try {
        const { Redis: RedisClient } = await import('ioredis');
        const client = new RedisClient(shared.url, { maxRetriesPerRequest: 1 });
        try {
          expect(await client.ping()).to.equal('PONG');
        } finally {
          client.disconnect();
        }
        expect(shared.port === 6379).to.equal(!shared.startedOwn);
      } finally {
        await shared.stop();
      }
    });

    it('starts one throwaway server when nothing answers, says so once, and stops it after the last user', async () => {
      const silentPort = await freePort(); // Nothing listens there.
      const printed: string[] = [];
      const originalError = console.error;
      console.error = (...args: unknown[]) => printed.push(args.join(' '));
      let first: SharedRedis | undefined;
      let second: SharedRedis | undefined;
      try {
        [first, second] = await Promise.all([sharedRedisAt('127.0.0.1', silentPort), sharedRedisAt('127.0.0.1', silentPort)]);
      } finally {
        console.error = originalError;
      }
      expect(first.startedOwn).to.equal(true);
      expect(second.port).to.equal(first.port);
      expect(printed).to.deep.equal([
        `[test-utils] no Redis on 127.0.0.1:${silentPort}; started a throwaway redis-server on port ${first.port}`,
      ]);
      await first.stop();
      expect(await ping('127.0.0.1', first.port, 1_000)).to.equal(true); // The second user still has it.
      await second.stop();
      expect(await ping('127.0.0.1', first.port, 1_000)).to.equal(false);
    });

    it('says how to get Redis when redis-server is not installed', async () => {
      const originalPath = process.env['PATH'];
      process.env['PATH'] = '/nonexistent';
      let error: unknown;
      try {
        await startRedis();
      } catch (caught) {
        error = caught;
      } finally {
        process.env['PATH'] = originalPath;
      }
      expect(String(error)).to.match(/redis-server.*not on PATH.*apt-get install redis-server.*6379/);
    });
  });

  describe('startCluster', function () {
    this.timeout(60_000);
    let cluster: RedisCluster | undefined;
    afterEach(async () => {
      await cluster?.stop();
      cluster = undefined;
    });

    it('routes keys to all 3 masters', async () => {
      cluster = await startCluster();
      const masters = await cluster.masters();
      expect(masters).to.have.length(3);
      expect(await cluster.replicas()).to.have.length(0);
      const client = cluster.client();
      await Promise.all(Array.from({ length: 60 }, (_, index) => client.set(`test-utils:key:${index}`, String(index))));
      for (const master of masters) {
        expect(await master.client().dbsize()).to.be.greaterThan(0);
      }
      expect(await client.get('test-utils:key:7')).to.equal('7');
      let error: unknown;
      try {
        await cluster.killMaster(0);
      } catch (caught) {
        error = caught;
      }
      expect(String(error)).to.match(/no replica to promote/);
      expect(masters.every((master) => master.running)).to.equal(true);
    });

    it('killMaster promotes a replica and the cluster keeps serving', async () => {
      cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
      expect(await cluster.replicas()).to.have.length(3);
      const [target] = await cluster.masters();
      if (target === undefined) throw new Error('no master');
      // Write straight to the master about to die, then WAIT for its replica, so the value must survive.
      const direct = target.client();
      direct.on('error', () => undefined); // It keeps trying to reconnect to the killed master until stop().
      let key: string | undefined;
      for (let index = 0; index < 200 && key === undefined; index++) {
        try {
          await direct.set(`test-utils:fo:${index}`, 'before');
          key = `test-utils:fo:${index}`;
        } catch {
          // MOVED: the slot belongs to another master.
        }
      }
      if (key === undefined) throw new Error('found no key served by the first master');
      expect(await direct.wait(1, 2_000)).to.equal(1);
      const client = cluster.client();
      client.on('error', () => undefined);
      const replicasBefore = await cluster.replicas();

      const { killed, promoted } = await cluster.killMaster(0);

      expect(killed).to.equal(target);
      expect(killed.running).to.equal(false);
      expect(replicasBefore).to.include(promoted);
      const masters = await cluster.masters();
      expect(masters).to.include(promoted);
      expect(masters).to.not.include(killed);
      expect(await client.get(key)).to.equal('before');
      expect(await client.set(key, 'after')).to.equal('OK');
      expect(await promoted.client().get(key)).to.equal('after');
    });

    it('rejects fewer than 3 masters, naming the value', async () => {
      let error: unknown;
      try {
        cluster = await startCluster({ masters: 2 });
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(RangeError);
      expect(String(error)).to.match(/masters.*received 2/);
    });
  });

  describe('startSentinelGroup', function () {
    this.timeout(60_000);
    let group: SentinelGroup | undefined;
    after(async () => {
      await group?.stop();
    });

    it('fails over when the master dies and an ioredis sentinel client follows the new master', async () => {
      group = await startSentinelGroup({ replicas: 1, sentinels: 3, masterName: 'test-utils' });
      expect(group.sentinelAddresses).to.have.length(3);
      const oldMaster = group.master;
      const [replica] = group.replicas;
      const client: Redis = group.client();
      client.on('error', () => undefined); // Refused connections while the master is down.
      expect(Number(/tcp_port:(\d+)/.exec(await client.info('server'))?.[1])).to.equal(oldMaster.port);
      await client.set('test-utils:sentinel', 'before');
      expect(await client.wait(1, 2_000)).to.equal(1);

      const { killed, promoted } = await group.killMaster();

      expect(killed).to.equal(oldMaster);
      expect(promoted).to.equal(replica);
      expect(group.master).to.equal(promoted);
      expect(await client.set('test-utils:sentinel:after', 'after')).to.equal('OK');
      expect(await client.get('test-utils:sentinel')).to.equal('before');
      expect(Number(/tcp_port:(\d+)/.exec(await client.info('server'))?.[1])).to.equal(promoted.port);
    });

    it('failover() promotes a replica while the old master lives on as a replica', async () => {
      await group?.stop();
      group = await startSentinelGroup();
      const client = group.client();
      client.on('error', () => undefined);
      await client.set('test-utils:graceful', 'before');
      const { previous, promoted } = await group.failover();
      expect(promoted).to.not.equal(previous);
      expect(previous.running).to.equal(true);
      expect(group.replicas).to.deep.equal([previous]);
      expect(await client.set('test-utils:graceful', 'after')).to.equal('OK');
      expect(Number(/tcp_port:(\d+)/.exec(await client.info('server'))?.[1])).to.equal(promoted.port);
    });

    it('a killed master restarted comes back as a replica (waitForReplicas)', async () => {
      await group?.stop();
      group = await startSentinelGroup();
      const { killed, promoted } = await group.killMaster();
      expect(group.replicas).to.deep.equal([]);
      await killed.restart();
      await group.waitForReplicas();
      expect(group.master).to.equal(promoted);
      expect(group.replicas).to.deep.equal([killed]);
      const role = (await killed.client().role()) as unknown[];
      expect(role[0]).to.equal('slave');
      expect(role[2]).to.equal(promoted.port);
    });
  });
});
