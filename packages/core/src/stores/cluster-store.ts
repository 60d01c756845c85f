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
import { ClusterPrimary, type ClusterPrimaryOptions } from './cluster/cluster-primary';
import { decode, encode, isProtocolMessage, PROTOCOL, type ClusterOp, type PrimaryMessage, type WorkerMessage } from './cluster/cluster-protocol';

/** Options of `new ClusterStore()` (in a worker). */
export interface ClusterStoreOptions {
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
 * The store for several processes on one host with no Redis (node:cluster). The primary calls
 * `await ClusterStore.servePrimary()` once and holds every window in memory; each worker passes
 * `new ClusterStore()` as its limiter's store and asks the primary over IPC. It is a shared store,
 * so leases and the denial cache are on by default: a hot client is decided inside the worker from
 * units leased from the primary, and a denied one is answered locally until it may pass.
 * A worker started before the primary serves decides in fallback (its limiter's `failureMode`)
 * until it is told the store is served; if the primary stops serving, the same, until it serves again.
 */
export class ClusterStore implements Store {
  readonly hasOwnClock = false;
  /** Shared by every worker on the host: leases and the denial cache are on by default (see `Store.shared`). */
  readonly shared = true;
  readonly prefix: string;
  readonly #callTimeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(clientId: string | undefined) => void>();
  readonly #onMessage = (message: unknown): void => this.#handle(message);
  readonly #onDisconnect = (): void => this.#lost('the IPC channel to the primary closed');
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

  constructor(options: ClusterStoreOptions = {}) {
    const o = checkPlainObject(options, 'ClusterStore options');
    checkKnownKeys(o, ['prefix', 'callTimeoutMs'], 'ClusterStore options');
    if (typeof process.send !== 'function') {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        'slidegate: new ClusterStore() must be created in a node:cluster worker (this process has no IPC channel); in the primary call ClusterStore.servePrimary()',
      );
    }
    const prefix = o.prefix ?? DEFAULT_PREFIX;
    if (typeof prefix !== 'string') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ClusterStore options.prefix must be a string; got ${describe(prefix)}`);
    this.prefix = prefix;
    const timeout = o.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (typeof timeout !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ClusterStore options.callTimeoutMs must be a number; got ${describe(timeout)}`);
    if (!Number.isFinite(timeout) || timeout < 1) throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ClusterStore options.callTimeoutMs must be >= 1; got ${describe(timeout)}`);
    this.#callTimeoutMs = timeout;
    process.on('message', this.#onMessage);
    process.on('disconnect', this.#onDisconnect);
    // A worker whose store is made after the primary's hello asks for it again.
    this.#post({ slidegate: PROTOCOL, kind: 'ping' });
  }

  /** True once the primary said it serves (and has not stopped since). */
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
    process.off('message', this.#onMessage);
    process.off('disconnect', this.#onDisconnect);
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
        pending.reject(new StoreError(`slidegate: ClusterStore ${op} could not reach the primary: ${error.message}`, { code: ErrorCodes.STORE_CONNECTION, cause: error }));
      });
      this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(this.#callTimeoutMs, 1000)).unref();
    });
  }

  #post(message: WorkerMessage, done: (error: Error | null) => void = () => undefined): void {
    try {
      (process.send as NonNullable<typeof process.send>)(message, undefined, {}, done);
    } catch (error) {
      done(error as Error);
    }
  }

  #handle(message: unknown): void {
    if (!isProtocolMessage(message)) return;
    const m = message as PrimaryMessage;
    switch (m.kind) {
      case 'reply': {
        const pending = this.#pending.get(m.id);
        if (pending === undefined) return;
        this.#pending.delete(m.id);
        if (m.error !== undefined) pending.reject(new StoreError(`slidegate: ClusterStore call failed on the primary: ${m.error}`));
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
        this.#lost('the primary stopped serving');
        return;
      case 'limit':
        if (m.prefix === this.prefix) this.#notify(m.clientId);
        return;
    }
  }

  #lost(why: string): void {
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
