import { ErrorCodes, rangeError, StoreError, typeError } from '../errors';
import type {
  Algorithm,
  ClientLimit,
  FactorProposal,
  LeaseRelease,
  Store,
  StoreCheckRequest,
  StoreDecision,
  StoreSetLimitRequest,
} from '../types';
import { checkKnownKeys, checkPlainObject, describe } from '../validate';
import { IPC_CHANNEL, PING, socketChannel, type Channel } from './cluster/channel';
import { ClusterPrimary, type ClusterPrimaryOptions } from './cluster/cluster-primary';
import { decode, encode, PROTOCOL, type ClusterOp, type PrimaryMessage, type WorkerMessage } from './cluster/cluster-protocol';
import { checkSocketPath } from './cluster/socket-path';
import { ClusterSocketServer, type ClusterSocketServerOptions } from './cluster/socket-server';

/** Options of `new ClusterStore()` (in each process that decides). */
export interface ClusterStoreOptions {
  /**
   * The socket of a `ClusterStore.serve({ path })` server to ask, for processes that have no
   * node:cluster primary serving them (PM2's cluster mode, plain processes): a Unix socket path, or
   * on Windows a named pipe. Left out: the node:cluster primary is asked over IPC
   * (`ClusterStore.servePrimary()`).
   * @default undefined (node:cluster IPC)
   */
  path?: string;
  /**
   * Names this store's windows on the primary: limiters with different prefixes never share a
   * client's window, limiters with the same one always do (like RedisStore's prefix).
   * @default 'slidegate:'
   */
  prefix?: string;
  /**
   * A call the primary has not answered in this many ms fails (the limiter's own, shorter
   * timeout answers the request first; this one frees what the call held).
   * @default 5000
   */
  callTimeoutMs?: number;
}

const DEFAULT_PREFIX = 'slidegate:';
const DEFAULT_CALL_TIMEOUT_MS = 5000;

/**
 * Call ids, unique across every ClusterStore of the worker: each store hears every reply the primary
 * sends this process and takes those whose id it waits for, so two stores must never share an id.
 */
let nextCallId = 1;

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  sentAt: number;
}

/**
 * The store for several processes on one host with no Redis. On node:cluster the primary calls
 * `await ClusterStore.servePrimary()` once and holds every window in memory; each worker passes
 * `new ClusterStore()` as its limiter's store and asks the primary over IPC. Where no primary runs
 * application code (PM2's cluster mode, plain processes), one process calls
 * `await ClusterStore.serve({ path })` and every process passes `new ClusterStore({ path })`, asking
 * over that socket: the same server, messages and fault rules. It is a shared store,
 * so leases and the denial cache are on by default: a hot client is decided inside the worker from
 * units leased from the primary, and a denied one is answered locally until it may pass.
 * A worker started before the primary serves decides in fallback (its limiter's `failureMode`)
 * until it is told the store is served; if the primary stops serving, the same, until it serves again.
 * On a socket the same: a process that cannot reach the server (not up yet, stopped, restarted)
 * falls back and reconnects on its own (within a second of the server's return).
 */
