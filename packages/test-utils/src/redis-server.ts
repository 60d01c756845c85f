import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from './free-port';
import { logTail } from './log-tail';
import { ping } from './ping';
import { releaseTempDir, trackChild, trackTempDir } from './process-registry';
import { sleep } from './wait';

/** The executable every server is started with; it must be on PATH. */
export const REDIS_SERVER_BINARY = 'redis-server';

/** How to get Redis, for every error that finds none. */
export const HOW_TO_GET_REDIS =
  'install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) so that `redis-server` and ' +
  '`redis-cli` are on PATH, or start a Redis server on 127.0.0.1:6379';

const HOST = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 10_000;
/** A graceful stop waits this long before SIGKILL (Redis 7 may wait for replicas to catch up on SIGTERM). */
const GRACEFUL_STOP_MS = 5_000;
/** How long a signal that ends the process may take to do so. */
const EXIT_WAIT_MS = 5_000;
const TERMINATING_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGABRT']);

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /**
   * Port to listen on (127.0.0.1 only).
   * @default a free port from {@link freePort}
   */
  port?: number;
  /**
   * How to pick a port when `port` is not given; another is picked when the server finds it taken.
   * @default {@link freePort}
   */
  pickPort?: () => Promise<number>;
  /** Extra command-line arguments, appended last so they override the defaults (`['--maxmemory', '10mb']`). */
  args?: string[];
  /**
   * Working directory (RDB, AOF, nodes.conf, the log). Kept on stop when given.
   * @default a new temporary directory, removed on stop
   */
  dir?: string;
  /**
   * Persist every write with `--appendonly yes --appendfsync always`, so `restart()` and `kill('SIGKILL')` lose nothing.
   * @default false
   */
  appendOnly?: boolean;
  /** Sets `requirepass`; clients from `client()` send it. */
  password?: string;
  /**
   * How long to wait for the first PONG.
   * @default 10000
   */
  startTimeoutMs?: number;
}

