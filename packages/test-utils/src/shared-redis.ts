import { ping } from './ping';
import { startRedis, type RedisServer } from './redis-server';

const MACHINE_REDIS_HOST = '127.0.0.1';
const MACHINE_REDIS_PORT = 6379;
const MACHINE_REDIS_PING_MS = 500;

/** A Redis for non-destructive tests, from {@link sharedRedis}. */
export interface SharedRedis {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** True when no Redis answered on 127.0.0.1:6379 and a throwaway server was started instead. */
  readonly startedOwn: boolean;
  /** Stops the throwaway server once every caller that got it has called stop(); never touches 6379. */
  stop(): Promise<void>;
}

/**
 * The throwaway server standing in for each missing address: one, shared by every caller while it is down,
 * counted so that the last stop() ends it.
 */
const throwaways = new Map<string, { server: Promise<RedisServer>; users: number }>();

/**
 * The machine's Redis on 127.0.0.1:6379 if it answers PING within 500 ms, otherwise a throwaway redis-server
 * on a free port (announced once on stderr). Only PING is ever sent to 6379: tests on it must use their own
 * key prefix and never flush, shut down or reconfigure it.
 */
export function sharedRedis(): Promise<SharedRedis> {
  return sharedRedisAt(MACHINE_REDIS_HOST, MACHINE_REDIS_PORT);
}

/** {@link sharedRedis} probing another address; exported for the tests of the fallback, not from the package. */
export async function sharedRedisAt(host: string, port: number): Promise<SharedRedis> {
  const address = `${host}:${port}`;
  if (!throwaways.has(address) && (await ping(host, port, MACHINE_REDIS_PING_MS))) {
    return {
      url: `redis://${host}:${port}`,
      host,
      port,
      startedOwn: false,
      stop: () => Promise.resolve(),
    };
  }
  let entry = throwaways.get(address);
  if (entry === undefined) {
    const server = startRedis();
    const created = { server, users: 0 };
    entry = created;
    throwaways.set(address, created);
    server.then(
      (started) => console.error(`[test-utils] no Redis on ${address}; started a throwaway redis-server on port ${started.port}`),
      () => {
        if (throwaways.get(address) === created) throwaways.delete(address);
      },
    );
  }
  entry.users++;
  let server: RedisServer;
  try {
    server = await entry.server;
  } catch (error) {
    entry.users--;
    throw new Error(
      `test-utils: no Redis answered on ${address} and a throwaway redis-server could not start: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let stopped = false;
  return {
    url: server.url,
    host: server.host,
    port: server.port,
    startedOwn: true,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      entry.users--;
      if (entry.users > 0) return;
      if (throwaways.get(address) === entry) throwaways.delete(address);
      await server.stop();
    },
  };
}
