/**
 * ClusterStore over a Unix socket, for hosts where no node:cluster primary runs application code (PM2, plain
 * processes): the server is the BUILT bin (`slidegate-cluster-store --path ...`) in a process of its own, and 4
 * plain Node processes (test/workers/socket-decider.mjs, no node:cluster) decide one hot client through
 * `new ClusterStore({ path })` on the real clock, with leases and the denial cache. From every admitted decision:
 * no window of W seconds held more than L across the processes, and the limit was reached. The fault cases, as
 * for the IPC transport: the server started after the clients, the server killed and started again, a client
 * killed mid-flight. Options and the in-process basics first.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { mostInAnyWindow } from '../packages/core/test/support/model';
import { ClusterStore, ErrorCodes, RateLimiter, type ClusterSocketServer } from '@slidegate/core';

const BIN = path.join(__dirname, '..', 'packages', 'core', 'dist', 'bin', 'cluster-store.js');
const DECIDER = path.join(__dirname, 'workers', 'socket-decider.mjs');
const LIMIT = 200;
const JOB = { limit: LIMIT, windowSeconds: 1, concurrency: 16, leaseUnits: 20 };

interface Round {
  allowed: number[];
  firstAllowedAt?: number;
  fallback: number;
  denied: number;
  lease: number;
}
interface Report extends Round {
  decider: number;
  /** The test's phase when the round arrived (set by each test: 'old', 'gap', 'new', ...). */
  phase: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const heaviestWindow = (times: number[]): number => mostInAnyWindow(times.map((at) => ({ at, cost: 1 })), JOB.windowSeconds * 1000);