/** A redis-server child process on 127.0.0.1, from {@link startRedis}. */
export interface RedisServer {
  /** Always `127.0.0.1`. */
  readonly host: string;
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:port`. */
  readonly url: string;
  /** Pid of the current process (changes on `restart()`). */
  readonly pid: number;
  /** Working directory: data files and `redis.log`. */
  readonly dir: string;
  /** The server's stdout and stderr, kept for the whole life of the directory. */
  readonly logFile: string;
  /** False once the process has exited (stopped, killed, crashed). */
  readonly running: boolean;
  /** The password given at start, if any. */
  readonly password: string | undefined;
  /**
   * Disconnects the clients from `client()`, stops the server (SIGTERM, SIGKILL after 5 s), waits for its exit and
   * removes its temporary directory. Safe to call twice.
   */
  stop(): Promise<void>;
  /**
   * Sends `signal` to the process. For a signal that ends it (SIGKILL, SIGTERM, ...) waits (bounded) until it has exited.
   * SIGSTOP freezes the server (connections hang, nothing is refused); SIGCONT resumes it.
   * @param signal @default 'SIGKILL'
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the process if it still runs, starts it again on the same port and directory, and waits for PONG. */
  restart(): Promise<void>;
  /**
   * A new ioredis client to this server (password included), disconnected by `stop()`. Options override the defaults.
   * A client of a server that a test kills keeps reconnecting until `stop()`; give it an 'error' listener, or ioredis
   * prints every refused connection.
   */
  client(options?: RedisOptions): Redis;
  /** The last lines of the server's log, for error messages. */
  logTail(lines?: number): string;
}

/** What {@link launchRedisServer} needs; `startRedis`, Cluster and Sentinel helpers all go through it. */
export interface LaunchSpec {
  port: number;
  dir: string;
  /** Whether `stop()` removes `dir`. */
  ownsDir: boolean;
  /** Full argument list of redis-server. */
  argv: string[];
  password?: string;
  startTimeoutMs: number;
}

/**
 * Starts `redis-server` on 127.0.0.1 and resolves once it answers PING.
 * Defaults: a free port, a temporary directory, `--save ""` (no RDB snapshots), no AOF,
 * `--repl-diskless-sync-delay 0` (a replica's first sync starts at once).
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)) {
    throw new RangeError(`startRedis: options.port must be an integer from 1 to 65535, received ${String(options.port)}`);
  }
  // A picked port (or a Cluster node's bus port) may be taken by someone else before redis-server binds it; try another.
  const attempts = options.port === undefined ? 3 : 1;
  const pickPort = options.pickPort ?? freePort;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await pickPort());
    const { dir, ownsDir } = prepareDir(options.dir, 'redis');
    const argv = [
      '--port', String(port),
      '--bind', HOST,
      '--dir', dir,
      '--save', '',
      // Replicas get their first full sync at once instead of after the default 5 s wait for more replicas.
      '--repl-diskless-sync-delay', '0',
      ...(options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ...(options.password === undefined ? [] : ['--requirepass', options.password]),
      ...(options.args ?? []),
    ];
    try {
      return await launchRedisServer({
        port,
        dir,
        ownsDir,
        argv,
        startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
        ...(options.password === undefined ? {} : { password: options.password }),
      });
    } catch (error) {
      if (attempt >= attempts || !(error instanceof PortInUseError)) throw error;
    }
  }
}

/** Creates `dir` (or a temporary one named after `label`). */
export function prepareDir(dir: string | undefined, label: string): { dir: string; ownsDir: boolean } {
  if (dir !== undefined) {
    mkdirSync(dir, { recursive: true });
    return { dir, ownsDir: false };
  }
  const created = mkdtempSync(join(scratchRoot(), `slidegate-${label}-`));
  trackTempDir(created);
  return { dir: created, ownsDir: true };
}

/**
 * Where temporary directories go: /dev/shm (memory) when it is there, else the OS temp dir. On a busy disk an fsync
 * (appendfsync always, or a sentinel saving its config after every event) can stall a server for longer than the
 * 1 s down-after-milliseconds of the Sentinel helpers, and a stalled sentinel starts failovers nobody asked for.
 * Memory loses nothing a test relies on: SIGKILL ends the process, not the machine.
 */
function scratchRoot(): string {
  if (cachedScratchRoot === undefined) {
    try {
      accessSync('/dev/shm', constants.W_OK);
      cachedScratchRoot = '/dev/shm';
    } catch {
      cachedScratchRoot = tmpdir();
    }
  }
  return cachedScratchRoot;
}
let cachedScratchRoot: string | undefined;

/** Thrown when the server could not bind its port, so the caller can pick another. */
class PortInUseError extends Error {}

/** Spawns a redis-server (or sentinel) described by `spec` and waits until it answers PING. */
export async function launchRedisServer(spec: LaunchSpec): Promise<RedisServer> {
  const server = new ManagedRedisServer(spec);
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return server;
}

class ManagedRedisServer implements RedisServer {
  readonly host = HOST;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly logFile: string;
  readonly password: string | undefined;
  readonly #spec: LaunchSpec;
  readonly #clients = new Set<Redis>();
  #child: ChildProcess | undefined;
  #stopped = false;

  constructor(spec: LaunchSpec) {
    this.#spec = spec;
    this.port = spec.port;
    this.dir = spec.dir;
    this.password = spec.password;
    this.logFile = join(spec.dir, 'redis.log');
    const auth = spec.password === undefined ? '' : `:${encodeURIComponent(spec.password)}@`;
    this.url = `redis://${auth}${HOST}:${spec.port}`;
  }

  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  get running(): boolean {
    return this.#child !== undefined && hasNotExited(this.#child);
  }

  logTail(lines = 20): string {
    return logTail(this.logFile, lines);
  }

  async start(): Promise<void> {
    const child = await spawnLogged(this.#spec.argv, this.dir, this.logFile);
    this.#child = child;
    const deadline = Date.now() + this.#spec.startTimeoutMs;
    while (Date.now() < deadline) {
      if (!hasNotExited(child)) {
        const tail = this.logTail();
        const message = `test-utils: redis-server on port ${this.port} exited during start-up (code ${String(child.exitCode)}, signal ${String(child.signalCode)})\n${tail}`;
        throw tail.includes('Address already in use') ? new PortInUseError(message) : new Error(message);
      }
      if (await ping(HOST, this.port, 500, this.password)) return;
      await sleep(25);
    }
    throw new Error(
      `test-utils: redis-server on port ${this.port} (pid ${this.pid}) did not answer PING within ${this.#spec.startTimeoutMs} ms\n${this.logTail()}`,
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    await this.#terminate();
    if (this.#spec.ownsDir) releaseTempDir(this.dir);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined || !hasNotExited(child)) {
      throw new Error(`test-utils: cannot send ${signal} to redis-server on port ${this.port}: it is not running`);
    }
    child.kill(signal);
    if (TERMINATING_SIGNALS.has(signal) && !(await waitForExit(child, EXIT_WAIT_MS))) {
      throw new Error(`test-utils: redis-server on port ${this.port} (pid ${this.pid}) survived ${signal} for ${EXIT_WAIT_MS} ms`);
    }
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new Error(`test-utils: redis-server on port ${this.port} was stopped; start a new one`);
    await this.#terminate();
    await this.start();
  }

  client(options: RedisOptions = {}): Redis {
    const client = new Redis({
      host: HOST,
      port: this.port,
      ...(this.password === undefined ? {} : { password: this.password }),
      ...options,
    });
    this.#clients.add(client);
    return client;
  }

  async #terminate(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !hasNotExited(child)) return;
    child.kill('SIGCONT'); // A SIGSTOPped server would never act on SIGTERM.
    child.kill('SIGTERM');
    if (await waitForExit(child, GRACEFUL_STOP_MS)) return;
    child.kill('SIGKILL');
    if (!(await waitForExit(child, EXIT_WAIT_MS))) {
      throw new Error(`test-utils: redis-server on port ${this.port} (pid ${this.pid}) survived SIGKILL for ${EXIT_WAIT_MS} ms`);
    }
  }
}

/** True while the child has neither exited nor been killed by a signal. */
function hasNotExited(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves true once the child has exited, false after `timeoutMs`. */
function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (!hasNotExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, timeoutMs);
    function onExit(): void {
      clearTimeout(timer);
      resolve(true);
    }
    child.once('exit', onExit);
  });
}

/** Spawns redis-server with stdout and stderr appended to `logFile`; rejects with install hints if it is missing. */
async function spawnLogged(argv: string[], cwd: string, logFile: string): Promise<ChildProcess> {
  const log = openSync(logFile, 'a');
  try {
    const child = spawn(REDIS_SERVER_BINARY, argv, { cwd, stdio: ['ignore', log, log] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error: NodeJS.ErrnoException) => {
        reject(
          error.code === 'ENOENT'
            ? new Error(`test-utils: \`${REDIS_SERVER_BINARY}\` is not on PATH; ${HOW_TO_GET_REDIS}`, { cause: error })
            : error,
        );
      });
    });
    trackChild(child);
    // Later failures (a signal to a gone pid) surface through exit codes and pings, not as a crash.
    child.on('error', () => undefined);
    // A forgotten server must not keep the test process alive; the exit hook kills it.
    child.unref();
    return child;
  } finally {
    closeSync(log);
  }
}
