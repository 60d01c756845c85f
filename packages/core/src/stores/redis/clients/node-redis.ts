import type { RedisClientAdapter, RedisCommandArg, RedisSendOptions, RedisSubscriber, RedisSubscriberEvents } from './adapter';

/** Delay before a subscriber that gave up is replaced by a fresh connection. */
const REOPEN_DELAY_MS = 250;

/** node-redis' RESP type of a bulk string ('$'), for its v5 `typeMapping`. */
const RESP_BLOB_STRING = 36;

/** The node-redis shapes slidegate tells apart; each sends commands its own way. */
export type NodeRedisKind = 'client' | 'cluster' | 'sentinel';

/** The parts of a node-redis client, cluster or sentinel that the adapter uses (v4 and v5 alike). */
interface NodeRedisLike {
  sendCommand(...args: unknown[]): Promise<unknown>;
  duplicate?(overrides?: Record<string, unknown>): NodeRedisConnection;
  withTypeMapping?: unknown;
  options?: Record<string, unknown>;
  _options?: Record<string, unknown>;
  masters?: unknown[];
  getMasters?(): unknown[];
  nodeClient?(node: unknown): NodeRedisConnection | Promise<NodeRedisConnection>;
  getMasterNode?: unknown;
  subscribe?(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe?(channel: string, listener: (message: string) => void): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
  isOpen?: boolean;
}

/** A standalone node-redis connection (a client, a duplicate, one node of a Cluster). */
interface NodeRedisConnection extends NodeRedisLike {
  connect(): Promise<unknown>;
  disconnect?(): Promise<unknown>;
  destroy?(): unknown;
  isOpen: boolean;
}

/** Which node-redis shape `client` is, or undefined when it is not node-redis (4 or 5). */
export function nodeRedisKind(client: unknown): NodeRedisKind | undefined {
  const c = client as Partial<NodeRedisLike> | null;
  if (typeof c !== 'object' || c === null || typeof c.sendCommand !== 'function' || !('isOpen' in c)) return undefined;
  if (typeof c.nodeClient === 'function') return 'cluster';
  if (typeof c.getMasterNode === 'function') return 'sentinel';
  if (typeof c.duplicate === 'function') return 'client';
  return undefined;
}

/** node-redis 5 has `withTypeMapping`; 4 asks for Buffers with `returnBuffers`. */
function majorVersion(client: NodeRedisLike): 4 | 5 {
  return typeof client.withTypeMapping === 'function' ? 5 : 4;
}

/** The client's own options where node-redis exposes them (a client's `options`, a v5 cluster's `_options.defaults`). */
export function nodeRedisOptions(client: unknown, kind: NodeRedisKind): Record<string, unknown> | undefined {
  const c = client as NodeRedisLike;
  if (kind === 'client') return c.options;
  if (kind === 'cluster') return (c._options?.defaults ?? (c.options as { defaults?: Record<string, unknown> } | undefined)?.defaults) as Record<string, unknown> | undefined;
  return undefined;
}

/**
 * node-redis 4 and 5: `createClient` (standalone), `createCluster` and, in 5, `createSentinel`.
 * Commands go through `sendCommand` (a Cluster routes by the first key given; a Sentinel sends to
 * the master). node-redis fails the commands in flight when a connection drops and never re-sends
 * them, so a check is never counted twice; with `disableOfflineQueue: true` it also never queues one.
 */
export class NodeRedisAdapter implements RedisClientAdapter {
  readonly name: string;
  readonly isCluster: boolean;
  readonly #client: NodeRedisLike;
  readonly #kind: NodeRedisKind;
  readonly #binaryOptions: Record<string, unknown>;
  readonly #textOptions: Record<string, unknown>;

