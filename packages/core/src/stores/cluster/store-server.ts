import { randomInt } from 'node:crypto';
import type { Store } from '../../types';
import { describe } from '../../validate';
import { MemoryStore, type MemoryStoreOptions } from '../memory-store';
import { decode, encode, isProtocolMessage, PROTOCOL, type ClusterOp, type PrimaryMessage, type WorkerMessage } from './cluster-protocol';

/** One process a server answers: a node:cluster worker, or a connection on the server's socket. */
export interface Peer {
  /** Sends if the peer is still there; a peer that went away drops the message. */
  send(message: PrimaryMessage): void;
}

/**
 * What every ClusterStore server does, whatever carries its messages (node:cluster IPC or a socket):
 * answers each peer's store calls from MemoryStores held here, one per prefix, so every process of
 * the host shares one window per client. Calls are answered in the order they arrive, each one
 * atomic (MemoryStore decides synchronously). The transports only deliver messages and list peers.
 */
export class StoreServer {
  /** Changes on every serve, so peers can tell a restarted server (empty windows) from the old one. */
  readonly epoch = randomInt(1, 2 ** 47);
  readonly #memoryOptions: MemoryStoreOptions;
  readonly #peers: () => Peer[];
  readonly #stores = new Map<string, MemoryStore>();
  #closed = false;

  /** `peers`: the peers connected now (heartbeats count them, limit changes go to each). */
  constructor(memoryOptions: MemoryStoreOptions, peers: () => Peer[]) {
    this.#memoryOptions = { ...memoryOptions };
    this.#peers = peers;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Clients held across every prefix. */
  get size(): number {
    let size = 0;
    for (const store of this.#stores.values()) size += store.size;
    return size;
  }

  /** Tells a peer the store is served (on connection, and in answer to a ping). */
  hello(peer: Peer): void {
    peer.send({ slidegate: PROTOCOL, kind: 'hello', epoch: this.epoch });
  }

  /** One message from a peer; anything that is not slidegate's is ignored. */
  handle(peer: Peer, message: unknown): void {
    if (this.#closed || !isProtocolMessage(message)) return;
    const m = message as WorkerMessage;
    if (m.kind === 'ping') {
      this.hello(peer);
      return;
    }
    if (m.kind !== 'call') return;
    this.#call(m.prefix, m.op, m.payload).then(
      (result) => peer.send({ slidegate: PROTOCOL, kind: 'reply', id: m.id, payload: encode(result) }),
      (error: unknown) => peer.send({ slidegate: PROTOCOL, kind: 'reply', id: m.id, error: error instanceof Error ? error.message : String(error) }),
    );
  }

  /** Stops serving: says `bye` to every peer (their calls then fail until a server says hello) and drops the windows. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.#peers()) peer.send({ slidegate: PROTOCOL, kind: 'bye' });
    const stores = [...this.#stores.values()];
    this.#stores.clear();
    await Promise.all(stores.map((s) => s.close()));
  }

  async #call(prefix: string, op: ClusterOp, payload: string): Promise<unknown> {
    if (typeof prefix !== 'string') throw new TypeError(`bad prefix ${describe(prefix)}`);
    const store = this.#store(prefix);
    const args = decode<unknown[]>(payload);
    switch (op) {
      case 'check':
        return store.checkSync(args[0] as Parameters<Store['check']>[0]);
      case 'release':
        return store.release(...(args as Parameters<Store['release']>));
      case 'reset':
        return store.reset(args[0] as string);
      case 'getLimit':
        return store.getLimit(args[0] as string);
      case 'setLimit': {
        await store.setLimit(args[0] as Parameters<Store['setLimit']>[0]);
        const clientId = (args[0] as { clientId: string }).clientId;
        for (const peer of this.#peers()) peer.send({ slidegate: PROTOCOL, kind: 'limit', prefix, clientId });
        return undefined;
      }
      case 'shareFactor':
        return store.shareFactor(args[0] as Parameters<MemoryStore['shareFactor']>[0]);
      case 'heartbeat':
        // Every connected peer is an instance that shares the limits.
        return Math.max(1, this.#peers().length);
      default:
        throw new TypeError(`unknown ClusterStore call ${describe(op)}`);
    }
  }

  #store(prefix: string): MemoryStore {
    let store = this.#stores.get(prefix);
    if (store === undefined) this.#stores.set(prefix, (store = new MemoryStore(this.#memoryOptions)));
    return store;
  }
}

/**
 * A transport of StoreServer (node:cluster IPC, a socket): makes the server on the peers it lists,
 * and shows what callers may read of it.
 */
export abstract class StoreServerTransport {
  protected readonly server: StoreServer;

  protected constructor(memoryOptions: MemoryStoreOptions) {
    this.server = new StoreServer(memoryOptions, () => this.peers());
  }

  /** The peers connected now. */
  protected abstract peers(): Peer[];

  /** Changes on every serve, so clients can tell a restarted server (empty windows) from the old one. */
  get epoch(): number {
    return this.server.epoch;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.server.closed;
  }

  /** Clients held across every prefix (for tests and metrics). */
  get size(): number {
    return this.server.size;
  }
}
