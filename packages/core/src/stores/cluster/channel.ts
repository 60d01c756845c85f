import { connect, type Socket } from 'node:net';
import { isProtocolMessage, PROTOCOL, type PrimaryMessage, type WorkerMessage } from './cluster-protocol';
import { frame, LineReader } from './line-framing';

/** What a ClusterStore hears from its channel. */
export interface ChannelListener {
  /** A message of slidegate's protocol from the server. */
  message(message: PrimaryMessage): void;
  /** The server cannot be reached (now, or any more): calls fail until it says hello again. */
  lost(why: string): void;
}

/**
 * How a ClusterStore reaches its server: the node:cluster IPC channel, or a socket. Either is one
 * per process (every store of the process shares it) and carries the same messages.
 */
export interface Channel {
  /** Sends one message; `done` gets the error when it could not be sent. */
  post(message: WorkerMessage, done: (error: Error | null) => void): void;
  /** Starts telling `listener` what arrives; returns the function that stops. */
  subscribe(listener: ChannelListener): () => void;
}

/** The node:cluster worker's IPC channel to its primary. */
export const IPC_CHANNEL: Channel = {
  post(message, done) {
    try {
      (process.send as NonNullable<typeof process.send>)(message, undefined, {}, done);
    } catch (error) {
      done(error as Error);
    }
  },
  subscribe(listener) {
    const onMessage = (message: unknown): void => {
      if (isProtocolMessage(message)) listener.message(message as PrimaryMessage);
    };
    const onDisconnect = (): void => listener.lost('the IPC channel to the primary closed');
    process.on('message', onMessage);
    process.on('disconnect', onDisconnect);
    return () => {
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
    };
  },
};

/** Reconnection waits from this, doubling up to the most, so a server that comes back is found within a second. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1000;

const socketChannels = new Map<string, SocketChannel>();

/** This process's channel to the socket server on `path` (made on first use, ended with its last store). */
export function socketChannel(path: string): Channel {
  let channel = socketChannels.get(path);
  if (channel === undefined) socketChannels.set(path, (channel = new SocketChannel(path)));
  return channel;
}

/**
 * One connection to `ClusterStore.serve({ path })`, shared by the process's stores on that path (so
 * the server counts processes, as the primary counts workers). It connects when its first store
 * subscribes and, whenever the connection fails or ends, tells its stores the server is lost and
 * connects again (50 ms, doubling to 1 s), until its last store unsubscribes.
 */
class SocketChannel implements Channel {
  readonly #path: string;
  readonly #listeners = new Set<ChannelListener>();
  #socket: Socket | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  /** Why the server is known to be unreachable; undefined while connecting or connected. */
  #lostReason: string | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  post(message: WorkerMessage, done: (error: Error | null) => void): void {
    const socket = this.#socket;
    // While connecting the socket buffers what is written; if the connection fails, `done` gets the error.
    if (socket === undefined || !socket.writable) {
      done(new Error(`not connected to ${this.#path}`));
      return;
    }
    socket.write(frame(message), (error) => done(error ?? null));
  }

  subscribe(listener: ChannelListener): () => void {
    this.#listeners.add(listener);
    if (this.#lostReason !== undefined) listener.lost(this.#lostReason);
    if (this.#socket === undefined && this.#retry === undefined) this.#connect();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#end();
    };
  }

  #connect(): void {
    this.#retry = undefined;
    const socket = connect(this.#path);
    this.#socket = socket;
    socket.setEncoding('utf8');
    let why = 'the server closed the connection';
    const reader = new LineReader((message) => {
      if (!isProtocolMessage(message)) return;
      for (const listener of [...this.#listeners]) listener.message(message as PrimaryMessage);
    });
    socket.on('connect', () => {
      this.#retryMs = RETRY_MIN_MS;
      this.#lostReason = undefined;
    });
    socket.on('data', (chunk: string) => {
      if (reader.push(chunk)) return;
      why = 'the server sent a message that is not slidegate protocol';
      socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      why = `no server on ${this.#path} (${error.code ?? error.message})`;
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#lostReason === undefined) {
        this.#lostReason = why;
        for (const listener of [...this.#listeners]) listener.lost(why);
      }
      if (this.#listeners.size === 0) return;
      this.#retry = setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    });
  }

  #end(): void {
    socketChannels.delete(this.#path);
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
  }
}

/** For the store's ping: asks a server that already serves to say hello to this store too. */
export const PING: WorkerMessage = { slidegate: PROTOCOL, kind: 'ping' };
