import type { Cluster, Worker } from 'node:cluster';
import { randomInt } from 'node:crypto';
import { ErrorCodes, typeError } from '../../errors';
import type { Store } from '../../types';
import { checkKnownKeys, checkPlainObject, describe } from '../../validate';
import { MemoryStore, type MemoryStoreOptions } from '../memory-store';
import { decode, encode, isProtocolMessage, PROTOCOL, type ClusterOp, type PrimaryMessage, type WorkerMessage } from './cluster-protocol';

/** Options of `ClusterStore.servePrimary`. */
export interface ClusterPrimaryOptions {
  /**
   * Options of the MemoryStore that holds the windows (one per store prefix the workers use).
   * @default {}
   */
  memory?: MemoryStoreOptions;
  /**
   * The `node:cluster` module to serve. For tests and bundlers; the default is Node's own.
   * @default require('node:cluster')
   */
  cluster?: Cluster;
}

/**
 * The primary's side of ClusterStore: answers each worker's store calls from MemoryStores held
 * here, one per prefix, so every worker of the host shares one window per client. Calls are
 * answered in the order they arrive, each one atomic (MemoryStore decides synchronously).
 */
export class ClusterPrimary {
  /** Changes on every serve, so workers can tell a restarted server (empty windows) from the old one. */
  readonly epoch = randomInt(1, 2 ** 47);
  readonly #cluster: Cluster;
  readonly #memoryOptions: MemoryStoreOptions;
  readonly #stores = new Map<string, MemoryStore>();
  readonly #onMessage = (worker: Worker, message: unknown): void => this.#handle(worker, message);
  readonly #onOnline = (worker: Worker): void => this.#hello(worker);
  #closed = false;

  constructor(options: ClusterPrimaryOptions = {}) {
    checkKnownKeys(checkPlainObject(options, 'ClusterStore.servePrimary options'), ['memory', 'cluster'], 'ClusterStore.servePrimary options');
    const o = options;
    this.#cluster = o.cluster ?? loadCluster();
    if (this.#cluster.isPrimary !== true) {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        'slidegate: ClusterStore.servePrimary() must be called in the node:cluster primary (cluster.isPrimary); workers pass new ClusterStore() to their limiter',
      );
    }
    if (o.memory !== undefined) checkPlainObject(o.memory, 'ClusterStore.servePrimary options.memory');
    this.#memoryOptions = { ...o.memory };
    this.#cluster.on('message', this.#onMessage);
    this.#cluster.on('online', this.#onOnline);
    // Workers forked before serving began learn now; those forked later on 'online'.
    for (const worker of Object.values(this.#cluster.workers ?? {})) if (worker !== undefined) this.#hello(worker);
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Clients held across every prefix (for tests and metrics). */
  get size(): number {
    let size = 0;
    for (const store of this.#stores.values()) size += store.size;
    return size;
  }

  /** Stops serving: workers' calls fail (their limiters fall back) until the next servePrimary(). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cluster.off('message', this.#onMessage);
    this.#cluster.off('online', this.#onOnline);
    for (const worker of this.#workers()) send(worker, { slidegate: PROTOCOL, kind: 'bye' });
    const stores = [...this.#stores.values()];
    this.#stores.clear();
    await Promise.all(stores.map((s) => s.close()));
  }

  #hello(worker: Worker): void {
    send(worker, { slidegate: PROTOCOL, kind: 'hello', epoch: this.epoch });
  }

  #workers(): Worker[] {
    return Object.values(this.#cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  }

  #handle(worker: Worker, message: unknown): void {
    if (this.#closed || !isProtocolMessage(message)) return;
    const m = message as WorkerMessage;
    if (m.kind === 'ping') {
      this.#hello(worker);
      return;
    }
    if (m.kind !== 'call') return;
    this.#call(m.prefix, m.op, m.payload).then(
      (result) => send(worker, { slidegate: PROTOCOL, kind: 'reply', id: m.id, payload: encode(result) }),
      (error: unknown) => send(worker, { slidegate: PROTOCOL, kind: 'reply', id: m.id, error: error instanceof Error ? error.message : String(error) }),
    );
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
        for (const w of this.#workers()) send(w, { slidegate: PROTOCOL, kind: 'limit', prefix, clientId });
        return undefined;
      }
      case 'shareFactor':
        return store.shareFactor(args[0] as Parameters<MemoryStore['shareFactor']>[0]);
      case 'heartbeat':
        // Every connected worker is an instance that shares the limits.
        return Math.max(1, this.#workers().length);
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

/** Sends to a worker that may have died meanwhile (the error then has nobody to go to). */
function send(worker: Worker, message: PrimaryMessage): void {
  if (!worker.isConnected()) return;
  try {
    worker.send(message, (error: Error | null) => void error);
  } catch {
    // The channel closed between the check and the send: the worker is gone.
  }
}

function loadCluster(): Cluster {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- node:cluster only where a primary is served
  return require('node:cluster') as Cluster;
}