export class ClusterStore implements Store {
  readonly hasOwnClock = false;
  /** Shared by every worker on the host: leases and the denial cache are on by default (see `Store.shared`). */
  readonly shared = true;
  readonly prefix: string;
  /** The socket path asked (`options.path`); undefined on node:cluster IPC. Named in outage warnings. */
  readonly endpoint: string | undefined;
  readonly #callTimeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(clientId: string | undefined) => void>();
  readonly #channel: Channel;
  readonly #unsubscribe: () => void;
  /** The primary's serving epoch once it said hello; undefined before, and after it stopped serving. */
  #epoch: number | undefined;
  /** Set when the primary said it stopped (or the channel closed): calls fail at once until the next hello. */
  #lostReason: string | undefined;
  #lastEpoch: number | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * In the primary: starts answering the workers' ClusterStores (once; later calls get the same
   * server until it is closed). Workers forked before or after this call are both served.
   */
  static servePrimary(options: ClusterPrimaryOptions = {}): Promise<ClusterPrimary> {
    if (serving === undefined || serving.closed) serving = new ClusterPrimary(options);
    return Promise.resolve(serving);
  }

  /**
   * In one process of the host (under PM2: an app of its own in fork mode): serves every
   * `new ClusterStore({ path })` with the same `path`, over a Unix socket (or a Windows named pipe).
   * Resolves once listening; rejects (code ERR_SLIDEGATE_ADDRESS_IN_USE) when a live server already
   * serves the path. A socket file left by a server that died is replaced.
   */
  static serve(options: ClusterSocketServerOptions): Promise<ClusterSocketServer> {
    return ClusterSocketServer.listen(options);
  }

  constructor(options: ClusterStoreOptions = {}) {
    const o = checkPlainObject(options, 'ClusterStore options');
    checkKnownKeys(o, ['path', 'prefix', 'callTimeoutMs'], 'ClusterStore options');
    let channel: Channel;
    if (o.path !== undefined) {
      this.endpoint = checkSocketPath(o.path, 'ClusterStore options.path');
      channel = socketChannel(this.endpoint);
    } else {
      // PM2 gives its processes an IPC channel too, to its own daemon, which never answers.
      if (process.env.pm_id !== undefined) {
        throw typeError(
          ErrorCodes.INVALID_OPTION,
          'slidegate: new ClusterStore() without a path asks a node:cluster primary, but under PM2 the primary is PM2 itself and serves no store. Run ClusterStore.serve({ path }) in an app of its own (exec_mode fork; or the slidegate-cluster-store bin) and pass new ClusterStore({ path }) here',
        );
      }
      if (typeof process.send !== 'function') {
        throw typeError(
          ErrorCodes.INVALID_OPTION,
          'slidegate: new ClusterStore() must be created in a node:cluster worker (this process has no IPC channel); in the primary call ClusterStore.servePrimary(). Processes without a node:cluster primary (PM2, plain processes) pass new ClusterStore({ path }) and one of them serves it with ClusterStore.serve({ path })',
        );
      }
      this.endpoint = undefined;
      channel = IPC_CHANNEL;
    }
    const prefix = o.prefix ?? DEFAULT_PREFIX;
    if (typeof prefix !== 'string') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ClusterStore options.prefix must be a string; got ${describe(prefix)}`);
    this.prefix = prefix;
    const timeout = o.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (typeof timeout !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ClusterStore options.callTimeoutMs must be a number; got ${describe(timeout)}`);
    if (!Number.isFinite(timeout) || timeout < 1) throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ClusterStore options.callTimeoutMs must be >= 1; got ${describe(timeout)}`);
    this.#callTimeoutMs = timeout;
    this.#channel = channel;
    this.#unsubscribe = channel.subscribe({ message: (m) => this.#handle(m), lost: (why) => this.#lost(why) });
    // A store made after the server's hello asks for it again.
    this.#post(PING);
  }

  /** True once the server said it serves (and has not stopped since). */
  get served(): boolean {
    return this.#epoch !== undefined;
  }

  check(request: StoreCheckRequest): Promise<StoreDecision> {
    return this.#call('check', [request]) as Promise<StoreDecision>;
  }

  async release(clientId: string, algorithm: Algorithm, release: LeaseRelease, defaults: ClientLimit): Promise<void> {
    await this.#call('release', [clientId, algorithm, release, defaults]);
  }

  async reset(clientId: string): Promise<void> {
    await this.#call('reset', [clientId]);
  }

  async getLimit(clientId: string): Promise<ClientLimit | undefined> {
    return ((await this.#call('getLimit', [clientId])) ?? undefined) as ClientLimit | undefined;
  }

  async setLimit(request: StoreSetLimitRequest): Promise<void> {
    await this.#call('setLimit', [request]);
  }

  /** `Store.heartbeat`: the number of live workers, as the primary sees them. */
  async heartbeat(): Promise<number> {
    return (await this.#call('heartbeat', [])) as number;
  }

  async shareFactor(proposal: FactorProposal): Promise<number> {
    return (await this.#call('shareFactor', [proposal])) as number;
  }

  onLimitChange(listener: (clientId: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#unsubscribe();
    this.#failAll(new StoreError('slidegate: ClusterStore closed', { code: ErrorCodes.CLOSED }));
    this.#listeners.clear();
    return Promise.resolve();
  }

  #call(op: ClusterOp, args: unknown[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new StoreError('slidegate: ClusterStore is closed', { code: ErrorCodes.CLOSED }));
    if (this.#lostReason !== undefined) {
      // Known not to be served: fail at once so the limiter falls back without waiting.
      return Promise.reject(new StoreError(`slidegate: ClusterStore has no server: ${this.#lostReason}`, { code: ErrorCodes.STORE_CONNECTION }));
    }
    // Before the first hello the call goes anyway: the primary may serve already (its hello to this
    // worker is on its way). If it does not, the limiter's timeout answers and this call expires.
    const id = nextCallId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, sentAt: Date.now() });
      this.#post({ slidegate: PROTOCOL, kind: 'call', id, prefix: this.prefix, op, payload: encode(args) }, (error) => {
        const pending = this.#pending.get(id);
        if (error === null || pending === undefined) return;
        this.#pending.delete(id);
        pending.reject(new StoreError(`slidegate: ClusterStore ${op} could not reach the server: ${error.message}`, { code: ErrorCodes.STORE_CONNECTION, cause: error }));
      });
      this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(this.#callTimeoutMs, 1000)).unref();
    });
  }

  #post(message: WorkerMessage, done: (error: Error | null) => void = () => undefined): void {
    this.#channel.post(message, done);
  }

  #handle(m: PrimaryMessage): void {
    switch (m.kind) {
      case 'reply': {
        const pending = this.#pending.get(m.id);
        if (pending === undefined) return;
        this.#pending.delete(m.id);
        if (m.error !== undefined) pending.reject(new StoreError(`slidegate: ClusterStore call failed on the server: ${m.error}`));
        else pending.resolve(m.payload === undefined ? undefined : decode(m.payload));
        return;
      }
      case 'hello': {
        const restarted = this.#lastEpoch !== undefined && this.#lastEpoch !== m.epoch;
        this.#epoch = this.#lastEpoch = m.epoch;
        this.#lostReason = undefined;
        // A new server holds none of the old one's windows or limits: leases and caches start over.
        if (restarted) this.#notify(undefined);
        return;
      }
      case 'bye':
        this.#lost('the server stopped serving');
        return;
      case 'limit':
        if (m.prefix === this.prefix) this.#notify(m.clientId);
        return;
    }
  }

  #lost(why: string): void {
    // Already known lost (a bye, then its connection closing): the leases went the first time.
    if (this.#lostReason !== undefined) return;
    this.#epoch = undefined;
    this.#lostReason = why;
    this.#failAll(new StoreError(`slidegate: ClusterStore lost its server: ${why}`, { code: ErrorCodes.STORE_CONNECTION }));
    // Leases were granted by a server whose windows are gone: spending them on would admit units
    // that no window counts. The limiter drops them (and its cached limits).
    this.#notify(undefined);
  }

  #failAll(error: StoreError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }

  #sweep(): void {
    const oldest = Date.now() - this.#callTimeoutMs;
    for (const [id, p] of this.#pending) {
      if (p.sentAt > oldest) continue;
      this.#pending.delete(id);
      p.reject(new StoreError(`slidegate: ClusterStore call unanswered for ${this.#callTimeoutMs} ms`, { code: ErrorCodes.STORE_TIMEOUT }));
    }
    if (this.#pending.size === 0 && this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #notify(clientId: string | undefined): void {
    for (const listener of this.#listeners) listener(clientId);
  }
}

/** The one server of this process (a primary serves its workers once). */
let serving: ClusterPrimary | undefined;