  constructor(client: unknown, kind: NodeRedisKind) {
    this.#client = client as NodeRedisLike;
    this.#kind = kind;
    this.isCluster = kind === 'cluster';
    const major = majorVersion(this.#client);
    this.name = `node-redis ${major}${kind === 'client' ? '' : ` ${kind}`}`;
    // An explicit type mapping also overrides one the user set on the client (withTypeMapping).
    this.#binaryOptions = major === 5 ? { typeMapping: { [RESP_BLOB_STRING]: Buffer } } : { returnBuffers: true };
    this.#textOptions = major === 5 ? { typeMapping: {} } : { returnBuffers: false };
  }

  send(args: readonly RedisCommandArg[], options?: RedisSendOptions): Promise<unknown> {
    // node-redis takes strings and Buffers only.
    const strings = args.map(String);
    const commandOptions = options?.binary === true ? this.#binaryOptions : this.#textOptions;
    switch (this.#kind) {
      case 'cluster':
        return this.#client.sendCommand(options?.key, false, strings, commandOptions);
      case 'sentinel':
        return this.#client.sendCommand(false, strings, commandOptions);
      default:
        return this.#client.sendCommand(strings, commandOptions);
    }
  }

  subscribe(channel: string, events: RedisSubscriberEvents): RedisSubscriber {
    if (this.#kind === 'sentinel') return new SentinelSubscriber(this.#client, channel, events);
    return new NodeRedisSubscriber(this.#client, this.#kind === 'cluster', channel, events);
  }

  async close(): Promise<void> {
    const c = this.#client;
    await (c.close ?? c.quit)?.call(c);
  }
}

/**
 * A duplicate connection that SUBSCRIBEs: of the client itself, or on a Cluster of one master
 * node's connection (Cluster PUBLISH reaches every node). node-redis re-subscribes before it
 * reports 'ready' again, so a 'ready' after a drop means subscribed again.
 */
class NodeRedisSubscriber implements RedisSubscriber {
  readonly #source: NodeRedisLike;
  readonly #onClusterNode: boolean;
  readonly #channel: string;
  readonly #events: RedisSubscriberEvents;
  #connection: NodeRedisConnection | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(source: NodeRedisLike, onClusterNode: boolean, channel: string, events: RedisSubscriberEvents) {
    this.#source = source;
    this.#onClusterNode = onClusterNode;
    this.#channel = channel;
    this.#events = events;
    void this.#open();
  }

  get connection(): NodeRedisConnection | undefined {
    return this.#connection;
  }

  close(): void {
    this.#closed = true;
    if (this.#reopenTimer !== undefined) clearTimeout(this.#reopenTimer);
    this.#drop(this.#connection);
  }

  async #open(): Promise<void> {
    this.#reopenTimer = undefined;
    if (this.#closed) return;
    let connection: NodeRedisConnection;
    try {
      connection = await this.#makeConnection();
    } catch {
      this.#scheduleReopen();
      return;
    }
    if (this.#closed) return;
    this.#connection = connection;
    let subscribed = false;
    const current = (): boolean => connection === this.#connection && !this.#closed;
    connection.on?.('error', () => {
      if (!current()) return;
      this.#events.dropped();
      // A connection that will not reconnect (a Cluster node's, or reconnectStrategy false) is replaced.
      setImmediate(() => {
        if (current() && !connection.isOpen) this.#scheduleReopen();
      });
    });
    connection.on?.('reconnecting', () => {
      if (current()) this.#events.dropped();
    });
    connection.on?.('end', () => {
      if (current()) this.#scheduleReopen();
    });
    connection.on?.('ready', () => {
      if (current() && subscribed) this.#events.subscribed();
    });
    try {
      await connection.connect();
      await connection.subscribe?.(this.#channel, (message: string) => {
        if (current()) this.#events.message(message);
      });
      subscribed = true;
      if (current()) this.#events.subscribed();
    } catch {
      if (current()) this.#scheduleReopen();
    }
  }

  async #makeConnection(): Promise<NodeRedisConnection> {
    // A subscriber may queue its SUBSCRIBE (clients made safe for decisions turn the queue off).
    if (!this.#onClusterNode) return (this.#source.duplicate as (o: Record<string, unknown>) => NodeRedisConnection)({ disableOfflineQueue: false });
    const masters = this.#source.masters ?? this.#source.getMasters?.() ?? [];
    const node = masters[Math.floor(Math.random() * masters.length)];
    if (node === undefined || this.#source.nodeClient === undefined) throw new Error('no Cluster node');
    const nodeClient = await this.#source.nodeClient(node);
    const socket = (nodeClient.options?.socket ?? {}) as Record<string, unknown>;
    // A node's connection does not reconnect: when it fails, another node is picked (it may be gone).
    return (nodeClient.duplicate as (o: Record<string, unknown>) => NodeRedisConnection)({
      disableOfflineQueue: false,
      socket: { ...socket, reconnectStrategy: false },
    });
  }

  #scheduleReopen(): void {
    if (this.#closed || this.#reopenTimer !== undefined) return;
    this.#drop(this.#connection);
    this.#reopenTimer = setTimeout(() => void this.#open(), REOPEN_DELAY_MS);
    this.#reopenTimer.unref();
  }

  #drop(connection: NodeRedisConnection | undefined): void {
    if (connection === undefined) return;
    if (connection === this.#connection) this.#connection = undefined;
    connection.on?.('error', () => undefined);
    if (connection.destroy !== undefined) connection.destroy();
    else if (connection.isOpen) connection.disconnect?.().catch(() => undefined);
  }
}

/**
 * node-redis 5 `createSentinel`: the Sentinel object keeps its own pub/sub connection on the
 * current master and moves it after a failover. A topology change or an error is reported as a
 * drop, and the subscription is renewed (UNSUBSCRIBE, SUBSCRIBE) to learn when it holds again.
 */
class SentinelSubscriber implements RedisSubscriber {
  readonly #sentinel: NodeRedisLike;
  readonly #channel: string;
  readonly #events: RedisSubscriberEvents;
  readonly #listener = (message: string): void => {
    if (!this.#closed) this.#events.message(message);
  };
  readonly #onTrouble = (): void => this.#renew();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(sentinel: NodeRedisLike, channel: string, events: RedisSubscriberEvents) {
    this.#sentinel = sentinel;
    this.#channel = channel;
    this.#events = events;
    sentinel.on?.('error', this.#onTrouble);
    sentinel.on?.('topology-change', this.#onTrouble);
    this.#subscribe();
  }

  get connection(): unknown {
    return this.#sentinel;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#sentinel.off?.('error', this.#onTrouble);
    this.#sentinel.off?.('topology-change', this.#onTrouble);
    this.#sentinel.unsubscribe?.(this.#channel, this.#listener).catch(() => undefined);
  }

  #subscribe(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    (this.#sentinel.subscribe as NonNullable<NodeRedisLike['subscribe']>)(this.#channel, this.#listener).then(
      () => {
        if (!this.#closed) this.#events.subscribed();
      },
      () => this.#renew(),
    );
  }

  #renew(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#events.dropped();
    this.#timer = setTimeout(() => {
      this.#sentinel.unsubscribe?.(this.#channel, this.#listener).then(
        () => this.#subscribe(),
        () => {
          this.#timer = undefined;
          this.#renew();
        },
      );
    }, REOPEN_DELAY_MS);
    this.#timer.unref();
  }
}
