/**
 * ClusterStore under a real PM2, as its docs set it up: one ecosystem file with the store app (the BUILT
 * slidegate-cluster-store bin, fork mode) and the service (test/workers/pm2-service.cjs, cluster mode, 3
 * instances sharing one port through PM2's daemon). Requests go over new connections, so PM2 spreads them across
 * the instances; the admitted ones, from every instance together, hold exactly L in the heaviest window. PM2 runs
 * with PM2_HOME in a temporary directory, and is killed there (then every process it ran, by pid) afterwards.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort } from '@slidegate/test-utils';
import { mostInAnyWindow } from '../packages/core/test/support/model';

const ROOT = path.resolve(__dirname, '..');
const PM2 = path.join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
const BIN = path.join(ROOT, 'packages', 'core', 'dist', 'bin', 'cluster-store.js');
const SERVICE = path.join(__dirname, 'workers', 'pm2-service.cjs');
const INSTANCES = 3;
const LIMIT = 50;

interface Answer {
  instance: string;
  served?: boolean;
  allowed?: boolean;
  source?: string;
  at?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One GET on a connection of its own (so PM2's round robin picks an instance for each). */
function get(port: number, url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: url, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Answer);
        } catch {
          reject(new Error(`not JSON (${String(res.statusCode)}): ${body}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('ClusterStore under PM2: the service in cluster mode, the store app in fork mode', function () {
  this.timeout(60_000);
  let home: string;
  let port: number;

  const pm2 = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(process.execPath, [PM2, ...args], { cwd: home, env: { ...process.env, PM2_HOME: home }, timeout: 30_000 }, (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`pm2 ${args.join(' ')}: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      });
    });

  before(async () => {
    // Short: PM2 puts its own sockets in PM2_HOME, and a Unix socket path has a limit of about 100 bytes.
    home = await mkdtemp(path.join(tmpdir(), 'sg-pm2-'));
    port = await freePort();
    const socket = path.join(home, 'slidegate.sock');
    const ecosystem = {
      apps: [
        { name: 'rate-store', script: BIN, args: ['--path', socket], exec_mode: 'fork', wait_ready: true },
        {
          name: 'api',
          script: SERVICE,
          exec_mode: 'cluster',
          instances: INSTANCES,
          cwd: ROOT,
          env: { PORT: String(port), SLIDEGATE_SOCKET: socket, LIMIT: String(LIMIT) },
        },
      ],
    };
    writeFileSync(path.join(home, 'ecosystem.config.js'), `module.exports = ${JSON.stringify(ecosystem, null, 2)};\n`);
    await pm2(['start', path.join(home, 'ecosystem.config.js')]);
  });

  after(async () => {
    // Every pid PM2 ran here, its daemon's too, before asking it to stop; whatever survives is killed by pid.
    const pids: number[] = [];
    try {
      const list = JSON.parse((await pm2(['jlist'])).trim().split('\n').pop() ?? '[]') as Array<{ pid?: number }>;
      for (const app of list) if (typeof app.pid === 'number' && app.pid > 0) pids.push(app.pid);
    } catch {
      // The listing is a convenience; the daemon's pid file and pm2 kill are the cleanup.
    }
    try {
      pids.push(Number(readFileSync(path.join(home, 'pm2.pid'), 'utf8').trim()));
    } catch {
      // No daemon started.
    }
    await pm2(['kill']).catch(() => undefined);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
    }
    await rm(home, { recursive: true, force: true });
  });

  it(`${INSTANCES} instances in cluster mode admit exactly L per window together, each deciding some`, async () => {
    // Every instance up and told by the store app that it serves.
    const ready = new Set<string>();
    for (const deadline = Date.now() + 20_000; ready.size < INSTANCES; await sleep(20)) {
      if (Date.now() > deadline) throw new Error(`only instances ${[...ready].join(', ')} became ready`);
      const answer = await get(port, '/ready').catch(() => undefined);
      if (answer?.served === true) ready.add(answer.instance);
    }
    const answers: Answer[] = [];
    const until = Date.now() + 2500;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (Date.now() < until) answers.push(await get(port, '/'));
      }),
    );
    const allowed = answers.filter((a) => a.allowed === true);
    const byInstance = new Set(allowed.map((a) => a.instance));
    expect(answers.filter((a) => a.source === 'fallback').length, 'no decision fell back').to.equal(0);
    expect(byInstance.size, 'instances that admitted requests').to.equal(INSTANCES);
    expect(answers.length - allowed.length, 'requests denied (the load exceeds the limit)').to.be.greaterThan(0);
    expect(mostInAnyWindow(allowed.map((a) => ({ at: a.at as number, cost: 1 })), 1000), 'the most admitted in any 1 s window, all instances together').to.equal(LIMIT);
  });
});
