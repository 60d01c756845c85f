import type { Cluster, Worker } from 'node:cluster';
import { ErrorCodes, typeError } from '../../errors';
import { checkKnownKeys, checkPlainObject } from '../../validate';
import type { MemoryStoreOptions } from '../memory-store';
import type { PrimaryMessage } from './cluster-protocol';
import { StoreServerTransport, type Peer } from './store-server';

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
 * The node:cluster transport of ClusterStore's server: the primary answers its workers over their
 * IPC channels (the windows and every call live in the shared StoreServer).
 */
export class ClusterPrimary extends StoreServerTransport {
  readonly #cluster: Cluster;
  /** One Peer per worker, made once (a message arrives with its worker on every call). */
  readonly #peers = new WeakMap<Worker, Peer>();
  readonly #onMessage = (worker: Worker, message: unknown): void => this.server.handle(this.#peer(worker), message);
  readonly #onOnline = (worker: Worker): void => this.server.hello(this.#peer(worker));

  constructor(options: ClusterPrimaryOptions = {}) {
    const raw = checkPlainObject(options, 'ClusterStore.servePrimary options');
    if (raw.path !== undefined) {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        'slidegate: ClusterStore.servePrimary() serves node:cluster workers over IPC and takes no path; to serve over a socket (PM2, plain processes) call ClusterStore.serve({ path }) instead',
      );
    }
    checkKnownKeys(raw, ['memory', 'cluster'], 'ClusterStore.servePrimary options');
    const o = raw as ClusterPrimaryOptions;
    const cluster = o.cluster ?? loadCluster();
    if (cluster.isPrimary !== true) {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        'slidegate: ClusterStore.servePrimary() must be called in the node:cluster primary (cluster.isPrimary); workers pass new ClusterStore() to their limiter. Under PM2 (whose primary runs no application code) serve a socket instead: ClusterStore.serve({ path }) in one process, new ClusterStore({ path }) in the others',
      );
    }
    if (o.memory !== undefined) checkPlainObject(o.memory, 'ClusterStore.servePrimary options.memory');
    super(o.memory ?? {});
    this.#cluster = cluster;
    this.#cluster.on('message', this.#onMessage);
    this.#cluster.on('online', this.#onOnline);
    // Workers forked before serving began learn now; those forked later on 'online'.
    for (const worker of this.#workers()) this.server.hello(this.#peer(worker));
  }

  /** Stops serving: workers' calls fail (their limiters fall back) until the next servePrimary(). */
  async close(): Promise<void> {
    if (this.server.closed) return;
    this.#cluster.off('message', this.#onMessage);
    this.#cluster.off('online', this.#onOnline);
    await this.server.close();
  }

  protected peers(): Peer[] {
    return this.#workers().map((w) => this.#peer(w));
  }

  #peer(worker: Worker): Peer {
    let peer = this.#peers.get(worker);
    if (peer === undefined) this.#peers.set(worker, (peer = { send: (message) => send(worker, message) }));
    return peer;
  }

  #workers(): Worker[] {
    return Object.values(this.#cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
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
