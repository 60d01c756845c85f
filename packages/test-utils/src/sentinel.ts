import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { adminCommand, pairsToMap, parseInfo } from './admin';
import { freePort } from './free-port';
import { launchRedisServer, prepareDir, startRedis, type RedisServer } from './redis-server';
import { waitUntil } from './wait';

const DEFAULT_MASTER_NAME = 'slidegate';
/**
 * A master silent this long is subjectively down: short, so failover tests take seconds, but not 1 s. On a loaded
 * 2-core box (load 10+ while several suites run) 1 s produced a failover nobody asked for in 3 of 11 runs:
 * one sentinel missed PONGs for 1 s, and stale "master down" votes from the previous failover (kept for 5 s)
 * made its quorum at once.
 */
const DEFAULT_DOWN_AFTER_MS = 2_000;
/** Also sets the pause before a failed election is retried (2 × this). */
const DEFAULT_FAILOVER_TIMEOUT_MS = 3_000;
const QUORUM = 2;
const SENTINEL_INFO_PERIOD_MS = 1_000;
const SENTINEL_HELLO_PERIOD_MS = 500;
const START_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 20_000;
const FAILOVER_WAIT_MS = 25_000;

/** Options of {@link startSentinelGroup}. */
export interface StartSentinelGroupOptions {
  /**
   * Replicas of the master (`replicaof`); a failover needs at least 1.
   * @default 1
   */
  replicas?: number;
  /**
   * Sentinels; the quorum is 2, so at least 2 (3 tolerates losing one).
   * @default 3
   */
  sentinels?: number;
  /**
   * Name the sentinels monitor the master under (ioredis `name`).
   * @default 'slidegate'
   */
  masterName?: string;
  /**
   * `sentinel down-after-milliseconds`: how long the master may be silent before a sentinel calls it down.
   * @default 2000
   */
  downAfterMs?: number;
  /**
   * `sentinel failover-timeout`; a failed election is retried after twice this.
   * @default 3000
   */
  failoverTimeoutMs?: number;
}

/** A master, its replicas and the sentinels watching them, from {@link startSentinelGroup}. */
export interface SentinelGroup {
  /** The current master (changes after `killMaster()` / `failover()`). */
  readonly master: RedisServer;
  /** Running data servers other than the current master. */
  readonly replicas: readonly RedisServer[];
  /** The sentinel processes. */
  readonly sentinels: readonly RedisServer[];
  /** Addresses for ioredis `sentinels`. */
  readonly sentinelAddresses: ReadonlyArray<{ host: string; port: number }>;
  readonly masterName: string;
  /**
   * A new ioredis client that finds the master through the sentinels (`sentinels` + `name`), disconnected by `stop()`.
   * ioredis defaults otherwise. `failoverDetector: true` is left off on purpose: with it, a +switch-master that arrives
   * while the client is asking a sentinel for the master (as after a SIGKILL) can end the client for good
   * ("Connection is closed."): SentinelConnector treats the detector's disconnect as a manual close.
   */
  client(options?: RedisOptions): Redis;
  /**
   * SIGKILLs the current master and waits (bounded) until every running sentinel reports a replica as the new master
   * and that server reports role:master. The killed server stays in the group; `restart()` it to bring it back
   * (the sentinels turn it into a replica).
   */
  killMaster(): Promise<{ killed: RedisServer; promoted: RedisServer }>;
  /**
   * A graceful failover (SENTINEL FAILOVER): the old master stays up and becomes a replica. Waits like `killMaster()`,
   * and also until the old master replicates the new one (the sentinels then close its client connections).
   */
  failover(): Promise<{ previous: RedisServer; promoted: RedisServer }>;
  /**
   * Waits (bounded) until every running server other than the master is its replica with the link up, and every
   * sentinel sees it so, e.g. after restarting a killed master, which the sentinels turn into a replica a second or
   * two later (they poll INFO every second here, every 10 s by default). Call it before a second failover.
   */
  waitForReplicas(): Promise<void>;
  /** Disconnects the clients and stops every sentinel and server. */
  stop(): Promise<void>;
}

/**
 * Starts 1 master and `replicas` replicas on free ports, then `sentinels` sentinels (`redis-server <conf> --sentinel`)
 * monitoring the master with quorum 2, down-after-milliseconds 2000 and failover-timeout 3000, and waits until every
 * sentinel sees the master, all replicas and all other sentinels.
 */
