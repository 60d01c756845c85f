/**
 * Every Redis client RedisStore supports, each made the way its users would make it (with the safe
 * settings slidegate documents), so suites can run once per client. The client packages are the
 * monorepo's devDependencies (npm aliases for the older majors: redis4, ioredis6) and are loaded
 * only when a suite asks for them.
 */

/** A connected client and how to close it. */
export interface ConnectedClient {
  /** The client object, as the user would pass it to `new RedisStore({ client })`. */
  client: object;
  close(): Promise<void>;
}

export interface RedisClientKind {
  /** E.g. 'ioredis 5', 'node-redis 4'. */
  readonly name: string;
  /**
   * A client of a standalone server, connected (`waitReady`, the default) or still connecting in
   * the background (for a server that is not up yet).
   */
  standalone(url: string, waitReady?: boolean): Promise<ConnectedClient>;
  /** A connected Cluster client from its startup nodes. */
  cluster(nodes: ReadonlyArray<{ host: string; port: number }>): Promise<ConnectedClient>;
}

// The settings slidegate asks of each client (kept here literally, so test-utils does not depend on core).
const backoff = (times: number): number => Math.min(50 * 2 ** Math.min(Math.max(times - 1, 0), 4), 500);
const SAFE_IOREDIS = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  retryStrategy: backoff,
};
const SAFE_IOREDIS_CLUSTER = {
  enableOfflineQueue: false,
  retryDelayOnFailover: 0,
  retryDelayOnClusterDown: 0,
  retryDelayOnTryAgain: 5,
  slotsRefreshInterval: 1000,
  clusterRetryStrategy: backoff,
  redisOptions: { autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0, connectTimeout: 2000 },
};
const SAFE_NODE_REDIS = { disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: backoff } };

interface IoredisModule {
  Redis: new (url: string, options: object) => IoredisClient;
  Cluster: new (nodes: ReadonlyArray<{ host: string; port: number }>, options: object) => IoredisClient;
}
interface IoredisClient {
  status: string;
  nodes?(role: string): { status: string; connect(): Promise<unknown> }[];
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
}
interface NodeRedisModule {
  createClient(options: object): NodeRedisClient;
  createCluster(options: object): NodeRedisClient;
}
interface NodeRedisClient {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  destroy?(): unknown;
  disconnect?(): Promise<unknown>;
}

function load<T>(name: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- each client is loaded only by the suites that use it
  return require(name) as T;
}

async function ready(client: IoredisClient): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('end', () => reject(new Error('the client ended before it was ready')));
  });
}

function ioredisKind(name: string, module: string): RedisClientKind {
  return {
    name,
    async standalone(url, waitReady = true) {
      const client = new (load<IoredisModule>(module).Redis)(url, { ...SAFE_IOREDIS, enableAutoPipelining: true });
      client.on('error', () => undefined);
      if (waitReady) await ready(client);
      return { client, close: () => Promise.resolve(client.disconnect()) };
    },
    async cluster(nodes) {
      const client = new (load<IoredisModule>(module).Cluster)(nodes, SAFE_IOREDIS_CLUSTER);
      client.on('error', () => undefined);
      await ready(client);
      // ioredis connects to each master on its first command, and without an offline queue that
      // command fails: connect them all first, as an application would by warming up.
      const masters = client.nodes?.('master') ?? [];
      await Promise.all(masters.filter((n) => n.status === 'wait').map((n) => n.connect().catch(() => undefined)));
      for (let i = 0; i < 250 && masters.some((n) => n.status !== 'ready'); i++) await new Promise((r) => setTimeout(r, 20));
      return { client, close: () => Promise.resolve(client.disconnect()) };
    },
  };
}

function nodeRedisKind(name: string, module: string): RedisClientKind {
  const close = (client: NodeRedisClient) => async (): Promise<void> => {
    if (client.destroy !== undefined) client.destroy();
    else await client.disconnect?.().catch(() => undefined);
  };
  return {
    name,
    async standalone(url, waitReady = true) {
      const client = load<NodeRedisModule>(module).createClient({ url, ...SAFE_NODE_REDIS });
      client.on('error', () => undefined);
      // node-redis' connect() settles only once connected (it retries until then).
      const connected = client.connect();
      if (waitReady) await connected;
      else connected.catch(() => undefined);
      return { client, close: close(client) };
    },
    async cluster(nodes) {
      const client = load<NodeRedisModule>(module).createCluster({
        rootNodes: nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
        defaults: SAFE_NODE_REDIS,
      });
      client.on('error', () => undefined);
      await client.connect();
      return { client, close: close(client) };
    },
  };
}

/** Every supported client, newest first within each family. */
export const REDIS_CLIENT_KINDS: readonly RedisClientKind[] = [
  ioredisKind('ioredis 5', 'ioredis'),
  ioredisKind('ioredis 6', 'ioredis6'),
  ioredisKind('iovalkey', 'iovalkey'),
  nodeRedisKind('node-redis 5', 'redis'),
  nodeRedisKind('node-redis 4', 'redis4'),
];

/** One kind by name (for worker processes that get the name as an argument). */
export function redisClientKind(name: string): RedisClientKind {
  const kind = REDIS_CLIENT_KINDS.find((k) => k.name === name);
  if (kind === undefined) throw new Error(`unknown Redis client kind ${JSON.stringify(name)}`);
  return kind;
}
