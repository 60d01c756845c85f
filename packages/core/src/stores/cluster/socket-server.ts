import { lstat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ErrorCodes, StoreError, typeError } from '../../errors';
import { checkKnownKeys, checkPlainObject } from '../../validate';
import type { MemoryStoreOptions } from '../memory-store';
import type { PrimaryMessage } from './cluster-protocol';
import { frame, LineReader } from './line-framing';
import { checkSocketPath, isNamedPipe } from './socket-path';
import { StoreServerTransport, type Peer } from './store-server';

/** Options of `ClusterStore.serve`. */
export interface ClusterSocketServerOptions {
  /**
   * Where to listen: the path of a Unix socket (`/tmp/myapp-slidegate.sock`), or on Windows a named
   * pipe (`\\.\pipe\myapp-slidegate`). Every `new ClusterStore({ path })` with the same path shares
   * this server's windows. A socket file left by a server that died is replaced; a live server on the
   * path is not (serve() rejects with code ERR_SLIDEGATE_ADDRESS_IN_USE).
   */
  path: string;
  /**
   * Options of the MemoryStore that holds the windows (one per store prefix the clients use).
   * @default {}
   */
  memory?: MemoryStoreOptions;
}

/**
 * A peer whose unread replies pile up past this is not reading (frozen, or flooding without
 * reading): it is dropped rather than let the server's memory grow.
 */
const MAX_UNSENT_BYTES = 16 << 20;
/** How long close() waits for peers to hang up before it cuts them off. */
const CLOSE_GRACE_MS = 1000;

/**
 * The socket transport of ClusterStore's server, for processes with no node:cluster primary to serve
 * them (PM2's cluster mode, plain processes): one process calls `ClusterStore.serve({ path })`, every
 * process passes `new ClusterStore({ path })`. Each connection is a peer of the shared StoreServer,
 * which holds the windows and answers the calls exactly as the node:cluster primary does; this class
 * only listens, frames messages as lines of JSON and tracks connections.
 */
export class ClusterSocketServer extends StoreServerTransport {
  readonly path: string;
  readonly #net: Server;
  readonly #peers = new Map<Socket, Peer>();

  /** Use `ClusterStore.serve()`, which also listens. */
  private constructor(path: string, memory: MemoryStoreOptions) {
    super(memory);
    this.path = path;
    this.#net = createServer((socket) => this.#accept(socket));
  }

  /** `ClusterStore.serve()`: validates, listens (replacing a dead server's socket file), and resolves once served. */
  static async listen(options: ClusterSocketServerOptions): Promise<ClusterSocketServer> {
    const raw = checkPlainObject(options, 'ClusterStore.serve options');
    if (raw.cluster !== undefined) {
      throw typeError(ErrorCodes.INVALID_OPTION, 'slidegate: ClusterStore.serve() serves a socket and takes no cluster; to serve node:cluster workers over IPC call ClusterStore.servePrimary() in the primary');
    }
    checkKnownKeys(raw, ['path', 'memory'], 'ClusterStore.serve options');
    const o = raw as Partial<ClusterSocketServerOptions>;
    if (o.path === undefined) {
      throw typeError(ErrorCodes.INVALID_OPTION, 'slidegate: ClusterStore.serve() needs options.path, the socket every new ClusterStore({ path }) connects to');
    }
    const path = checkSocketPath(o.path, 'ClusterStore.serve options.path');
    if (o.memory !== undefined) checkPlainObject(o.memory, 'ClusterStore.serve options.memory');
    const server = new ClusterSocketServer(path, o.memory ?? {});
    await server.#listen();
    return server;
  }

  protected peers(): Peer[] {
    return [...this.#peers.values()];
  }

  /** Processes connected now (each process's stores share one connection per path). */
  get connections(): number {
    return this.#peers.size;
  }

  /**
   * Stops serving: says `bye` to every connected process (their limiters fall back and reconnect
   * until a server serves the path again), hangs up, and removes the socket file.
   */
  async close(): Promise<void> {
    if (this.server.closed) return;
    await this.server.close();
    const stopped = new Promise<void>((resolve) => this.#net.close(() => resolve()));
    for (const socket of this.#peers.keys()) socket.end();
    const cutOff = setTimeout(() => {
      for (const socket of this.#peers.keys()) socket.destroy();
    }, CLOSE_GRACE_MS);
    await stopped;
    clearTimeout(cutOff);
  }

  async #listen(): Promise<void> {
    try {
      await this.#tryListen();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw this.#failed(error);
      // A named pipe in use has a live server; a socket file may be one a dead server left behind.
      if (isNamedPipe(this.path) || (await answers(this.path))) {
        throw new StoreError(`slidegate: ClusterStore.serve(): another server already serves ${this.path}; one process serves a path, the others pass new ClusterStore({ path })`, {
          code: ErrorCodes.ADDRESS_IN_USE,
          cause: error,
        });
      }
      const stat = await lstat(this.path).catch(() => undefined);
      if (stat !== undefined && !stat.isSocket()) {
        throw new StoreError(`slidegate: ClusterStore.serve(): ${this.path} exists and is not a socket; choose another path`, { code: ErrorCodes.ADDRESS_IN_USE, cause: error });
      }
      // Nobody answers on it: a server that died left it. Take its place.
      await unlink(this.path).catch(() => undefined);
      await this.#tryListen().catch((again: unknown) => {
        throw this.#failed(again);
      });
    }
  }

  #tryListen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#net.once('error', onError);
      this.#net.listen(this.path, () => {
        this.#net.off('error', onError);
        resolve();
      });
    });
  }

  #failed(error: unknown): StoreError {
    const code = (error as NodeJS.ErrnoException).code;
    return new StoreError(`slidegate: ClusterStore.serve() could not listen on ${this.path}: ${code ?? (error as Error).message}`, {
      code: code === 'EADDRINUSE' ? ErrorCodes.ADDRESS_IN_USE : ErrorCodes.STORE_CONNECTION,
      cause: error,
    });
  }

  #accept(socket: Socket): void {
    if (this.server.closed) {
      socket.destroy();
      return;
    }
    socket.setEncoding('utf8');
    const peer: Peer = {
      send: (message: PrimaryMessage) => {
        if (socket.destroyed || !socket.writable) return;
        if (socket.writableLength > MAX_UNSENT_BYTES) socket.destroy();
        else socket.write(frame(message));
      },
    };
    this.#peers.set(socket, peer);
    const reader = new LineReader((message) => this.server.handle(peer, message));
    socket.on('data', (chunk: string) => {
      if (!reader.push(chunk)) socket.destroy();
    });
    // A process that died resets its connection: nothing to do but forget it, on 'close'.
    socket.on('error', () => undefined);
    socket.on('close', () => this.#peers.delete(socket));
    this.server.hello(peer);
  }
}

/** Whether a server accepts connections on `path` now. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