export async function startSentinelGroup(options: StartSentinelGroupOptions = {}): Promise<SentinelGroup> {
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 3;
  const masterName = options.masterName ?? DEFAULT_MASTER_NAME;
  const timing: SentinelTiming = {
    downAfterMs: positiveInteger('downAfterMs', options.downAfterMs ?? DEFAULT_DOWN_AFTER_MS),
    failoverTimeoutMs: positiveInteger('failoverTimeoutMs', options.failoverTimeoutMs ?? DEFAULT_FAILOVER_TIMEOUT_MS),
  };
  if (!Number.isInteger(replicaCount) || replicaCount < 0) {
    throw new RangeError(`startSentinelGroup: options.replicas must be an integer ≥ 0, received ${String(replicaCount)}`);
  }
  if (!Number.isInteger(sentinelCount) || sentinelCount < QUORUM) {
    throw new RangeError(`startSentinelGroup: options.sentinels must be an integer ≥ ${QUORUM} (the quorum), received ${String(sentinelCount)}`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(masterName)) {
    throw new TypeError(`startSentinelGroup: options.masterName must use only letters, digits, '.', '_' and '-', received ${JSON.stringify(masterName)}`);
  }
  const started: RedisServer[] = [];
  const track = (server: RedisServer): RedisServer => {
    started.push(server);
    return server;
  };
  try {
    const master = track(await startRedis());
    const replicas = await Promise.all(
      Array.from({ length: replicaCount }, () =>
        startRedis({ args: ['--replicaof', master.host, String(master.port)] }).then(track),
      ),
    );
    await waitForReplication(master, replicas);
    const sentinels = await Promise.all(
      Array.from({ length: sentinelCount }, () => startSentinel(masterName, master, timing).then(track)),
    );
    const group = new ManagedSentinelGroup(masterName, master, [master, ...replicas], sentinels);
    await group.waitForSentinelView();
    return group;
  } catch (error) {
    await Promise.allSettled(started.map((server) => server.stop()));
    throw error;
  }
}

interface SentinelTiming {
  downAfterMs: number;
  failoverTimeoutMs: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`startSentinelGroup: options.${name} must be a positive integer (milliseconds), received ${String(value)}`);
  }
  return value;
}