const admitted = (reports: Report[], phase?: string): number[] => reports.filter((r) => phase === undefined || r.phase === phase).flatMap((r) => r.allowed);
const sum = (reports: Report[], field: 'fallback' | 'lease'): number => reports.reduce((n, r) => n + r[field], 0);

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('ClusterStore over a socket: plain processes on one host share every window (PM2 and no node:cluster primary)', function () {
  this.timeout(60_000);
  let dir: string;
  let socketPath: string;
  const children = new Set<ChildProcess>();

  beforeEach(async () => {
    // A short directory: a Unix socket path has a limit of about 100 bytes.
    dir = await mkdtemp(path.join(tmpdir(), 'sg-'));
    socketPath = path.join(dir, 's.sock');
  });

  afterEach(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.clear();
    await rm(dir, { recursive: true, force: true });
  });

  /** The bin, serving `socketPath`; resolves once it says it serves. */
  function startServer(): Promise<ChildProcess> {
    const child = spawn(process.execPath, [BIN, '--path', socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('serving on')) resolve(child);
      });
      child.on('exit', (code) => reject(new Error(`the server exited with ${String(code)} before serving: ${out}`)));
    });
  }

  function stopped(child: ChildProcess): Promise<void> {
    return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** `n` decider processes; every round they report is tagged with `phase()` as it arrives. */
  function startDeciders(n: number, phase: () => string): { reports: Report[]; deciders: ChildProcess[]; stop(): Promise<void> } {
    const reports: Report[] = [];
    const deciders: ChildProcess[] = [];
    for (let i = 0; i < n; i++) {
      const child = fork(DECIDER, [JSON.stringify({ ...JOB, path: socketPath })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.add(child);
      child.on('message', (m: { round?: Round }) => {
        if (m.round !== undefined) reports.push({ ...m.round, decider: i, phase: phase() });
      });
      deciders.push(child);
    }
    return {
      reports,
      deciders,
      async stop() {
        for (const child of deciders) if (child.connected) child.send('stop');
        await Promise.all(deciders.map(stopped));
      },
    };
  }

  const everyDeciderAdmitted = (reports: Report[], n: number, phase?: string): boolean =>
    new Set(reports.filter((r) => r.allowed.length > 0 && (phase === undefined || r.phase === phase)).map((r) => r.decider)).size === n;

  it('refuses bad options at construction, naming the argument and the fix', async () => {
    expect(() => new ClusterStore({ path: 5 as never })).to.throw(TypeError, /ClusterStore options\.path must be a string, the path of a Unix socket .*got number 5/);
    expect(() => new ClusterStore({ path: '' })).to.throw(RangeError, /ClusterStore options\.path must not be empty/);
    expect(() => new ClusterStore({ path: `/tmp/${'x'.repeat(120)}.sock` })).to.throw(RangeError, /at most 10\d bytes .*Use a shorter path/);
    expect(() => new ClusterStore({ path: socketPath, bogus: 1 } as never)).to.throw(TypeError, /unknown option ClusterStore options\.bogus/);
    // The two transports point to each other.
    expect(() => ClusterStore.servePrimary({ path: socketPath } as never)).to.throw(TypeError, /servePrimary\(\) serves node:cluster workers over IPC and takes no path; .*ClusterStore\.serve\(\{ path \}\)/);
    const refusal = (options: unknown): Promise<unknown> => ClusterStore.serve(options as never).then(() => 'served', (e: unknown) => e);
    expect(await refusal({ path: socketPath, cluster: {} })).to.be.instanceOf(TypeError).with.property('message').match(/serve\(\) serves a socket and takes no cluster; .*servePrimary\(\)/);
    expect(await refusal({})).to.be.instanceOf(TypeError).with.property('message').match(/needs options\.path/);
    expect(await refusal({ path: 7 })).to.be.instanceOf(TypeError).with.property('message').match(/ClusterStore\.serve options\.path must be a string/);
    // Under PM2 (pm_id set) a store without a path would ask PM2's daemon, which never answers.
    const send = process.send;
    process.send = (() => true) as typeof process.send;
    process.env.pm_id = '0';
    try {
      expect(() => new ClusterStore()).to.throw(TypeError, /under PM2 the primary is PM2 itself .*new ClusterStore\(\{ path \}\)/);
    } finally {
      delete process.env.pm_id;
      process.send = send;
    }
    // Without an IPC channel and without a path: the message names both ways.
    expect(() => new ClusterStore()).to.throw(TypeError, /no IPC channel.*new ClusterStore\(\{ path \}\)/);
  });

  it("in one process: decisions fall back before the server; then one connection for the process's stores, one window per prefix, limit changes heard; a live server or a non-socket file is not replaced; close says bye", async () => {
    const storeA = new ClusterStore({ path: socketPath });
    const storeB = new ClusterStore({ path: socketPath });
    const storeC = new ClusterStore({ path: socketPath, prefix: 'other:' });
    expect(storeA.endpoint).to.equal(socketPath);
    const make = (store: ClusterStore): RateLimiter => new RateLimiter({ limit: 3, windowSeconds: 60, store, failureMode: 'closed', lease: false, denialCache: false });
    const [a, b, c] = [make(storeA), make(storeB), make(storeC)];
    let server: ClusterSocketServer | undefined;
    try {
      expect((await a.check('k')).source, 'no server yet').to.equal('fallback');
      server = await ClusterStore.serve({ path: socketPath });
      await until(() => storeA.served && storeB.served && storeC.served, 'the stores to reconnect');
      expect(server.connections, "one connection for the process's three stores").to.equal(1);
      const shared = [await a.check('k'), await b.check('k'), await a.check('k'), await b.check('k')];
      expect(shared.map((d) => `${String(d.allowed)}/${d.source}`), 'stores of one prefix share the window').to.deep.equal(['true/store', 'true/store', 'true/store', 'false/store']);
      expect((await c.check('k')).allowed, 'another prefix is another window').to.equal(true);
      const heardB: Array<string | undefined> = [];
      const heardC: Array<string | undefined> = [];
      storeB.onLimitChange((id) => heardB.push(id));
      storeC.onLimitChange((id) => heardC.push(id));
      await a.updateLimit('k', 10, 60);
      await until(() => heardB.includes('k'), 'the limit change to reach the other store');
      expect(heardC, 'a change under another prefix').to.deep.equal([]);
      expect((await b.check('k')).allowed, 'the raised limit, on the other store').to.equal(true);

      const live = (await ClusterStore.serve({ path: socketPath }).catch((e: unknown) => e)) as Error & { code?: string };
      expect(live.code, 'a live server on the path is not replaced').to.equal(ErrorCodes.ADDRESS_IN_USE);
      expect(live.message).to.match(/another server already serves .*new ClusterStore\(\{ path \}\)/);
      const file = path.join(dir, 'not-a-socket');
      writeFileSync(file, 'data');
      const notSocket = (await ClusterStore.serve({ path: file }).catch((e: unknown) => e)) as Error & { code?: string };
      expect(notSocket.code).to.equal(ErrorCodes.ADDRESS_IN_USE);
      expect(notSocket.message).to.match(/exists and is not a socket/);
      expect(existsSync(file), 'the file is left alone').to.equal(true);

      await server.close();
      expect(storeA.served || storeB.served || storeC.served, 'every store heard the bye').to.equal(false);
      expect(existsSync(socketPath), 'close removes the socket file').to.equal(false);
      expect((await a.check('k')).source).to.equal('fallback');
      // Served again: the stores reconnect on their own, to fresh windows.
      server = await ClusterStore.serve({ path: socketPath });
      await until(() => storeA.served && storeB.served && storeC.served, 'the stores to reconnect', 3000);
      const fresh = await a.check('k');
      expect([fresh.allowed, fresh.source, fresh.remaining]).to.deep.equal([true, 'store', 2]);
    } finally {
      for (const limiter of [a, b, c]) await limiter.close();
      for (const store of [storeA, storeB, storeC]) await store.close();
      await server?.close();
    }
  });

  it('4 processes, leases on: exactly L per window across them, many decided inside the processes', async () => {
    await startServer();
    const run = startDeciders(4, () => 'run');
    await until(() => everyDeciderAdmitted(run.reports, 4), 'every process to admit');
    await sleep(2000);
    await run.stop();
    const allowed = admitted(run.reports);
    expect(sum(run.reports, 'fallback'), 'no decision fell back').to.equal(0);
    expect(heaviestWindow(allowed), 'the most admitted in any window').to.equal(LIMIT);
    expect(sum(run.reports, 'lease'), 'decisions made from leases in the processes').to.be.greaterThan(allowed.length / 5);
  });

  it('a process SIGKILLed mid-flight: what it admitted stays counted, the others go on, no window goes over L', async () => {
    await startServer();
    let phase = 'before';
    const run = startDeciders(4, () => phase);
    await until(() => everyDeciderAdmitted(run.reports, 4), 'every process to admit');
    await sleep(800);
    run.deciders[0]!.kill('SIGKILL');
    const killedAt = Date.now();
    phase = 'after';
    await stopped(run.deciders[0]!);
    await sleep(1500);
    await run.stop();
    const fromKilled = run.reports.filter((r) => r.decider === 0).flatMap((r) => r.allowed);
    expect(fromKilled.length, 'the killed process had admitted requests').to.be.greaterThan(0);
    expect(Math.max(...fromKilled)).to.be.at.most(killedAt);
    expect(everyDeciderAdmitted(run.reports.filter((r) => r.decider !== 0), 3, 'after'), 'the others admit after the kill').to.equal(true);
    expect(sum(run.reports, 'fallback')).to.equal(0);
    expect(heaviestWindow(admitted(run.reports))).to.equal(LIMIT);
  });

  it('processes started before the server decide in fallback (closed: nothing admitted), then join it on their own', async () => {
    const run = startDeciders(4, () => 'run');
    await until(() => new Set(run.reports.map((r) => r.decider)).size === 4, 'every process to decide');
    await sleep(300);
    const startedAt = Date.now();
    await startServer();
    const servingAt = Date.now();
    await until(() => everyDeciderAdmitted(run.reports, 4), 'every process to join the server', 5000);
    const joinedAt = Date.now();
    await sleep(1500);
    await run.stop();
    expect(sum(run.reports, 'fallback'), 'decisions before the server').to.be.greaterThan(0);
    // In real time: nothing is admitted before the server process was started.
    const firstAllowedAt = run.reports.reduce((first, r) => Math.min(first, r.firstAllowedAt ?? Infinity), Infinity);
    expect(firstAllowedAt, 'nothing admitted before the server').to.be.at.least(startedAt);
    expect(joinedAt - servingAt, 'ms from serving until every process admits (reconnection backs off to 1 s)').to.be.below(2500);
    expect(heaviestWindow(admitted(run.reports))).to.equal(LIMIT);
  });

  it('the server SIGKILLed (its socket file left behind) and started again: processes fall back meanwhile, reconnect on their own, and start from fresh windows', async () => {
    let server = await startServer();
    let phase = 'old';
    const run = startDeciders(4, () => phase);
    await until(() => everyDeciderAdmitted(run.reports, 4, 'old'), 'every process to admit');
    await sleep(1000);
    phase = 'gap';
    server.kill('SIGKILL');
    await stopped(server);
    expect(existsSync(socketPath), 'a killed server leaves its socket file').to.equal(true);
    await sleep(400);
    server = await startServer();
    phase = 'new';
    await until(() => everyDeciderAdmitted(run.reports, 4, 'new'), 'every process to reconnect', 5000);
    await sleep(1000);
    await run.stop();
    expect(sum(run.reports.filter((r) => r.phase === 'gap'), 'fallback'), 'decisions while nothing served').to.be.greaterThan(0);
    // Each server's windows hold at most L; the new one starts empty, as a restarted store does.
    expect(heaviestWindow(admitted(run.reports, 'old'))).to.equal(LIMIT);
    expect(heaviestWindow(admitted(run.reports, 'new'))).to.be.at.most(LIMIT);
    expect(heaviestWindow(admitted(run.reports, 'gap')), 'rounds that ended in the gap admitted only from the old server').to.be.at.most(LIMIT);
  });

  it('the server frozen (SIGSTOP): with default settings every decision answers within 250 ms, in fallback; thawed, decisions return to the store within 5 s', async () => {
    const server = await startServer();
    const store = new ClusterStore({ path: socketPath });
    // Default settings, but for leases and the denial cache: every decision here asks the server.
    const limiter = new RateLimiter({ limit: 1000, windowSeconds: 60, store, lease: false, denialCache: false });
    try {
      await until(() => store.served, 'the store to connect');
      expect((await limiter.check('k')).source).to.equal('store');
      server.kill('SIGSTOP');
      const slowest = { ms: 0, sources: new Set<string>() };
      for (let i = 0; i < 20; i++) {
        const started = Date.now();
        const d = await limiter.check('k');
        slowest.ms = Math.max(slowest.ms, Date.now() - started);
        slowest.sources.add(d.source);
      }
      expect([...slowest.sources], 'decisions while the server is frozen').to.deep.equal(['fallback']);
      expect(slowest.ms, 'the slowest decision, ms').to.be.below(250);
      server.kill('SIGCONT');
      const thawed = Date.now();
      while ((await limiter.check('k')).source !== 'store') {
        expect(Date.now() - thawed, 'ms until decisions return to the store').to.be.below(5000);
        await sleep(20);
      }
    } finally {
      if (server.signalCode === null && server.exitCode === null) server.kill('SIGCONT');
      await limiter.close();
      await store.close();
    }
  });
});
