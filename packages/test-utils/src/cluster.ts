import { Cluster, type ClusterOptions } from 'ioredis';
import { adminCommand, parseInfo } from './admin';
import { freePortWithCompanion } from './free-port';
import { HOW_TO_GET_REDIS, startRedis, type RedisServer } from './redis-server';
import { runCommand } from './run-command';
import { waitUntil } from './wait';

/** A Cluster node also listens on its bus port, `port + 10000`. */
const CLUSTER_BUS_PORT_OFFSET = 10_000;
const CLUSTER_SLOTS = 16_384;
/**
 * Short, so a killed master is marked failed and replaced within a few seconds. Not much shorter: on a busy
 * 2-core CI box a node that misses pings for this long is declared failed without having died.
 */
const NODE_TIMEOUT_MS = 2_000;
const CREATE_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 20_000;
const FAILOVER_TIMEOUT_MS = 20_000;

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /**
   * Number of masters; Redis Cluster needs at least 3.
   * @default 3
   */
  masters?: number;
  /**
   * Replicas of each master (needed by `killMaster`).
   * @default 0
   */
  replicasPerMaster?: number;
  /** Extra redis-server arguments for every node. */
  args?: string[];
}

/** One line of CLUSTER NODES. */
export interface ClusterNodeEntry {
  id: string;
  port: number;
  flags: string[];
  /** Id of the master of a replica; undefined for a master. */
  masterId: string | undefined;
  /** First slot the node serves, or Infinity when it serves none. */
  firstSlot: number;
}

/** A running Redis Cluster, from {@link startCluster}. */
export interface RedisCluster {
  /** Every node ever started for this cluster, in start order; killed nodes stay here (restart them with `restart()`). */
  readonly nodes: readonly RedisServer[];
  /** Addresses for `new Cluster(startupNodes)`. */
  readonly startupNodes: ReadonlyArray<{ host: string; port: number }>;
  /** A new ioredis `Cluster` client, disconnected by `stop()`. */
  client(options?: ClusterOptions): Cluster;
  /** Running masters (read live from CLUSTER NODES), ordered by the first slot each serves. */
  masters(): Promise<RedisServer[]>;
  /** Running replicas (read live from CLUSTER NODES), in start order. */
  replicas(): Promise<RedisServer[]>;
  /** CLUSTER NODES as seen by the first running node that answers. */
  clusterNodes(): Promise<ClusterNodeEntry[]>;
  /**
   * SIGKILLs the master at `index` in `masters()` and waits (bounded) until one of its replicas has been promoted and
   * every running node reports cluster_state:ok.
   */
  killMaster(index: number): Promise<{ killed: RedisServer; promoted: RedisServer }>;
  /** Disconnects the clients and stops every node. */
  stop(): Promise<void>;
}

/**
 * One cluster-enabled redis-server on a free port whose bus port is free too; startRedis picks another pair
 * when either was taken before the server bound it.
 */
function startClusterNode(args: readonly string[]): Promise<RedisServer> {
  return startRedis({
    pickPort: () => freePortWithCompanion(CLUSTER_BUS_PORT_OFFSET),
    args: [
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
      // Promote a replica however long it was cut off: tests kill masters on purpose.
      '--cluster-replica-validity-factor', '0',
      ...args,
    ],
  });
}