async function startSentinel(masterName: string, master: RedisServer, timing: SentinelTiming): Promise<RedisServer> {
  const port = await freePort();
  const { dir, ownsDir } = prepareDir(undefined, 'sentinel');
  // Sentinel rewrites its config file (discovered replicas and sentinels, epochs), so it lives in the sentinel's dir.
  const configFile = join(dir, 'sentinel.conf');
  writeFileSync(
    configFile,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} ${master.host} ${master.port} ${QUORUM}`,
      `sentinel down-after-milliseconds ${masterName} ${timing.downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${timing.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'),
  );
  const sentinel = await launchRedisServer({ port, dir, ownsDir, argv: [configFile, '--sentinel'], startTimeoutMs: START_TIMEOUT_MS });
  try {
    // Sentinel refreshes each server's INFO every 10 s and says hello every 2 s; it notices a returning old master,
    // and a replica whose link came back, only on that refresh. SENTINEL DEBUG (Redis ≥ 7.0) shortens both.
    await adminCommand(port, ['SENTINEL', 'DEBUG', 'INFO-PERIOD', String(SENTINEL_INFO_PERIOD_MS), 'PUBLISH-PERIOD', String(SENTINEL_HELLO_PERIOD_MS)]);
  } catch {
    // Older Redis: the defaults only make waits longer.
  }
  return sentinel;
}

/** Waits until every replica's link to `master` is up, so the sentinels find them through the master's INFO. */
async function waitForReplication(master: RedisServer, replicas: readonly RedisServer[], timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  await waitUntil(
    async () => {
      for (const replica of replicas) {
        const info = parseInfo(await adminCommand(replica.port, ['INFO', 'replication']));
        if (info.get('role') !== 'slave' || info.get('master_link_status') !== 'up') return false;
        if (info.get('master_port') !== String(master.port)) return false;
      }
      return true;
    },
    {
      timeoutMs,
      what: `${replicas.length} replica(s) linked to the master on port ${master.port}`,
      describeFailure: () => [master, ...replicas].map((server) => server.logTail(8)).join('\n'),
    },
  );
}

class ManagedSentinelGroup implements SentinelGroup {
  readonly masterName: string;
  readonly sentinels: readonly RedisServer[];
  readonly sentinelAddresses: ReadonlyArray<{ host: string; port: number }>;
  /** Every data server of the group, master included, in start order. */
  readonly #servers: readonly RedisServer[];
  readonly #clients = new Set<Redis>();
  #master: RedisServer;

  constructor(masterName: string, master: RedisServer, servers: RedisServer[], sentinels: RedisServer[]) {
    this.masterName = masterName;
    this.#master = master;
    this.#servers = servers;
    this.sentinels = sentinels;
    this.sentinelAddresses = sentinels.map((sentinel) => ({ host: sentinel.host, port: sentinel.port }));
  }

  get master(): RedisServer {
    return this.#master;
  }

  get replicas(): readonly RedisServer[] {
    return this.#servers.filter((server) => server !== this.#master && server.running);
  }

  client(options: RedisOptions = {}): Redis {
    const client = new Redis({
      sentinels: this.sentinelAddresses.map((address) => ({ ...address })),
      name: this.masterName,
      ...options,
    });
    this.#clients.add(client);
    return client;
  }

  async killMaster(): Promise<{ killed: RedisServer; promoted: RedisServer }> {
    const killed = this.#master;
    if (this.replicas.length === 0) {
      throw new Error('killMaster: the group has no running replica to promote; start it with replicas ≥ 1');
    }
    await killed.kill('SIGKILL');
    const promoted = await this.#waitForNewMaster(killed);
    return { killed, promoted };
  }

  async failover(): Promise<{ previous: RedisServer; promoted: RedisServer }> {
    const previous = this.#master;
    if (this.replicas.length === 0) {
      throw new Error('failover: the group has no running replica to promote; start it with replicas ≥ 1');
    }
    const sentinel = this.sentinels.find((candidate) => candidate.running);
    if (sentinel === undefined) throw new Error('failover: no sentinel is running');
    await adminCommand(sentinel.port, ['SENTINEL', 'FAILOVER', this.masterName]);
    const promoted = await this.#waitForNewMaster(previous);
    // Until a sentinel turns the old master into a replica (and kills its client connections, which is what
    // makes ioredis look up the new master), writes through an existing client still land on the old one.
    await waitForReplication(promoted, [previous], FAILOVER_WAIT_MS);
    return { previous, promoted };
  }

  async waitForReplicas(): Promise<void> {
    // A restarted old master is first converted after down-after-milliseconds, then resyncs: allow for both.
    await waitForReplication(this.#master, this.replicas, FAILOVER_WAIT_MS);
    await this.waitForSentinelView(FAILOVER_WAIT_MS);
  }

  async stop(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    // Sentinels first, so none starts a failover while the data servers go down.
    const sentinelResults = await Promise.allSettled(this.sentinels.map((sentinel) => sentinel.stop()));
    const serverResults = await Promise.allSettled(this.#servers.map((server) => server.stop()));
    const failure = [...sentinelResults, ...serverResults].find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /**
   * Waits until every running sentinel sees the current master as healthy, knows all other sentinels, and lists every
   * running replica as healthy with its master link ok. Sentinels refresh a replica's INFO only every 10 s, and
   * refuse to promote one whose last INFO showed a broken link (NOGOODSLAVE), so the data servers' own word is not enough.
   */
  async waitForSentinelView(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const replicaPorts = this.replicas.map((replica) => String(replica.port));
    await waitUntil(
      async () => {
        for (const sentinel of this.sentinels) {
          if (!sentinel.running) continue;
          const master = pairsToMap(await adminCommand(sentinel.port, ['SENTINEL', 'MASTER', this.masterName]));
          if (master.get('flags') !== 'master' || master.get('port') !== String(this.#master.port)) return false;
          if (master.get('num-other-sentinels') !== String(this.sentinels.length - 1)) return false;
          const replicas = await adminCommand(sentinel.port, ['SENTINEL', 'REPLICAS', this.masterName]);
          const healthy = new Set(
            (Array.isArray(replicas) ? replicas : [])
              .map(pairsToMap)
              .filter((replica) => replica.get('flags') === 'slave' && replica.get('master-link-status') === 'ok')
              .map((replica) => replica.get('port')),
          );
          if (!replicaPorts.every((port) => healthy.has(port))) return false;
        }
        return true;
      },
      {
        timeoutMs,
        intervalMs: 100,
        what: `every sentinel to see master "${this.masterName}" on port ${this.#master.port}, replica(s) on port(s) [${replicaPorts.join(', ')}] and ${this.sentinels.length - 1} other sentinel(s)`,
        describeFailure: () => this.#describe(),
      },
    );
  }

  /** Waits until every running sentinel names a server other than `previous` as master and that server says role:master. */
  async #waitForNewMaster(previous: RedisServer): Promise<RedisServer> {
    const promoted = await waitUntil(
      async () => {
        let agreed: number | undefined;
        for (const sentinel of this.sentinels) {
          if (!sentinel.running) continue;
          const address = await adminCommand(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName]);
          const port = Array.isArray(address) ? Number(address[1]) : NaN;
          if (port === previous.port || (agreed !== undefined && port !== agreed)) return undefined;
          agreed = port;
        }
        const candidate = this.#servers.find((server) => server.port === agreed && server.running);
        if (candidate === undefined) return undefined;
        const info = parseInfo(await adminCommand(candidate.port, ['INFO', 'replication']));
        return info.get('role') === 'master' ? candidate : undefined;
      },
      {
        timeoutMs: FAILOVER_WAIT_MS,
        intervalMs: 100,
        what: `the sentinels to promote a replica of "${this.masterName}" (old master on port ${previous.port})`,
        describeFailure: () => this.#describe(),
      },
    );
    this.#master = promoted;
    return promoted;
  }

  #describe(): string {
    return [...this.sentinels, ...this.#servers]
      .map((server) => `${server.port} (${server.running ? `pid ${server.pid}` : 'not running'}): ${server.logTail(8)}`)
      .join('\n');
  }
}