/**
 * Starts `masters × (1 + replicasPerMaster)` cluster-enabled redis-servers on free ports (each in its own temporary
 * directory), joins them with `redis-cli --cluster create`, and waits until every node reports cluster_state:ok
 * with all 16384 slots served and every replica linked to its master.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 0;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new RangeError(`startCluster: options.masters must be an integer ≥ 3 (Redis Cluster needs 3 masters), received ${String(masters)}`);
  }
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new RangeError(`startCluster: options.replicasPerMaster must be an integer ≥ 0, received ${String(replicasPerMaster)}`);
  }
  const nodeCount = masters * (1 + replicasPerMaster);
  const started: RedisServer[] = [];
  try {
    const launches: Promise<RedisServer>[] = [];
    for (let index = 0; index < nodeCount; index++) {
      launches.push(
        startClusterNode(options.args ?? []).then((server) => {
          started.push(server);
          return server;
        }),
      );
    }
    const nodes = await Promise.all(launches);
    const created = await runCommand(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((node) => `${node.host}:${node.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      CREATE_TIMEOUT_MS,
      HOW_TO_GET_REDIS,
    );
    if (created.code !== 0) {
      throw new Error(`test-utils: redis-cli --cluster create failed (exit ${String(created.code)}):\n${created.output}`);
    }
    const cluster = new ManagedCluster(nodes);
    await cluster.waitUntilReady({ masters, replicas: masters * replicasPerMaster });
    return cluster;
  } catch (error) {
    await Promise.allSettled(started.map((server) => server.stop()));
    throw error;
  }
}

class ManagedCluster implements RedisCluster {
  readonly nodes: readonly RedisServer[];
  readonly startupNodes: ReadonlyArray<{ host: string; port: number }>;
  readonly #clients = new Set<Cluster>();

  constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
    this.startupNodes = nodes.map((node) => ({ host: node.host, port: node.port }));
  }

  client(options: ClusterOptions = {}): Cluster {
    const client = new Cluster([...this.startupNodes], options);
    this.#clients.add(client);
    return client;
  }

  async clusterNodes(): Promise<ClusterNodeEntry[]> {
    let lastError: unknown;
    for (const node of this.nodes) {
      if (!node.running) continue;
      try {
        return parseClusterNodes(await adminCommand(node.port, ['CLUSTER', 'NODES']));
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error('test-utils: no running cluster node answered CLUSTER NODES', { cause: lastError });
  }

  async masters(): Promise<RedisServer[]> {
    const entries = (await this.clusterNodes()).filter((entry) => isHealthy(entry) && entry.flags.includes('master'));
    entries.sort((a, b) => a.firstSlot - b.firstSlot);
    return this.#serversOf(entries);
  }

  async replicas(): Promise<RedisServer[]> {
    const entries = (await this.clusterNodes()).filter((entry) => isHealthy(entry) && entry.flags.includes('slave'));
    const servers = this.#serversOf(entries);
    return this.nodes.filter((node) => servers.includes(node));
  }

  async killMaster(index: number): Promise<{ killed: RedisServer; promoted: RedisServer }> {
    const entries = (await this.clusterNodes()).filter((entry) => isHealthy(entry) && entry.flags.includes('master'));
    entries.sort((a, b) => a.firstSlot - b.firstSlot);
    const target = entries[index];
    const killed = target === undefined ? undefined : this.#serverAt(target.port);
    if (target === undefined || killed === undefined) {
      throw new RangeError(`killMaster: index must be from 0 to ${entries.length - 1}, received ${String(index)}`);
    }
    const replicaIds = new Set(
      (await this.clusterNodes()).filter((entry) => entry.masterId === target.id && isHealthy(entry)).map((entry) => entry.id),
    );
    if (replicaIds.size === 0) {
      throw new Error(`killMaster: master ${index} (port ${killed.port}) has no replica to promote; start the cluster with replicasPerMaster ≥ 1`);
    }
    await killed.kill('SIGKILL');
    const promoted = await waitUntil(
      async () => {
        const view = await this.clusterNodes();
        const winner = view.find((entry) => replicaIds.has(entry.id) && entry.flags.includes('master') && entry.firstSlot !== Infinity);
        if (winner === undefined || !(await this.#allRunningNodesOk())) return undefined;
        return this.#serverAt(winner.port);
      },
      {
        timeoutMs: FAILOVER_TIMEOUT_MS,
        intervalMs: 100,
        what: `a replica of the killed master (port ${killed.port}) to be promoted and cluster_state:ok on every running node`,
        describeFailure: () => this.#describeNodes(),
      },
    );
    return { killed, promoted };
  }

  async stop(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    const results = await Promise.allSettled(this.nodes.map((node) => node.stop()));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /** Waits until every node agrees: state ok, all slots served, `masters` masters and `replicas` linked replicas. */
  async waitUntilReady(expected: { masters: number; replicas: number }): Promise<void> {
    await waitUntil(
      async () => {
        for (const node of this.nodes) {
          const info = parseInfo(await adminCommand(node.port, ['CLUSTER', 'INFO']));
          if (info.get('cluster_state') !== 'ok' || info.get('cluster_slots_ok') !== String(CLUSTER_SLOTS)) return false;
          if (info.get('cluster_known_nodes') !== String(this.nodes.length)) return false;
          const view = parseClusterNodes(await adminCommand(node.port, ['CLUSTER', 'NODES']));
          const masterCount = view.filter((entry) => entry.flags.includes('master')).length;
          const replicaCount = view.filter((entry) => entry.flags.includes('slave')).length;
          if (masterCount !== expected.masters || replicaCount !== expected.replicas) return false;
          if (view.find((entry) => entry.flags.includes('myself'))?.flags.includes('slave')) {
            const replication = parseInfo(await adminCommand(node.port, ['INFO', 'replication']));
            if (replication.get('master_link_status') !== 'up') return false;
          }
        }
        return true;
      },
      {
        timeoutMs: READY_TIMEOUT_MS,
        intervalMs: 100,
        what: `cluster_state:ok with ${expected.masters} masters and ${expected.replicas} linked replicas on every node`,
        describeFailure: () => this.#describeNodes(),
      },
    );
  }

  async #allRunningNodesOk(): Promise<boolean> {
    for (const node of this.nodes) {
      if (!node.running) continue;
      const info = parseInfo(await adminCommand(node.port, ['CLUSTER', 'INFO']));
      if (info.get('cluster_state') !== 'ok') return false;
    }
    return true;
  }

  #serverAt(port: number): RedisServer | undefined {
    return this.nodes.find((node) => node.port === port);
  }

  /** Servers of the given entries that this helper started and that still run (a killed node may not be marked failed yet). */
  #serversOf(entries: ClusterNodeEntry[]): RedisServer[] {
    return entries.map((entry) => this.#serverAt(entry.port)).filter((node): node is RedisServer => node !== undefined && node.running);
  }

  #describeNodes(): string {
    return this.nodes.map((node) => `node ${node.port} (${node.running ? `pid ${node.pid}` : 'not running'}): ${node.logTail(8)}`).join('\n');
  }
}

/** A node that is neither marked failed nor without an address. */
function isHealthy(entry: ClusterNodeEntry): boolean {
  return !entry.flags.includes('fail') && !entry.flags.includes('noaddr') && !entry.flags.includes('handshake');
}

/**
 * Parses CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
 * <link-state> <slot> <slot> ...`.
 */
export function parseClusterNodes(reply: unknown): ClusterNodeEntry[] {
  const entries: ClusterNodeEntry[] = [];
  for (const line of String(reply).split('\n')) {
    const fields = line.trim().split(' ');
    const [id, address, flags, master] = fields;
    if (id === undefined || address === undefined || flags === undefined || master === undefined || id === '') continue;
    const hostPort = address.split('@')[0] ?? '';
    const port = Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
    const slots = fields.slice(8).filter((slot) => !slot.startsWith('['));
    const firstSlot = slots.length === 0 ? Infinity : Math.min(...slots.map((range) => Number(range.split('-')[0])));
    entries.push({ id, port, flags: flags.split(','), masterId: master === '-' ? undefined : master, firstSlot });
  }
  return entries;
}
